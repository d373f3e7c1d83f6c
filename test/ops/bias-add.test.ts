import { describe, it, expect } from 'vitest';
import { biasAdd, biasAddGrad, square, sum } from '@ndgraph/ops';
import { Graph, Session, ShapeError, DTypeError, gradients, tensor as makeTensor, type DType } from '@ndgraph/graph';
import { evaluate, expectClose, expectGradcheck, randomTensor, tensor, toArray } from '../helpers.ts';

describe('biasAdd', () => {
  for (const [dtype, tol] of [
    ['float32', 1e-7],
    ['float64', 1e-15],
  ] as [DType, number][]) {
    it(`golden values in ${dtype}`, () => {
      const x = tensor(
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
        undefined,
        dtype,
      );
      const b = tensor([10, 20, 30], undefined, dtype);
      const y = evaluate((p, q) => biasAdd(p, q), [x, b]);
      expect(y.dtype).toBe(dtype);
      expectClose(y, [11, 22, 33, 14, 25, 36], tol);
      // NHWC [1, 2, 2, 2]: the bias goes along the last (channel) axis.
      const image = tensor(
        [
          [
            [
              [1, 2],
              [3, 4],
            ],
            [
              [5, 6],
              [7, 8],
            ],
          ],
        ],
        undefined,
        dtype,
      );
      const y4 = evaluate((p, q) => biasAdd(p, q), [image, tensor([0.5, -1], undefined, dtype)]);
      expect(y4.shape).toEqual([1, 2, 2, 2]);
      expectClose(y4, [1.5, 1, 3.5, 3, 5.5, 5, 7.5, 7], tol);
      // biasAddGrad sums over every leading axis.
      expectClose(
        evaluate((p) => biasAddGrad(p), [image]),
        [1 + 3 + 5 + 7, 2 + 4 + 6 + 8],
        tol,
      );
      expectClose(
        evaluate((p) => biasAddGrad(p), [x]),
        [5, 7, 9],
        tol,
      );
    });
  }

  it('works with an unknown batch; the bias gradient sums over the run-time batch', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 2, 3], 'float64');
    const b = g.variable('b', makeTensor([1, 2, 3], [3], 'float64'));
    const y = biasAdd(x, b);
    expect(y.shape).toEqual([-1, 2, 3]);
    const [dx, db] = gradients(sum(square(y)), [x, b]);
    expect(db.shape).toEqual([3]);
    const value = makeTensor(
      Array.from({ length: 12 }, (_, i) => i),
      [2, 2, 3],
      'float64',
    );
    const [dxv, dbv] = new Session(g).run([dx, db], new Map([[x, value]]));
    // d/dy of Σy² is 2y; y = x + b.
    const yv = toArray(value).map((v, i) => v + [1, 2, 3][i % 3]);
    expectClose(
      dxv,
      yv.map((v) => 2 * v),
      1e-15,
    );
    expectClose(
      dbv,
      [0, 1, 2].map((c) => yv.filter((_, i) => i % 3 === c).reduce((s, v) => s + 2 * v, 0)),
      1e-15,
    );
  });

  it('accumulates a float32 bias gradient in float64', () => {
    const rows = 1_000_000;
    const dy = makeTensor(new Float32Array(rows).fill(0.1), [rows, 1], 'float32');
    expect(toArray(evaluate((p) => biasAddGrad(p), [dy]))[0]).toBe(Math.fround(rows * Math.fround(0.1)));
  });

  it('rejects a bias that does not match the channels, naming what was expected', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 4, 4, 3]);
    expect(() => biasAdd(x, g.placeholder('b', [4]))).toThrow(ShapeError);
    expect(() => biasAdd(x, g.placeholder('b2', [4]))).toThrow(
      /\(op biasAdd, inputs \[\?,4,4,3\] float32, \[4\] float32\): bias must have shape \[3\] \(x's last dim\), found \[4\]/,
    );
    expect(() => biasAdd(x, g.placeholder('b3', [1, 3]))).toThrow(/bias must have shape \[3\] \(x's last dim\), found \[1,3\]/);
    expect(() => biasAdd(g.placeholder('s', []), g.placeholder('b4', [1]))).toThrow(/x must have rank ≥ 1 with channels last, found \[\]/);
    expect(() => biasAdd(x, g.placeholder('b5', [3], 'float64'))).toThrow(DTypeError);
  });

  const shapes = [
    [5, 3],
    [2, 3, 4],
    [2, 3, 3, 4],
  ];
  for (const shape of shapes) {
    it(`gradcheck on ${JSON.stringify(shape)} (x and b, and biasAddGrad itself)`, () => {
      const channels = shape[shape.length - 1];
      expectGradcheck(`biasAdd ${JSON.stringify(shape)}`, (p, q) => biasAdd(p, q), [randomTensor(shape, 51), randomTensor([channels], 53)]);
      expectGradcheck(`biasAddGrad ${JSON.stringify(shape)}`, (p) => biasAddGrad(p), [randomTensor(shape, 57)]);
    });
  }
});
