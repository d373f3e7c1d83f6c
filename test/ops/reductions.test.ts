import { describe, it, expect } from 'vitest';
import { sum, mean, square, divByCount } from '@ndgraph/ops';
import { Graph, Session, ShapeError, gradients, tensor as makeTensor, type DType, type Node, type Tensor } from '@ndgraph/graph';
import { evaluate, expectClose, expectGradcheck, randomTensor, tensor, toArray } from '../helpers.ts';

/** Independent naive reduction: for every output element, loop over the input by multi-index. */
function naiveSum(x: Tensor, axes: number[]): number[] {
  const shape = x.shape;
  const outShape = shape.map((d, k) => (axes.includes(k) ? 1 : d));
  const outSize = outShape.reduce((a, b) => a * b, 1);
  const out = new Array<number>(outSize).fill(0);
  const values = toArray(x);
  values.forEach((v, flat) => {
    // Multi-index of `flat` in x, then the flat index in the kept-dims output.
    let rest = flat;
    const index = new Array<number>(shape.length);
    for (let k = shape.length - 1; k >= 0; k--) {
      index[k] = rest % shape[k];
      rest = Math.floor(rest / shape[k]);
    }
    let o = 0;
    for (let k = 0; k < shape.length; k++) o = o * outShape[k] + (axes.includes(k) ? 0 : index[k]);
    out[o] += v;
  });
  return out;
}

const a23 = [
  [1, 2, 3],
  [4, 5, 6],
];

describe('sum and mean', () => {
  for (const [dtype, tol] of [
    ['float32', 1e-6],
    ['float64', 1e-15],
  ] as [DType, number][]) {
    it(`golden values in ${dtype}`, () => {
      const x = tensor(a23, undefined, dtype);
      const run = (f: (p: Node) => Node) => evaluate(f, [x]);
      const cases: [(p: Node) => Node, number[], number[]][] = [
        [(p) => sum(p), [], [21]],
        [(p) => sum(p, { axes: [0] }), [3], [5, 7, 9]],
        [(p) => sum(p, { axes: [1] }), [2], [6, 15]],
        [(p) => sum(p, { axes: [-1], keepDims: true }), [2, 1], [6, 15]],
        [(p) => sum(p, { keepDims: true }), [1, 1], [21]],
        [(p) => sum(p, { axes: [] }), [2, 3], [1, 2, 3, 4, 5, 6]],
        [(p) => mean(p), [], [3.5]],
        [(p) => mean(p, { axes: [0] }), [3], [2.5, 3.5, 4.5]],
        [(p) => mean(p, { axes: [-1] }), [2], [2, 5]],
        [(p) => mean(p, { axes: [0, 1], keepDims: true }), [1, 1], [3.5]],
      ];
      for (const [f, shape, expected] of cases) {
        const out = run(f);
        expect(out.dtype).toBe(dtype);
        expect(out.shape).toEqual(shape);
        expectClose(out, expected, tol);
      }
      // A 3-D case by hand: x[i][j][k] = 100i + 10j + k, shape [2,2,3], summed over axes 0 and 2.
      const cube = tensor(
        [
          [
            [0, 1, 2],
            [10, 11, 12],
          ],
          [
            [100, 101, 102],
            [110, 111, 112],
          ],
        ],
        undefined,
        dtype,
      );
      expectClose(
        evaluate((p) => sum(p, { axes: [0, -1] }), [cube]),
        [0 + 1 + 2 + 100 + 101 + 102, 10 + 11 + 12 + 110 + 111 + 112],
        tol,
      );
      expectClose(
        evaluate((p) => mean(p, { axes: [2, 0], keepDims: true }), [cube]),
        [306 / 6, 366 / 6],
        tol,
      );
    });
  }

  it('matches a naive reduction for every subset of axes of a 4-D NHWC tensor', () => {
    const x = randomTensor([2, 3, 4, 5], 9, -1, 1, 'float64');
    for (let mask = 0; mask < 16; mask++) {
      const axes = [0, 1, 2, 3].filter((k) => mask & (1 << k));
      const expected = naiveSum(x, axes);
      expectClose(
        evaluate((p) => sum(p, { axes, keepDims: true }), [x]),
        expected,
        1e-13,
      );
      const count = axes.reduce((n, k) => n * x.shape[k], 1);
      expectClose(
        evaluate((p) => mean(p, { axes }), [x]),
        expected.map((v) => v / count),
        1e-13,
      );
    }
  });

  it('accumulates float32 sums in float64', () => {
    // 0.1f summed a million times: float32 accumulation drifts to about 100958; the true sum is 100000.0015.
    const n = 1_000_000;
    const x = makeTensor(new Float32Array(n).fill(0.1), [n], 'float32');
    expect(toArray(evaluate((p) => sum(p), [x]))[0]).toBe(Math.fround(n * Math.fround(0.1)));
    expect(toArray(evaluate((p) => mean(p), [x]))[0]).toBe(Math.fround(0.1));
    // The same along one axis of a matrix (the general reduction path).
    const columns = makeTensor(new Float32Array(n).fill(0.1), [n / 2, 2], 'float32');
    const half = Math.fround((n / 2) * Math.fround(0.1));
    expect(toArray(evaluate((p) => sum(p, { axes: [0] }), [columns]))).toEqual([half, half]);
    expect(toArray(evaluate((p) => mean(p, { axes: [0] }), [columns]))).toEqual([Math.fround(0.1), Math.fround(0.1)]);
  });

  it('infers shapes with unknown dims and keepDims', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 4, 4, 3]);
    expect(sum(x).shape).toEqual([]);
    expect(sum(x, { axes: [1, 2] }).shape).toEqual([-1, 3]);
    expect(mean(x, { axes: [0, 1, 2], keepDims: true }).shape).toEqual([1, 1, 1, 3]);
    expect(mean(x, { axes: [-1] }).shape).toEqual([-1, 4, 4]);
  });

  it('rejects bad axes with messages naming the node and the axis', () => {
    const g = new Graph();
    const x = g.placeholder('x', [2, 3]);
    expect(() => sum(x, { axes: [2] })).toThrow(ShapeError);
    expect(() => sum(x, { axes: [2] })).toThrow(
      /sum(_\d+)? \(op sum, inputs \[2,3\] float32\): axis 2 is out of range for rank 2 \(expected an integer in \[-2, 1\]\)/,
    );
    expect(() => mean(x, { axes: [-3] })).toThrow(/\(op mean, inputs \[2,3\] float32\): axis -3 is out of range for rank 2/);
    expect(() => sum(x, { axes: [1, -1] })).toThrow(/axis -1 is repeated in axes \[1,-1\] \(rank 2\)/);
    expect(() => sum(x, { axes: [0.5] })).toThrow(/axis 0.5 is out of range/);
  });

  it('mean over an unknown batch divides by the run-time batch size, in value and gradient', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 2], 'float64');
    const m = mean(x);
    const mb = mean(x, { axes: [0] });
    const [dx] = gradients(m, [x]);
    const [dxb] = gradients(sum(square(mb)), [x]);
    const session = new Session(g);
    for (const batch of [3, 5]) {
      const values = Array.from({ length: batch * 2 }, (_, i) => i + 1); // 1..2·batch
      const feed = new Map([[x, makeTensor(values, [batch, 2], 'float64')]]);
      const [mv, mbv, dv, dbv] = session.run([m, mb, dx, dxb], feed);
      const colMeans = [0, 1].map((c) => values.filter((_, i) => i % 2 === c).reduce((s, v) => s + v, 0) / batch);
      expectClose(mv, [(batch * 2 + 1) / 2], 1e-15);
      expectClose(mbv, colMeans, 1e-15);
      expectClose(dv, new Array(batch * 2).fill(1 / (batch * 2)), 1e-15);
      // d/dx[i][c] of Σ_c mean_c² = 2·mean_c / batch.
      expectClose(
        dbv,
        values.map((_, i) => (2 * colMeans[i % 2]) / batch),
        1e-14,
      );
    }
  });

  it('gradients flow with several unknown dims (the reduced dy is given its dims back from itself)', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, -1, 2], 'float64');
    const s = sum(x, { axes: [1] }); // [-1, 2]
    const y = sum(square(s));
    const [dx] = gradients(y, [x]);
    const [dm] = gradients(sum(mean(x, { axes: [0, 1] })), [x]);
    const value = makeTensor(
      [
        [
          [1, 2],
          [3, 4],
          [5, 6],
        ],
        [
          [0, 1],
          [0, 1],
          [0, 1],
        ],
      ],
      undefined,
      'float64',
    ); // [2, 3, 2]
    const [dv, dmv] = new Session(g).run([dx, dm], new Map([[x, value]]));
    // s = [[9, 12], [0, 3]]; dy/dx[b][j][c] = 2·s[b][c].
    expectClose(dv, [18, 24, 18, 24, 18, 24, 0, 6, 0, 6, 0, 6], 1e-15);
    expectClose(dmv, new Array(12).fill(1 / 6), 1e-15);
  });

  it("divByCount divides by the product of like's dims at run time", () => {
    const x = makeTensor([6, 12], [2], 'float64');
    const like = makeTensor(new Array(24).fill(0), [2, 3, 4], 'float64');
    expectClose(
      evaluate((p, q) => divByCount(p, q, [1, 2]), [x, like]),
      [0.5, 1],
      1e-15,
    );
    expectGradcheck('divByCount', (p, q) => divByCount(p, q, [0, 2]), [randomTensor([5], 2), like], { wrt: [0] });
  });

  const gradCases: [number[], number[] | undefined, boolean][] = [
    [[5], undefined, false],
    [[3, 4], [0], false],
    [[3, 4], [-1], true],
    [[3, 4], [], false],
    [[2, 3, 4], [0, 2], false],
    [[2, 3, 3, 4], [0, 1, 2], false],
    [[2, 3, 3, 4], [1, 2], true],
    [[2, 3, 3, 4], undefined, true],
  ];
  for (const [shape, axes, keepDims] of gradCases) {
    it(`gradcheck sum and mean on ${JSON.stringify(shape)} axes ${JSON.stringify(axes ?? 'all')} keepDims ${keepDims}`, () => {
      const x = randomTensor(shape, 13);
      expectGradcheck(`sum ${JSON.stringify(shape)} ${JSON.stringify(axes)}`, (p) => sum(p, { axes, keepDims }), [x]);
      expectGradcheck(`mean ${JSON.stringify(shape)} ${JSON.stringify(axes)}`, (p) => mean(p, { axes, keepDims }), [x]);
    });
  }
});
