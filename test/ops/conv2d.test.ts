import { describe, it, expect } from 'vitest';
import { conv2d, conv2dBackpropFilter, conv2dBackpropInput } from '@ndgraph/ops';
import { conv2dBackpropFilterOp, conv2dBackpropInputOp, conv2dOp } from '@ndgraph/ops/kernels';
import { DTypeError, Graph, GraphError, ShapeError, Session, gradients, onesLike, type Node, type Tensor } from '@ndgraph/graph';
import { evaluate, expectClose, expectGradcheck, randomTensor, tensor, toArray } from '../helpers.ts';

type Padding = 'same' | 'valid';

/** Output size and padding before, written out independently of the library (TensorFlow's rule). */
function geometry(inSize: number, k: number, stride: number, padding: Padding): { out: number; before: number } {
  if (padding === 'valid') return { out: Math.floor((inSize - k) / stride) + 1, before: 0 };
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + k - inSize, 0);
  return { out, before: Math.floor(total / 2) };
}

/** Direct convolution, seven loops, cells outside the image count as 0. Returns values and shape. */
function naiveConv2d(x: Tensor, w: Tensor, strides: [number, number], padding: Padding): { values: number[]; shape: number[] } {
  const [N, H, W, C] = x.shape;
  const [kh, kw, , F] = w.shape;
  const xv = toArray(x);
  const wv = toArray(w);
  const gh = geometry(H, kh, strides[0], padding);
  const gw = geometry(W, kw, strides[1], padding);
  const values: number[] = [];
  for (let n = 0; n < N; n++)
    for (let oh = 0; oh < gh.out; oh++)
      for (let ow = 0; ow < gw.out; ow++)
        for (let f = 0; f < F; f++) {
          let s = 0;
          for (let i = 0; i < kh; i++)
            for (let j = 0; j < kw; j++)
              for (let c = 0; c < C; c++) {
                const h = oh * strides[0] - gh.before + i;
                const v = ow * strides[1] - gw.before + j;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                s += xv[((n * H + h) * W + v) * C + c] * wv[((i * kw + j) * C + c) * F + f];
              }
          values.push(s);
        }
  return { values, shape: [N, gh.out, gw.out, F] };
}

/** Direct gradients of sum(dy ⊙ conv2d(x, w)) with respect to x and w. */
function naiveConv2dGrads(x: Tensor, w: Tensor, dy: Tensor, strides: [number, number], padding: Padding): { dx: number[]; dw: number[] } {
  const [N, H, W, C] = x.shape;
  const [kh, kw, , F] = w.shape;
  const [, Ho, Wo] = dy.shape;
  const xv = toArray(x);
  const wv = toArray(w);
  const dyv = toArray(dy);
  const top = geometry(H, kh, strides[0], padding).before;
  const left = geometry(W, kw, strides[1], padding).before;
  const dx = new Array<number>(xv.length).fill(0);
  const dw = new Array<number>(wv.length).fill(0);
  for (let n = 0; n < N; n++)
    for (let oh = 0; oh < Ho; oh++)
      for (let ow = 0; ow < Wo; ow++)
        for (let f = 0; f < F; f++)
          for (let i = 0; i < kh; i++)
            for (let j = 0; j < kw; j++)
              for (let c = 0; c < C; c++) {
                const h = oh * strides[0] - top + i;
                const v = ow * strides[1] - left + j;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                const g = dyv[((n * Ho + oh) * Wo + ow) * F + f];
                dx[((n * H + h) * W + v) * C + c] += g * wv[((i * kw + j) * C + c) * F + f];
                dw[((i * kw + j) * C + c) * F + f] += g * xv[((n * H + h) * W + v) * C + c];
              }
  return { dx, dw };
}

interface Config {
  x: [number, number, number, number];
  w: [number, number, number, number];
  strides: [number, number];
  padding: Padding;
}

const goldenConfigs: Config[] = [
  { x: [1, 5, 7, 1], w: [3, 3, 1, 1], strides: [1, 1], padding: 'same' },
  { x: [2, 6, 5, 3], w: [3, 3, 3, 4], strides: [1, 1], padding: 'valid' },
  { x: [2, 7, 6, 2], w: [3, 3, 2, 3], strides: [2, 2], padding: 'same' },
  { x: [2, 8, 9, 2], w: [3, 3, 2, 3], strides: [2, 2], padding: 'valid' },
  { x: [2, 7, 6, 2], w: [5, 5, 2, 3], strides: [1, 1], padding: 'same' },
  { x: [1, 9, 7, 3], w: [5, 5, 3, 2], strides: [2, 2], padding: 'valid' },
  { x: [1, 9, 8, 3], w: [1, 1, 3, 2], strides: [1, 1], padding: 'valid' },
  { x: [2, 5, 6, 2], w: [1, 1, 2, 3], strides: [2, 2], padding: 'same' },
  { x: [1, 8, 7, 2], w: [3, 5, 2, 2], strides: [2, 1], padding: 'same' },
  { x: [3, 4, 4, 2], w: [5, 5, 2, 2], strides: [1, 1], padding: 'same' },
  { x: [1, 11, 10, 1], w: [5, 5, 1, 6], strides: [2, 3], padding: 'same' },
];
const describeConfig = (c: Config) => `x [${c.x}] filter [${c.w}] strides [${c.strides}] ${c.padding}`;

describe('conv2d', () => {
  it('a 3×3 image and a 2×2 filter, by hand', () => {
    const x = tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    const w = tensor([1, 2, 3, 4], [2, 2, 1, 1]);
    // valid: 1·1+2·2+4·3+5·4 = 37, 2+6+15+24 = 47, 4+10+21+32 = 67, 5+12+24+36 = 77
    expectClose(
      evaluate((p, q) => conv2d(p, q, { padding: 'valid' }), [x, w]),
      [37, 47, 67, 77],
    );
    // same, stride 2: out 2×2, padding only after: 37; 3·1+6·3 = 21; 7·1+8·2 = 23; 9·1 = 9
    expectClose(
      evaluate((p, q) => conv2d(p, q, { strides: 2, padding: 'same' }), [x, w]),
      [37, 21, 23, 9],
    );
  });

  for (const c of goldenConfigs) {
    it(`matches a direct 7-loop convolution: ${describeConfig(c)}`, () => {
      for (const dtype of ['float64', 'float32'] as const) {
        const x = randomTensor(c.x, 3, -1, 1, dtype);
        const w = randomTensor(c.w, 4, -1, 1, dtype);
        const y = evaluate((p, q) => conv2d(p, q, { strides: c.strides, padding: c.padding }), [x, w]);
        const expected = naiveConv2d(x, w, c.strides, c.padding);
        expect(y.shape).toEqual(expected.shape);
        expectClose(y, expected.values, dtype === 'float32' ? 1e-5 : 1e-12);
      }
    });
    it(`backprop ops match direct gradients: ${describeConfig(c)}`, () => {
      const x = randomTensor(c.x, 5);
      const w = randomTensor(c.w, 6);
      const outShape = naiveConv2d(x, w, c.strides, c.padding).shape;
      const dy = randomTensor(outShape, 7);
      const opts = { strides: c.strides, padding: c.padding };
      const expected = naiveConv2dGrads(x, w, dy, c.strides, c.padding);
      expectClose(
        evaluate((d, q, p) => conv2dBackpropInput(d, q, p, opts), [dy, w, x]),
        expected.dx,
        1e-12,
      );
      expectClose(
        evaluate((d, p, q) => conv2dBackpropFilter(d, p, q, opts), [dy, x, w]),
        expected.dw,
        1e-12,
      );
    });
  }

  it('large batches are processed in chunks with the same results (forward and both backprops)', () => {
    // One image's im2col matrix is 40·40 × 5·5·32 = 1.28M entries, so each image is its own chunk.
    const c: Config = { x: [3, 40, 40, 32], w: [5, 5, 32, 2], strides: [1, 1], padding: 'same' };
    const x = randomTensor(c.x, 8, -1, 1, 'float32');
    const w = randomTensor(c.w, 9, -1, 1, 'float32');
    const dy = randomTensor([3, 40, 40, 2], 10, -1, 1, 'float32');
    const opts = { strides: c.strides, padding: c.padding };
    expectClose(
      evaluate((p, q) => conv2d(p, q, opts), [x, w]),
      naiveConv2d(x, w, c.strides, c.padding).values,
      1e-4,
    );
    const expected = naiveConv2dGrads(x, w, dy, c.strides, c.padding);
    expectClose(
      evaluate((d, q, p) => conv2dBackpropInput(d, q, p, opts), [dy, w, x]),
      expected.dx,
      1e-4,
    );
    expectClose(
      evaluate((d, p, q) => conv2dBackpropFilter(d, p, q, opts), [dy, x, w]),
      expected.dw,
      1e-4,
    );
  });

  it('shape rule: unknown batch, output size, channel check', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 28, 28, 1]);
    const w1 = g.placeholder('w1', [5, 5, 1, 6]);
    expect(conv2d(x, w1, { padding: 'valid' }).shape).toEqual([-1, 24, 24, 6]);
    expect(conv2d(x, w1, { padding: 'same' }).shape).toEqual([-1, 28, 28, 6]);
    expect(conv2d(x, w1, { strides: [2, 3], padding: 'same' }).shape).toEqual([-1, 14, 10, 6]);
    const h = g.placeholder('h', [-1, 14, 14, 6]);
    const w2 = g.placeholder('w2', [5, 5, 3, 16]);
    expect(() => conv2d(h, w2, { padding: 'valid' })).toThrow(ShapeError);
    expect(() => g.scope('conv2', () => conv2d(h, w2, { padding: 'valid' }))).toThrow(
      /conv2\/conv2d \(op conv2d, inputs \[\?,14,14,6\] float32, \[5,5,3,16\] float32\): input channels 6 do not match filter \[5,5,3,16\]/,
    );
    const small = g.placeholder('small', [1, 3, 8, 1]);
    expect(() => conv2d(small, w1, { padding: 'valid' })).toThrow(/input height 3 is smaller than the window height 5/);
    expect(conv2d(small, w1, { padding: 'same' }).shape).toEqual([1, 3, 8, 6]);
    expect(() => conv2d(g.placeholder('flat', [4, 784]), w1, { padding: 'same' })).toThrow(/input must have rank 4/);
  });

  it('bad attributes and dtypes are rejected', () => {
    const g = new Graph();
    const x = g.placeholder('x', [1, 5, 5, 1]);
    const w = g.placeholder('w', [3, 3, 1, 1]);
    expect(() => conv2d(x, w, { strides: 0, padding: 'same' })).toThrow(GraphError);
    expect(() => conv2d(x, w, { strides: [1, 1.5] as [number, number], padding: 'same' })).toThrow(/strides must be a positive integer/);
    expect(() => conv2d(x, w, { padding: 'full' as Padding })).toThrow(/padding must be 'same' or 'valid'/);
    expect(() => conv2dOp([x, w], { strides: 1 as unknown as [number, number], padding: 'same' })).toThrow(/attrs.strides must be a pair/);
    expect(() => conv2d(x, g.placeholder('w64', [3, 3, 1, 1], 'float64'), { padding: 'same' })).toThrow(DTypeError);
  });

  it('backprop ops check that dy has the conv2d output shape', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 8, 8, 2]);
    const w = g.placeholder('w', [3, 3, 2, 4]);
    const dy = g.placeholder('dy', [-1, 4, 4, 4]);
    expect(conv2dBackpropInput(dy, w, x, { strides: 2, padding: 'same' }).shape).toEqual([-1, 8, 8, 2]);
    expect(conv2dBackpropFilter(dy, x, w, { strides: 2, padding: 'same' }).shape).toEqual([3, 3, 2, 4]);
    expect(() => conv2dBackpropInput(dy, w, x, { padding: 'same' })).toThrow(/dy must have the conv2d output shape \[\?,8,8,4\], found \[\?,4,4,4\]/);
    expect(() => conv2dBackpropFilter(dy, x, w, { padding: 'valid' })).toThrow(ShapeError);
  });

  it('the 1×1 stride-1 path (no im2col) runs in float32 with the engine', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 2, 2, 2]);
    const w = g.variable('w', tensor([1, 2, 3, 4, 5, 6], [1, 1, 2, 3]));
    const y = conv2d(x, w, { padding: 'same' });
    const out = new Session(g).run(y, [[x, tensor([1, 0, 0, 1, 1, 1, 2, -1], [1, 2, 2, 2])]]);
    // pixel (a, b) ↦ a·[1,2,3] + b·[4,5,6]
    expectClose(out, [1, 2, 3, 4, 5, 6, 5, 7, 9, -2, -1, 0]);
  });

  const gradConfigs: Config[] = [
    { x: [2, 5, 5, 3], w: [3, 3, 3, 4], strides: [1, 1], padding: 'same' },
    { x: [1, 7, 6, 2], w: [3, 2, 2, 3], strides: [2, 2], padding: 'valid' },
    { x: [2, 6, 6, 1], w: [5, 5, 1, 2], strides: [1, 1], padding: 'same' },
    { x: [1, 6, 7, 2], w: [3, 3, 2, 2], strides: [2, 3], padding: 'same' },
    { x: [2, 4, 3, 2], w: [1, 1, 2, 3], strides: [1, 1], padding: 'valid' },
  ];
  for (const c of gradConfigs) {
    const opts = { strides: c.strides, padding: c.padding };
    it(`gradcheck conv2d w.r.t. x and filter: ${describeConfig(c)}`, () => {
      expectGradcheck(`conv2d ${describeConfig(c)}`, (p, q) => conv2d(p, q, opts), [randomTensor(c.x, 11), randomTensor(c.w, 12)]);
    });
    it(`gradcheck conv2dBackpropInput w.r.t. dy and filter, conv2dBackpropFilter w.r.t. x and dy: ${describeConfig(c)}`, () => {
      const x = randomTensor(c.x, 13);
      const w = randomTensor(c.w, 14);
      const dy = randomTensor(naiveConv2d(x, w, c.strides, c.padding).shape, 15);
      expectGradcheck(`conv2dBackpropInput ${describeConfig(c)}`, (d, q, p) => conv2dBackpropInput(d, q, p, opts), [dy, w, x], { wrt: [0, 1] });
      expectGradcheck(`conv2dBackpropFilter ${describeConfig(c)}`, (d, p, q) => conv2dBackpropFilter(d, p, q, opts), [dy, x, w], { wrt: [0, 1] });
    });
  }

  it('gradient nodes are the backprop ops, and theirs are conv ops again', () => {
    const g = new Graph();
    const x = g.placeholder('x', [1, 5, 5, 2], 'float64');
    const w = g.placeholder('w', [3, 3, 2, 2], 'float64');
    const y = conv2d(x, w, { padding: 'same' });
    const [gx, gw] = gradients(y, [x, w], { dy: onesLike([y]) });
    expect(gx.op).toBe(conv2dBackpropInputOp.def);
    expect(gw.op).toBe(conv2dBackpropFilterOp.def);
    expect(gx.attrs).toEqual({ strides: [1, 1], padding: 'same' });
  });

  it('second order: the gradient of ½‖conv2d(x, w)‖² w.r.t. w differentiates again', () => {
    // With dy = y, gradients(y, [w]) is conv2dBackpropFilter(conv2d(x, w), x), which depends on x and w twice.
    const build = (x: Node, w: Node) => {
      const y = conv2d(x, w, { strides: 2, padding: 'same' });
      return gradients(y, [w], { dy: y })[0];
    };
    expectGradcheck('conv2d second order', build, [randomTensor([1, 5, 6, 2], 16), randomTensor([3, 3, 2, 2], 17)]);
  });
});
