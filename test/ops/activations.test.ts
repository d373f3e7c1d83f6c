import { describe, it, expect } from 'vitest';
import { relu, leakyRelu, elu, sigmoid, tanh, softplus, reluGrad, eluGrad, sum } from '@ndgraph/ops';
import { Graph, Session, gradients, tensor as makeTensor, type DType, type Node, type Tensor } from '@ndgraph/graph';
import { evaluate, expectClose, expectGradcheck, randomTensor, tensor, toArray } from '../helpers.ts';

const points = [-3, -1, -0.5, 0, 0.5, 2];

// Hand-computed golden values at `points` (e.g. sigmoid(-1) = 1/(1+e), softplus(0) = ln 2, elu(-1) = 1/e − 1).
const goldens: { label: string; op: (x: Node) => Node; expected: number[] }[] = [
  { label: 'relu', op: (x) => relu(x), expected: [0, 0, 0, 0, 0.5, 2] },
  { label: 'leakyRelu default alpha 0.01', op: (x) => leakyRelu(x), expected: [-0.03, -0.01, -0.005, 0, 0.5, 2] },
  { label: 'leakyRelu alpha 0.2', op: (x) => leakyRelu(x, 0.2), expected: [-0.6, -0.2, -0.1, 0, 0.5, 2] },
  { label: 'elu default alpha 1', op: (x) => elu(x), expected: [-0.950212931632136, -0.6321205588285577, -0.3934693402873666, 0, 0.5, 2] },
  { label: 'elu alpha 0.5', op: (x) => elu(x, 0.5), expected: [-0.475106465816068, -0.31606027941427883, -0.1967346701436833, 0, 0.5, 2] },
  {
    label: 'sigmoid',
    op: (x) => sigmoid(x),
    expected: [0.04742587317756678, 0.2689414213699951, 0.3775406687981454, 0.5, 0.6224593312018546, 0.8807970779778823],
  },
  { label: 'tanh', op: (x) => tanh(x), expected: [-0.9950547536867305, -0.7615941559557649, -0.46211715726000974, 0, 0.46211715726000974, 0.9640275800758169] },
  {
    label: 'softplus',
    op: (x) => softplus(x),
    expected: [0.04858735157374206, 0.31326168751822286, 0.4740769841801067, 0.6931471805599453, 0.9740769841801067, 2.1269280110429727],
  },
];

/** Value and gradient of sum(op(x)) at x. */
function valueAndGrad(op: (x: Node) => Node, x: Tensor): [Tensor, Tensor] {
  const g = new Graph();
  const p = g.placeholder('x', x.shape, x.dtype as DType);
  const y = op(p);
  const [dx] = gradients(sum(y), [p]);
  const [value, grad] = new Session(g).run([y, dx], new Map([[p, x]]));
  return [value, grad];
}

/** Random inputs pushed away from the kink at 0: |x| ≥ 0.05, so finite differences with step 1e-6 never cross it. */
function awayFromZero(shape: number[], seed: number): Tensor {
  const t = randomTensor(shape, seed, -2, 2);
  for (let i = 0; i < t.size; i++) t.data[i] = Math.sign(t.data[i] || 1) * (0.05 + Math.abs(t.data[i]));
  return t;
}

describe('activations', () => {
  for (const [dtype, tol] of [
    ['float32', 1e-6],
    ['float64', 1e-14],
  ] as [DType, number][]) {
    it(`golden values in ${dtype}`, () => {
      for (const { label, op, expected } of goldens) {
        const out = evaluate(op, [tensor(points, [points.length], dtype)]);
        expect(out.dtype, label).toBe(dtype);
        expectClose(out, expected, tol);
      }
    });
  }

  it('gradients at hand-picked points, including the conventions at 0', () => {
    const x = makeTensor(points, [points.length], 'float64');
    // relu'(0) = 0.
    expectClose(valueAndGrad((p) => relu(p), x)[1], [0, 0, 0, 0, 1, 1], 1e-15);
    // leakyRelu: slope alpha for x ≤ 0 (so alpha at 0).
    expectClose(valueAndGrad((p) => leakyRelu(p, 0.2), x)[1], [0.2, 0.2, 0.2, 0.2, 1, 1], 1e-15);
    // elu: alpha·eˣ for x ≤ 0 (so alpha at 0).
    expectClose(valueAndGrad((p) => elu(p, 0.5), x)[1], [0.5 * Math.exp(-3), 0.5 * Math.exp(-1), 0.5 * Math.exp(-0.5), 0.5, 1, 1], 1e-14);
    // sigmoid' = s(1 − s), tanh' = 1 − tanh², softplus' = sigmoid.
    const s = points.map((v) => 1 / (1 + Math.exp(-v)));
    expectClose(
      valueAndGrad((p) => sigmoid(p), x)[1],
      s.map((v) => v * (1 - v)),
      1e-14,
    );
    expectClose(
      valueAndGrad((p) => tanh(p), x)[1],
      points.map((v) => 1 - Math.tanh(v) ** 2),
      1e-14,
    );
    expectClose(valueAndGrad((p) => softplus(p), x)[1], s, 1e-14);
  });

  it('sigmoid, softplus and tanh stay finite (and exact) at ±1e4, as do their gradients', () => {
    for (const dtype of ['float32', 'float64'] as DType[]) {
      const x = makeTensor([-1e4, -50, 50, 1e4], [4], dtype);
      const [sv, sg] = valueAndGrad((p) => sigmoid(p), x);
      const [s0, s1, s2, s3] = toArray(sv);
      expect([s0, s2, s3]).toEqual([0, 1, 1]);
      expect(Math.abs(s1 / Math.exp(-50) - 1)).toBeLessThan(1e-6); // e⁻⁵⁰/(1 + e⁻⁵⁰), not rounded to 0
      expect(toArray(sg).every(Number.isFinite)).toBe(true);
      const [pv, pg] = valueAndGrad((p) => softplus(p), x);
      expectClose(pv, [0, Math.exp(-50), 50, 1e4], 1e-6);
      expect(toArray(pv)[0]).toBe(0);
      expectClose(pg, [0, Math.exp(-50), 1, 1], 1e-6);
      const [tv, tg] = valueAndGrad((p) => tanh(p), x);
      expect(toArray(tv)).toEqual([-1, -1, 1, 1]);
      expect(toArray(tg)).toEqual([0, 0, 0, 0]);
    }
  });

  it('relu passes NaN through, so anomaly checks can see it', () => {
    expect(toArray(evaluate((p) => relu(p), [makeTensor([NaN, -1, 1], [3], 'float64')]))).toEqual([NaN, 0, 1]);
  });

  it('reluGrad and eluGrad compute the masked gradients directly', () => {
    const dy = makeTensor([10, 20, 30, 40], [4], 'float64');
    const x = makeTensor([-1, 0, 1e-9, 3], [4], 'float64');
    expectClose(
      evaluate((a, b) => reluGrad(a, b), [dy, x]),
      [0, 0, 30, 40],
      1e-15,
    );
    expectClose(
      evaluate((a, b) => eluGrad(a, b, 2), [dy, x]),
      [10 * 2 * Math.exp(-1), 20 * 2, 30, 40],
      1e-15,
    );
  });

  const shapes = [[6], [3, 4], [2, 3, 3, 4]];
  for (const shape of shapes) {
    it(`gradcheck on ${JSON.stringify(shape)} (inputs with |x| ≥ 0.05 for the relu family)`, () => {
      const x = awayFromZero(shape, 17 + shape.length);
      const wide = randomTensor(shape, 23, -4, 4);
      expectGradcheck(`relu ${JSON.stringify(shape)}`, (p) => relu(p), [x]);
      expectGradcheck(`leakyRelu ${JSON.stringify(shape)}`, (p) => leakyRelu(p, 0.1), [x]);
      expectGradcheck(`elu ${JSON.stringify(shape)}`, (p) => elu(p, 0.7), [x]);
      expectGradcheck(`sigmoid ${JSON.stringify(shape)}`, (p) => sigmoid(p), [wide]);
      expectGradcheck(`tanh ${JSON.stringify(shape)}`, (p) => tanh(p), [wide]);
      expectGradcheck(`softplus ${JSON.stringify(shape)}`, (p) => softplus(p), [wide]);
    });
  }

  it('gradcheck of the backward kernels themselves (reluGrad in dy, eluGrad in dy and x)', () => {
    const dy = randomTensor([3, 4], 31);
    const x = awayFromZero([3, 4], 37);
    expectGradcheck('reluGrad wrt dy', (a, b) => reluGrad(a, b), [dy, x], { wrt: [0] });
    expectGradcheck('eluGrad', (a, b) => eluGrad(a, b, 1.3), [dy, x]);
  });
});
