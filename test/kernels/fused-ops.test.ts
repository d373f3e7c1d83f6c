/**
 * The fused layer ops conv2dBiasRelu and matmulBiasRelu: forward values
 * against naive loops written here (float64), float32 results equal to the
 * unfused chain of ops they replace (relu(biasAdd(conv2d | matmul))), their
 * gradients built from the expected ops and equal to the unfused chain's,
 * float64 gradient checks, and shape errors.
 */
import { describe, expect, it } from 'vitest';
import { Graph, Session, ShapeError, gradients, type Node, type Tensor } from '@ndgraph/graph';
import {
  biasAdd, biasAddGradOp, conv2d, conv2dBackpropFilterOp, conv2dBackpropInputOp, conv2dBiasRelu, conv2dBiasReluOp,
  matmul, matmulBiasRelu, matmulBiasReluOp, matmulOp, maxPool, maxPoolGradOp, relu, reluGradOp, sum,
} from '@ndgraph/ops';
import { evaluate, expectClose, expectGradcheck, randomTensor, toArray } from '../helpers.ts';

type Padding = 'same' | 'valid';

/** Direct convolution plus bias, then relu; cells outside the image count as 0. */
function naiveConvBiasRelu(x: Tensor, w: Tensor, b: Tensor, stride: number, padding: Padding): number[] {
  const [N, H, W, C] = x.shape;
  const [kh, kw, , F] = w.shape;
  const [xv, wv, bv] = [toArray(x), toArray(w), toArray(b)];
  const out = (n: number, k: number) => (padding === 'valid' ? Math.floor((n - k) / stride) + 1 : Math.ceil(n / stride));
  const before = (n: number, k: number) => (padding === 'valid' ? 0 : Math.floor(Math.max((out(n, k) - 1) * stride + k - n, 0) / 2));
  const values: number[] = [];
  for (let n = 0; n < N; n++)
    for (let oh = 0; oh < out(H, kh); oh++)
      for (let ow = 0; ow < out(W, kw); ow++)
        for (let f = 0; f < F; f++) {
          let s = bv[f];
          for (let i = 0; i < kh; i++)
            for (let j = 0; j < kw; j++)
              for (let c = 0; c < C; c++) {
                const h = oh * stride - before(H, kh) + i;
                const v = ow * stride - before(W, kw) + j;
                if (h >= 0 && h < H && v >= 0 && v < W) s += xv[((n * H + h) * W + v) * C + c] * wv[((i * kw + j) * C + c) * F + f];
              }
          values.push(Math.max(0, s));
        }
  return values;
}

function naiveDenseRelu(x: Tensor, w: Tensor, b: Tensor): number[] {
  const [N, K] = x.shape;
  const M = w.shape[1];
  const [xv, wv, bv] = [toArray(x), toArray(w), toArray(b)];
  const values: number[] = [];
  for (let n = 0; n < N; n++)
    for (let m = 0; m < M; m++) {
      let s = bv[m];
      for (let k = 0; k < K; k++) s += xv[n * K + k] * wv[k * M + m];
      values.push(Math.max(0, s));
    }
  return values;
}

/** Runs the fused and the unfused graph on the same float32 inputs; returns [fused, unfused] value and gradients. */
function fusedAndUnfused(fused: (x: Node, w: Node, b: Node) => Node, unfused: (x: Node, w: Node, b: Node) => Node, inputs: Tensor[]): Tensor[][] {
  return [fused, unfused].map((build) => {
    const g = new Graph();
    const [x, w, b] = inputs.map((t, i) => g.placeholder(`in${i}`, t.shape, 'float32'));
    const y = build(x, w, b);
    const loss = sum(y);
    const grads = gradients(loss, [x, w, b]);
    return new Session(g).run([y, ...grads], new Map([[x, inputs[0]], [w, inputs[1]], [b, inputs[2]]]));
  });
}

describe('conv2dBiasRelu (fused conv2d + bias + relu)', () => {
  for (const [stride, padding, shape, filter] of [
    [1, 'same', [2, 7, 6, 1], [5, 5, 1, 6]],
    [1, 'valid', [3, 8, 8, 6], [5, 5, 6, 16]],
    [2, 'same', [2, 5, 7, 3], [3, 3, 3, 5]],
  ] as [number, Padding, number[], number[]][]) {
    const label = `x [${shape}] filter [${filter}] stride ${stride} ${padding}`;
    it(`matches naive loops in float64 and the unfused ops in float32: ${label}`, () => {
      const x = randomTensor(shape, 1);
      const w = randomTensor(filter, 2);
      const b = randomTensor([filter[3]], 3, -0.5, 0.5);
      const y = evaluate((p, q, r) => conv2dBiasRelu(p, q, r, { strides: stride, padding }), [x, w, b]);
      expectClose(y, naiveConvBiasRelu(x, w, b, stride, padding), 1e-12);

      const f32 = [randomTensor(shape, 4, -1, 1, 'float32'), randomTensor(filter, 5, -1, 1, 'float32'), randomTensor([filter[3]], 6, -0.5, 0.5, 'float32')];
      const [fused, unfused] = fusedAndUnfused(
        (p, q, r) => conv2dBiasRelu(p, q, r, { strides: stride, padding }),
        (p, q, r) => relu(biasAdd(conv2d(p, q, { strides: stride, padding }), r)),
        f32,
      );
      // Same kernels, same rounding: the forward value is identical; gradients agree to float32 rounding.
      expect(toArray(fused[0])).toEqual(toArray(unfused[0]));
      for (let i = 1; i < 4; i++) expectClose(fused[i], toArray(unfused[i]), 1e-5);
    });

    it(`passes the float64 gradient check: ${label}`, () => {
      expectGradcheck(`conv2dBiasRelu ${label}`, (p, q, r) => conv2dBiasRelu(p, q, r, { strides: stride, padding }), [
        randomTensor(shape, 7),
        randomTensor(filter, 8),
        randomTensor([filter[3]], 9, -0.5, 0.5),
      ]);
    });
  }

  it('is one node whose gradients are reluGrad, then the conv backprops and biasAddGrad', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 6, 6, 2]);
    const w = g.placeholder('w', [3, 3, 2, 4]);
    const b = g.placeholder('b', [4]);
    const y = conv2dBiasRelu(x, w, b, { padding: 'same' }, 'layer');
    expect(y.op).toBe(conv2dBiasReluOp.def);
    expect(y.name).toBe('layer');
    expect(y.shape).toEqual([-1, 6, 6, 4]);
    const [gx, gw, gb] = gradients(sum(y), [x, w, b]);
    expect(gx.op).toBe(conv2dBackpropInputOp.def);
    expect(gw.op).toBe(conv2dBackpropFilterOp.def);
    expect(gb.op).toBe(biasAddGradOp.def);
    expect(gx.inputs[0].op).toBe(reluGradOp.def);
    expect(gx.inputs[0].inputs[1]).toBe(y); // the mask is read from the output
  });

  it('followed by a max pool: its gradient takes the pool gradient with the relu mask in the same pass', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 8, 8, 3]);
    const w = g.placeholder('w', [3, 3, 3, 6]);
    const b = g.placeholder('b', [6]);
    const y = conv2dBiasRelu(x, w, b, { padding: 'same' });
    const [gx, gw] = gradients(sum(maxPool(y, { ksize: 2 })), [x, w]);
    const dz = gx.inputs[0];
    expect(dz.op).toBe(maxPoolGradOp.def);
    expect(dz.attrs).toMatchObject({ ksize: [2, 2], positiveOnly: true });
    expect(dz.inputs[1]).toBe(y);
    expect(gw.inputs[1]).toBe(dz);
    // The same gradients as the unfused chain, which takes reluGrad after maxPoolGrad.
    const f32 = [randomTensor([2, 8, 8, 3], 11, -1, 1, 'float32'), randomTensor([3, 3, 3, 6], 12, -1, 1, 'float32'), randomTensor([6], 13, -0.5, 0.5, 'float32')];
    const [fused, unfused] = fusedAndUnfused(
      (p, q, r) => maxPool(conv2dBiasRelu(p, q, r, { padding: 'same' }), { ksize: 2 }),
      (p, q, r) => maxPool(relu(biasAdd(conv2d(p, q, { padding: 'same' }), r)), { ksize: 2 }),
      f32,
    );
    expect(toArray(fused[0])).toEqual(toArray(unfused[0]));
    for (let i = 1; i < 4; i++) expectClose(fused[i], toArray(unfused[i]), 1e-5);
    // And in float64, against finite differences.
    expectGradcheck('maxPool(conv2dBiasRelu)', (p, q, r) => maxPool(conv2dBiasRelu(p, q, r, { padding: 'same' }), { ksize: 2 }), [
      randomTensor([2, 6, 6, 2], 14), randomTensor([3, 3, 2, 4], 15), randomTensor([4], 16, -0.5, 0.5),
    ]);
  });

  it('rejects a bias that does not match the output channels', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 6, 6, 2]);
    const w = g.placeholder('w', [3, 3, 2, 4]);
    expect(() => conv2dBiasRelu(x, w, g.placeholder('b', [3]), { padding: 'same' })).toThrow(ShapeError);
    expect(() => conv2dBiasRelu(x, w, g.placeholder('b2', [3]), { padding: 'same' })).toThrow(/bias must have shape \[4\] \(the filter's output channels\), found \[3\]/);
  });
});

describe('matmulBiasRelu (fused matmul + bias + relu)', () => {
  for (const [n, k, m] of [[1, 1, 1], [5, 7, 3], [64, 400, 120], [13, 84, 10]]) {
    const label = `[${n},${k}]·[${k},${m}]`;
    it(`matches naive loops in float64 and the unfused ops in float32: ${label}`, () => {
      const x = randomTensor([n, k], 11);
      const w = randomTensor([k, m], 12);
      const b = randomTensor([m], 13, -0.5, 0.5);
      expectClose(evaluate((p, q, r) => matmulBiasRelu(p, q, r), [x, w, b]), naiveDenseRelu(x, w, b), 1e-12);

      const f32 = [randomTensor([n, k], 14, -1, 1, 'float32'), randomTensor([k, m], 15, -1, 1, 'float32'), randomTensor([m], 16, -0.5, 0.5, 'float32')];
      const [fused, unfused] = fusedAndUnfused((p, q, r) => matmulBiasRelu(p, q, r), (p, q, r) => relu(biasAdd(matmul(p, q), r)), f32);
      // Equal up to float32 rounding: the bias joins the sum at a different point when K is split
      // into blocks, and tiny unfused products run in JavaScript, which sums in another order.
      for (let i = 0; i < 4; i++) expectClose(fused[i], toArray(unfused[i]), 1e-5);
    });
  }

  it('passes the float64 gradient check', () => {
    expectGradcheck('matmulBiasRelu', (p, q, r) => matmulBiasRelu(p, q, r), [randomTensor([4, 6], 21), randomTensor([6, 5], 22), randomTensor([5], 23, -0.5, 0.5)]);
  });

  it('is one node whose gradients are reluGrad, then matmuls and biasAddGrad', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 6]);
    const w = g.placeholder('w', [6, 5]);
    const b = g.placeholder('b', [5]);
    const y = matmulBiasRelu(x, w, b);
    expect(y.op).toBe(matmulBiasReluOp.def);
    expect(y.shape).toEqual([-1, 5]);
    const [gx, gw, gb] = gradients(sum(y), [x, w, b]);
    expect([gx.op, gw.op, gb.op]).toEqual([matmulOp.def, matmulOp.def, biasAddGradOp.def]);
    expect(gb.inputs[0].op).toBe(reluGradOp.def);
  });

  it('rejects mismatched inner dimensions and biases', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 6]);
    expect(() => matmulBiasRelu(x, g.placeholder('w', [5, 5]), g.placeholder('b', [5]))).toThrow(/inner dimensions do not match: x \[\?,6\] · w \[5,5\] \(6 vs 5\)/);
    expect(() => matmulBiasRelu(x, g.placeholder('w2', [6, 5]), g.placeholder('b2', [4]))).toThrow(/bias must have shape \[5\] \(w's columns\), found \[4\]/);
  });
});
