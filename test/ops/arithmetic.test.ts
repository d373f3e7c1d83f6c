import { describe, it, expect } from 'vitest';
import { add, sub, mul, div, neg, scale, square, broadcastTo } from '@ndgraph/ops';
import { reduceToShapeOp } from '@ndgraph/ops/kernels';
import { ShapeError, Graph } from '@ndgraph/graph';
import { evaluate, expectClose, expectGradcheck, randomTensor, tensor } from '../helpers.ts';

describe('broadcasting binary ops', () => {
  const a = tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const row = tensor([10, 20, 30]);
  const col = tensor([[100], [200]]);
  it('golden values', () => {
    expectClose(
      evaluate((x, y) => add(x, y), [a, row]),
      [11, 22, 33, 14, 25, 36],
    );
    expectClose(
      evaluate((x, y) => sub(x, y), [a, col]),
      [-99, -98, -97, -196, -195, -194],
    );
    expectClose(
      evaluate((x, y) => mul(x, y), [col, row]),
      [1000, 2000, 3000, 2000, 4000, 6000],
    );
    expectClose(
      evaluate((x, y) => div(x, y), [a, tensor(2)]),
      [0.5, 1, 1.5, 2, 2.5, 3],
    );
    expectClose(
      evaluate((x) => neg(x), [a]),
      [-1, -2, -3, -4, -5, -6],
    );
    expectClose(
      evaluate((x) => scale(x, 3), [a]),
      [3, 6, 9, 12, 15, 18],
    );
    expectClose(
      evaluate((x) => square(x), [a]),
      [1, 4, 9, 16, 25, 36],
    );
  });
  it('output shape follows NumPy rules', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 1, 5]);
    const y = g.placeholder('y', [4, 1]);
    expect(add(x, y).shape).toEqual([-1, 4, 5]);
  });
  it('incompatible shapes name the node and shapes', () => {
    const g = new Graph();
    const x = g.placeholder('x', [2, 3]);
    const y = g.placeholder('y', [4]);
    expect(() => g.scope('block', () => add(x, y))).toThrow(ShapeError);
    expect(() => g.scope('block', () => add(x, y))).toThrow(
      /block_1\/add \(op add, inputs \[2,3\] float32, \[4\] float32\): shapes \[2,3\] and \[4\] do not broadcast/,
    );
  });
  const cases: [string, number[], number[]][] = [
    ['same', [2, 3], [2, 3]],
    ['row', [2, 3], [3]],
    ['col', [2, 3], [2, 1]],
    ['scalar', [2, 3], []],
    ['both', [3, 1, 2], [1, 4, 1]],
  ];
  for (const [label, sa, sb] of cases) {
    it(`gradcheck ${label} ${JSON.stringify(sa)} ⊕ ${JSON.stringify(sb)}`, () => {
      const x = randomTensor(sa, 3);
      const y = randomTensor(sb, 7, 0.5, 2); // away from 0 for div
      expectGradcheck(`add ${label}`, (p, q) => add(p, q), [x, y]);
      expectGradcheck(`sub ${label}`, (p, q) => sub(p, q), [x, y]);
      expectGradcheck(`mul ${label}`, (p, q) => mul(p, q), [x, y]);
      expectGradcheck(`div ${label}`, (p, q) => div(p, q), [x, y], { rtol: 1e-4 });
    });
  }
  it('gradcheck unary neg, scale, square and broadcast helpers', () => {
    const x = randomTensor([3, 4], 11);
    expectGradcheck('neg', (p) => neg(p), [x]);
    expectGradcheck('scale', (p) => scale(p, -2.5), [x]);
    expectGradcheck('square', (p) => square(p), [x]);
    expectGradcheck('broadcastTo', (p, q) => broadcastTo(p, q), [randomTensor([1, 4], 2), randomTensor([3, 4], 4)], { wrt: [0] });
    expectGradcheck('reduceToShape', (p, q) => reduceToShapeOp([p, q]), [randomTensor([3, 4], 2), randomTensor([1, 4], 4)], { wrt: [0] });
  });
});
