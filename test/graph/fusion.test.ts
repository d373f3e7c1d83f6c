/**
 * Fusion, the planner's rewrite pass: the plain chains conv2d → biasAdd →
 * relu and matmul → biasAdd → relu run as one fused kernel, and maxPoolGrad
 * followed by reluGrad as one pass, unless something needs a node inside
 * (fetched, fed or hooked, or another consumer). Checked here: the fused
 * kernels against naive loops (float64), fused plans against unfused ones
 * (`fusion: false`) on the same graph, which steps run, and that hooks fire
 * on every node of a training run with fusion on.
 */
import { describe, expect, it } from 'vitest';
import { Graph, Session, ShapeError, gradients, allGradients, topologicalOrder, type Node, type Tensor } from '@ndgraph/graph';
import { batchNorm, biasAdd, conv2d, matmul, maxPool, mul, relu, softmaxCrossEntropy, sum, tanh } from '@ndgraph/ops';
import { conv2dBiasReluOp, conv2dAttrs, matmulBiasReluOp } from '@ndgraph/ops/kernels';
import { lenet5 } from '@ndgraph/nn';
import { evaluate, expectClose, randomTensor, tensor, toArray } from '../helpers.ts';
import { lenetInference } from '../lenet-inference.ts';

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

/** Runs the chain's value and the gradients of sum(chain) with fusion on and off; returns [fused, unfused] tensors and the ops each ran. */
function withAndWithoutFusion(build: (x: Node, w: Node, b: Node) => Node, inputs: Tensor[]): { values: Tensor[][]; ran: string[][] } {
  const g = new Graph();
  const [x, w, b] = inputs.map((t, i) => g.placeholder(`in${i}`, t.shape, 'float32'));
  const y = build(x, w, b);
  const grads = gradients(sum(y), [x, w, b]);
  const feeds = new Map([
    [x, inputs[0]],
    [w, inputs[1]],
    [b, inputs[2]],
  ]);
  const ran: string[][] = [];
  const values = [true, false].map((fusion) => {
    const ops: string[] = [];
    const out = new Session(g, { fusion }).run([y, ...grads], feeds, { training: true, onTime: (_node, _ms, op) => ops.push(op.name) });
    ran.push(ops);
    return out;
  });
  return { values, ran };
}

const convLayer = (stride: number, padding: Padding) => (p: Node, q: Node, r: Node) => relu(biasAdd(conv2d(p, q, { strides: stride, padding }), r));

describe('batchNorm → relu runs as batchNormRelu', () => {
  /** A conv → batchNorm → relu → maxPool layer on a fresh graph; its values, gradients, running averages and the ops it ran. */
  function normalizedLayer(fusion: boolean, training: boolean, fetchNormalized = false) {
    const g = new Graph();
    const x = g.placeholder('x', [3, 6, 6, 5], 'float32');
    const channel = (name: string, seed: number, lo: number, hi: number, trainable = true) =>
      g.variable(name, randomTensor([5], seed, lo, hi, 'float32'), { trainable });
    const [gamma, beta] = [channel('gamma', 21, 0.5, 1.5), channel('beta', 22, -0.5, 0.5)];
    const [mean, variance] = [channel('mean', 23, -0.2, 0.2, false), channel('variance', 24, 0.5, 2, false)];
    const normalized = batchNorm(x, gamma, beta, mean, variance);
    const y = maxPool(relu(normalized), { ksize: 2 });
    const grads = gradients(sum(mul(y, y)), [x, gamma, beta]);
    const ops: string[] = [];
    const fetches = fetchNormalized ? [y, ...grads, normalized] : [y, ...grads];
    const out = new Session(g, { fusion }).run(fetches, [[x, randomTensor([3, 6, 6, 5], 25, -2, 2, 'float32')]], {
      training,
      onTime: (_node, _ms, op) => ops.push(op.name),
    });
    return { values: [...out, g.valueOf(mean), g.valueOf(variance)].map(toArray), ops };
  }
  for (const training of [true, false]) {
    it(`${training ? 'training' : 'eval'}: the same bits as the two ops, the running averages updated once`, () => {
      const fused = normalizedLayer(true, training);
      const plain = normalizedLayer(false, training);
      expect(fused.values).toEqual(plain.values);
      expect(fused.ops).toContain('batchNormRelu');
      expect(fused.ops).not.toContain('relu');
      expect(fused.ops).not.toContain('batchNorm');
      expect(plain.ops).toEqual(expect.arrayContaining(['batchNorm', 'relu']));
    });
  }
  it('a fetched batchNorm output stays a node of its own', () => {
    const { ops } = normalizedLayer(true, true, true);
    expect(ops).toEqual(expect.arrayContaining(['batchNorm', 'relu']));
    expect(ops).not.toContain('batchNormRelu');
  });
});

describe('conv2d → biasAdd → relu runs as conv2dBiasRelu', () => {
  for (const [stride, padding, shape, filter] of [
    [1, 'same', [2, 7, 6, 1], [5, 5, 1, 6]],
    [1, 'valid', [3, 8, 8, 6], [5, 5, 6, 16]],
    [2, 'same', [2, 5, 7, 3], [3, 3, 3, 5]],
  ] as [number, Padding, number[], number[]][]) {
    const label = `x [${shape}] filter [${filter}] stride ${stride} ${padding}`;
    it(`the fused kernel matches naive loops in float64, and the fused plan the unfused one bit for bit: ${label}`, () => {
      const x = randomTensor(shape, 1);
      const w = randomTensor(filter, 2);
      const b = randomTensor([filter[3]], 3, -0.5, 0.5);
      const direct = evaluate((p, q, r) => conv2dBiasReluOp([p, q, r], conv2dAttrs({ strides: stride, padding })), [x, w, b]);
      expectClose(direct, naiveConvBiasRelu(x, w, b, stride, padding), 1e-12);
      expectClose(evaluate(convLayer(stride, padding), [x, w, b]), naiveConvBiasRelu(x, w, b, stride, padding), 1e-12);

      const f32 = [randomTensor(shape, 4, -1, 1, 'float32'), randomTensor(filter, 5, -1, 1, 'float32'), randomTensor([filter[3]], 6, -0.5, 0.5, 'float32')];
      const {
        values: [fused, unfused],
        ran,
      } = withAndWithoutFusion(convLayer(stride, padding), f32);
      for (let i = 0; i < 4; i++) expect(toArray(fused[i])).toEqual(toArray(unfused[i]));
      expect(ran[0]).toContain('conv2dBiasRelu');
      expect(ran[0]).not.toContain('biasAdd');
      expect(ran[1]).not.toContain('conv2dBiasRelu');
    });
  }

  it('with another activation, conv2d → biasAdd runs as conv2dBias, the same bits, in training and eval', () => {
    const f32 = [
      randomTensor([2, 8, 8, 3], 21, -1, 1, 'float32'),
      randomTensor([3, 3, 3, 6], 22, -1, 1, 'float32'),
      randomTensor([6], 23, -0.5, 0.5, 'float32'),
    ];
    const {
      values: [fused, unfused],
      ran,
    } = withAndWithoutFusion((p, q, r) => tanh(biasAdd(conv2d(p, q, { padding: 'same' }), r)), f32);
    for (let i = 0; i < 4; i++) expect(toArray(fused[i])).toEqual(toArray(unfused[i]));
    expect(ran[0]).toContain('conv2dBias');
    expect(ran[0]).not.toContain('biasAdd');
    expect(ran[1]).toEqual(expect.arrayContaining(['conv2d', 'biasAdd']));
    // Followed by relu, the three-op rule still takes the chain.
    const withRelu = withAndWithoutFusion(convLayer(1, 'same'), f32).ran[0];
    expect(withRelu).toContain('conv2dBiasRelu');
    expect(withRelu).not.toContain('conv2dBias');
  });

  it('followed by a max pool: the backward pass takes maxPoolGrad with the relu mask in the same pass, same bits', () => {
    const f32 = [
      randomTensor([2, 8, 8, 3], 11, -1, 1, 'float32'),
      randomTensor([3, 3, 3, 6], 12, -1, 1, 'float32'),
      randomTensor([6], 13, -0.5, 0.5, 'float32'),
    ];
    const {
      values: [fused, unfused],
      ran,
    } = withAndWithoutFusion((p, q, r) => maxPool(convLayer(1, 'same')(p, q, r), { ksize: 2 }), f32);
    for (let i = 0; i < 4; i++) expect(toArray(fused[i])).toEqual(toArray(unfused[i]));
    expect(ran[0].filter((op) => op === 'maxPoolGrad')).toHaveLength(1);
    expect(ran[0]).not.toContain('reluGrad');
    expect(ran[1]).toContain('reluGrad');
  });

  it("the user's graph keeps every node: conv2d, biasAdd and relu, with gradients built on them", () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 6, 6, 2]);
    const w = g.placeholder('w', [3, 3, 2, 4]);
    const b = g.placeholder('b', [4]);
    const y = convLayer(1, 'same')(x, w, b);
    expect(topologicalOrder([y]).map((n) => n.op.name)).toEqual(['placeholder', 'placeholder', 'conv2d', 'placeholder', 'biasAdd', 'relu']);
    const [gx] = gradients(sum(y), [x]);
    expect(gx.op.name).toBe('conv2dBackpropInput');
    expect(gx.inputs[0].op.name).toBe('reluGrad');
    expect(gx.inputs[0].inputs[1]).toBe(y); // relu's gradient reads its output, so the pre-activation can be fused away
  });

  it('a fetched, fed or hooked pre-activation stays a node of its own (the value of conv2dBias)', () => {
    const g = new Graph();
    const x = g.placeholder('x', [1, 4, 4, 1]);
    const w = g.variable('w', randomTensor([3, 3, 1, 2], 31, -1, 1, 'float32'));
    const b = g.variable('b', tensor([0.1, -0.1]));
    const pre = biasAdd(conv2d(x, w, { padding: 'same' }), b);
    const y = relu(pre);
    const feed = { x: randomTensor([1, 4, 4, 1], 32, -1, 1, 'float32') };
    const opsRun = (session: Session, fetches: Node[], feeds: Record<string, Tensor> = feed) => {
      const ops: string[] = [];
      session.run(fetches, feeds, { onTime: (_node, _ms, op) => ops.push(op.name) });
      return ops;
    };
    const session = new Session(g);
    expect(opsRun(session, [y])).toEqual(['conv2dBiasRelu']);
    // The fetched pre-activation is the output of conv2d + biasAdd, which still fuse (conv2dBias): relu runs on its own.
    expect(opsRun(session, [y, pre])).toEqual(['conv2dBias', 'relu']);
    expect(opsRun(session, [y], { ...feed, [pre.name]: randomTensor([1, 4, 4, 2], 33, -1, 1, 'float32') })).toEqual(['relu']);
    const seen: number[] = [];
    const stop = session.hook(pre, { value: (v) => seen.push(v.size) });
    expect(opsRun(session, [y])).toEqual(['conv2dBias', 'relu']);
    expect(seen).toEqual([32]);
    stop();
    expect(opsRun(session, [y])).toEqual(['conv2dBiasRelu']);
    // Anomaly mode and onValue see every node, so they run unfused.
    const values: string[] = [];
    session.run(y, feed, { onValue: (node) => values.push(node.op.name) });
    expect(values).toContain('biasAdd');
  });

  it('the fused kernel checks its bias like biasAdd does', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 6, 6, 2]);
    const w = g.placeholder('w', [3, 3, 2, 4]);
    expect(() => conv2dBiasReluOp([x, w, g.placeholder('b', [3])], conv2dAttrs({ padding: 'same' }))).toThrow(ShapeError);
    expect(() => conv2dBiasReluOp([x, w, g.placeholder('b2', [3])], conv2dAttrs({ padding: 'same' }))).toThrow(
      /bias must have shape \[4\] \(the filter's output channels\), found \[3\]/,
    );
  });
});

describe('conv2d → biasAdd → relu → maxPool runs as conv2dBiasReluMaxPool in inference', () => {
  /** maxPool(relu(conv2d(x, w) + b)) evaluated without gradients on `backend`; the values and the ops that ran. */
  function pooledLayer(
    backend: 'js' | 'wasm',
    fusion: boolean,
    inputs: Tensor[],
    conv: { strides: number; padding: Padding },
    pool: object,
    fetchActivation = false,
  ) {
    const g = new Graph();
    const [x, w, b] = inputs.map((t, i) => g.placeholder(`in${i}`, t.shape, 'float32'));
    const activation = convLayer(conv.strides, conv.padding)(x, w, b);
    const y = maxPool(activation, pool as Parameters<typeof maxPool>[1]);
    const ops: string[] = [];
    const fetches = fetchActivation ? [y, activation] : [y];
    const out = new Session(g, { backend, fusion }).run(
      fetches,
      [
        [x, inputs[0]],
        [w, inputs[1]],
        [b, inputs[2]],
      ],
      { onTime: (_node, _ms, op) => ops.push(op.name) },
    );
    return { values: out.map(toArray), ops };
  }
  const cases: [string, number[], number[], { strides: number; padding: Padding }, object][] = [
    // One input channel (the direct single-channel kernel), batches that leave part blocks of images and part thread chunks.
    ['LeNet conv1, batch 7', [7, 28, 28, 1], [5, 5, 1, 6], { strides: 1, padding: 'same' }, { ksize: 2 }],
    ['LeNet conv2, batch 5', [5, 14, 14, 6], [5, 5, 6, 16], { strides: 1, padding: 'valid' }, { ksize: 2 }],
    ['stride 2, an overlapping 3×3 pool with padding', [3, 11, 9, 3], [3, 3, 3, 5], { strides: 2, padding: 'same' }, { ksize: 3, strides: 2, padding: 'same' }],
    ['an odd image under a 2×2 pool (the last row and column left out)', [2, 9, 7, 4], [3, 3, 4, 9], { strides: 1, padding: 'valid' }, { ksize: 2 }],
  ];
  for (const [label, shape, filter, conv, pool] of cases) {
    it(`the same bits as the unfused plan on the js and wasm backends: ${label}`, () => {
      const inputs = [
        randomTensor(shape, 41, -1, 1, 'float32'),
        randomTensor(filter, 42, -1, 1, 'float32'),
        randomTensor([filter[3]], 43, -0.5, 0.5, 'float32'),
      ];
      for (const backend of ['js', 'wasm'] as const) {
        const fused = pooledLayer(backend, true, inputs, conv, pool);
        const plain = pooledLayer(backend, false, inputs, conv, pool);
        expect(fused.values).toEqual(plain.values);
        expect(fused.ops).toEqual(['conv2dBiasReluMaxPool']);
        expect(plain.ops).toEqual(['conv2d', 'biasAdd', 'relu', 'maxPool']);
      }
    });
  }

  it('NaN, infinities and ties of +0 and −0 pool as in the separate ops (the first maximum in row-major order)', () => {
    // A 1×1 convolution with weight 1 and bias 0 passes x through, so x's own values meet in the pool windows.
    const x = randomTensor([2, 6, 6, 3], 44, -1, 1, 'float32');
    const specials = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0, -0, 0, 0.5, 0.5];
    for (let i = 0; i < x.size; i += 2) x.data[i] = specials[(i / 2) % specials.length];
    const w = tensor([1, 0, 0, 0, 1, 0, 0, 0, 1], [1, 1, 3, 3], 'float32');
    const b = tensor([0, 0, -0], [3], 'float32');
    for (const backend of ['js', 'wasm'] as const) {
      const fused = pooledLayer(backend, true, [x, w, b], { strides: 1, padding: 'valid' }, { ksize: 2 });
      const plain = pooledLayer(backend, false, [x, w, b], { strides: 1, padding: 'valid' }, { ksize: 2 });
      expect(fused.ops).toEqual(['conv2dBiasReluMaxPool']);
      expect(fused.values.map((v) => v.map((e) => (Object.is(e, -0) ? '-0' : e)))).toEqual(
        plain.values.map((v) => v.map((e) => (Object.is(e, -0) ? '-0' : e))),
      );
    }
  });

  it('a fetched activation, or a training step that needs it for the gradients, keeps conv2dBiasRelu and maxPool', () => {
    const inputs = [
      randomTensor([2, 8, 8, 3], 45, -1, 1, 'float32'),
      randomTensor([3, 3, 3, 4], 46, -1, 1, 'float32'),
      randomTensor([4], 47, -0.5, 0.5, 'float32'),
    ];
    const fetched = pooledLayer('wasm', true, inputs, { strides: 1, padding: 'same' }, { ksize: 2 }, true);
    expect(fetched.ops).toEqual(['conv2dBiasRelu', 'maxPool']);
    const { ran } = withAndWithoutFusion((p, q, r) => maxPool(convLayer(1, 'same')(p, q, r), { ksize: 2 }), inputs);
    expect(ran[0]).not.toContain('conv2dBiasReluMaxPool');
    expect(ran[0]).toEqual(expect.arrayContaining(['conv2dBiasRelu', 'maxPool']));
  });

  it("LeNet-5's inference runs both conv layers and their pools as two kernels, with the unfused plan's bits", () => {
    const run = lenetInference(9, 48);
    const fused = run(true);
    expect(fused.ops.filter((op) => op === 'conv2dBiasReluMaxPool')).toHaveLength(2);
    expect(fused.ops).not.toContain('maxPool');
    expect(fused.values).toEqual(run(false).values);
  });
});

describe('matmul → biasAdd → relu runs as matmulBiasRelu', () => {
  const denseLayer = (p: Node, q: Node, r: Node) => relu(biasAdd(matmul(p, q), r));
  for (const [n, k, m] of [
    [1, 1, 1],
    [5, 7, 3],
    [64, 400, 120],
    [13, 84, 10],
  ]) {
    const label = `[${n},${k}]·[${k},${m}]`;
    it(`matches naive loops in float64 and the unfused plan in float32: ${label}`, () => {
      const x = randomTensor([n, k], 11);
      const w = randomTensor([k, m], 12);
      const b = randomTensor([m], 13, -0.5, 0.5);
      expectClose(
        evaluate((p, q, r) => matmulBiasReluOp([p, q, r]), [x, w, b]),
        naiveDenseRelu(x, w, b),
        1e-12,
      );
      expectClose(evaluate(denseLayer, [x, w, b]), naiveDenseRelu(x, w, b), 1e-12);

      const f32 = [randomTensor([n, k], 14, -1, 1, 'float32'), randomTensor([k, m], 15, -1, 1, 'float32'), randomTensor([m], 16, -0.5, 0.5, 'float32')];
      const {
        values: [fused, unfused],
        ran,
      } = withAndWithoutFusion(denseLayer, f32);
      // Equal up to float32 rounding: the bias joins the sum at a different point when K is split
      // into blocks, and tiny unfused products run in JavaScript, which sums in another order.
      for (let i = 0; i < 4; i++) expectClose(fused[i], toArray(unfused[i]), 1e-5);
      expect(ran[0]).toContain('matmulBiasRelu');
    });
  }

  it('a transposed product is left alone (the fused kernel has no transposes)', () => {
    const g = new Graph();
    const x = g.placeholder('x', [3, 4]);
    const w = g.variable('w', randomTensor([5, 4], 41, -1, 1, 'float32'));
    const b = g.variable('b', tensor([0, 0, 0, 0, 0]));
    const y = relu(biasAdd(matmul(x, w, { transposeB: true }), b));
    const ops: string[] = [];
    new Session(g).run(y, { x: randomTensor([3, 4], 42, -1, 1, 'float32') }, { onTime: (_node, _ms, op) => ops.push(op.name) });
    expect(ops).toEqual(['matmul', 'biasAdd', 'relu']);
  });
});

describe('hooks in a training run with fusion on', () => {
  it('fire for every node: the value of each forward node and the gradient of each, fused layers included', () => {
    const g = new Graph({ seed: 3 });
    const images = g.placeholder('images', [-1, 28, 28, 1]);
    const labels = g.placeholder('labels', [-1], 'int32');
    const loss = softmaxCrossEntropy(lenet5(images), labels);
    const params = g.trainableVariables();
    const grads = gradients(loss, params);
    const feeds = { images: randomTensor([4, 28, 28, 1], 51, 0, 1, 'float32'), labels: tensor([1, 7, 3, 0], [4], 'int32') };
    const plain = new Session(g, { seed: 1 }).run([loss, ...grads], feeds, { training: true });

    const session = new Session(g, { seed: 1 });
    const forward = topologicalOrder([loss]).filter((n) => n.op.kind !== 'placeholder');
    const withGradient = forward.filter((n) => g.gradientNodesOf(n).length > 0);
    const valueSeen = new Set<string>();
    const gradientSeen = new Set<string>();
    for (const node of forward) session.hook(node, { value: () => valueSeen.add(node.name) });
    for (const node of withGradient) session.hook(node, { gradient: () => gradientSeen.add(node.name) });
    const hooked = session.run([loss, ...grads], feeds, { training: true });

    expect([...valueSeen].sort()).toEqual(forward.map((n) => n.name).sort());
    expect([...gradientSeen].sort()).toEqual(withGradient.map((n) => n.name).sort());
    // Every pre-activation of the conv and dense layers is among them, and hooking changes no number.
    expect(withGradient.filter((n) => n.op.name === 'biasAdd').length).toBe(5);
    hooked.forEach((t, i) => expect(toArray(t)).toEqual(toArray(plain[i])));
  });

  it('and without hooks the same training run fuses the relu layers', () => {
    const g = new Graph({ seed: 3 });
    const images = g.placeholder('images', [-1, 28, 28, 1]);
    const labels = g.placeholder('labels', [-1], 'int32');
    const loss = softmaxCrossEntropy(lenet5(images), labels);
    const grads = allGradients(loss);
    const fetches = [loss, ...g.trainableVariables().map((v) => grads.get(v)!)];
    const ops: string[] = [];
    new Session(g).run(
      fetches,
      { images: randomTensor([2, 28, 28, 1], 52, 0, 1, 'float32'), labels: tensor([1, 2], [2], 'int32') },
      { training: true, onTime: (_node, _ms, op) => ops.push(op.name) },
    );
    expect(ops.filter((op) => op === 'conv2dBiasRelu')).toHaveLength(2);
    expect(ops.filter((op) => op === 'matmulBiasRelu')).toHaveLength(2);
    // Both pools take the relu mask into their gradient; the two hidden dense layers keep theirs.
    expect(ops.filter((op) => op === 'maxPoolGrad')).toHaveLength(2);
    expect(ops.filter((op) => op === 'reluGrad')).toHaveLength(2);
  });
});

describe("a custom op's fusion rule and backend kernel (examples/custom-op)", () => {
  it('biasAdd → swish runs as biasAddSwish, with the bits of the two ops, on either backend', async () => {
    const { swish } = await import('../../examples/custom-op/swish.ts');
    for (const backend of ['wasm', 'js']) {
      const g = new Graph({ backend });
      const x = g.placeholder('x', [-1, 5]);
      const b = g.variable('b', randomTensor([5], 61, -1, 1, 'float32'));
      const y = swish(biasAdd(x, b));
      const feeds = { x: randomTensor([7, 5], 62, -3, 3, 'float32') };
      const ops: string[] = [];
      const fused = new Session(g).run(y, feeds, { onTime: (_n, _ms, op) => ops.push(op.name) });
      const plain = new Session(g, { fusion: false }).run(y, feeds);
      expect(ops).toEqual(['biasAddSwish']);
      expect(toArray(fused)).toEqual(toArray(plain));
    }
  });
});
