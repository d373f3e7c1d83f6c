import { describe, it, expect } from 'vitest';
import { Graph, Session, ShapeError, DTypeError, gradients, tensor, toArray } from '@ndgraph/graph';
import { oneHot, mul, sum } from '@ndgraph/ops';
import { softmaxMeanSquaredError } from '@ndgraph/nn';
import { expectClose, expectGradcheck, randomTensor } from '../helpers.ts';

describe('oneHot', () => {
  it('golden values in float32 and float64', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const g = new Graph();
      const labels = g.placeholder('labels', [-1], 'int32');
      const y = oneHot(labels, 4, dtype);
      expect(y.shape).toEqual([-1, 4]);
      const out = new Session(g).run(y, { labels: tensor([2, 0, 3], [3], 'int32') });
      expect(out.dtype).toBe(dtype);
      expect(toArray(out)).toEqual([0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1]);
    }
  });
  it('names the row of a label out of range, and rejects float labels', () => {
    const g = new Graph();
    const labels = g.placeholder('labels', [-1], 'int32');
    const y = g.scope('target', () => oneHot(labels, 3));
    expect(() => new Session(g).run(y, { labels: tensor([0, 5], [2], 'int32') })).toThrow(
      'target/oneHot (op oneHot, inputs [2] int32): label 5 in row 1 is outside [0, 3)',
    );
    expect(() => oneHot(g.placeholder('f', [2]), 3)).toThrow(DTypeError);
    expect(() => oneHot(g.placeholder('m', [2, 2], 'int32'), 3)).toThrow(ShapeError);
  });
  it('has no gradient for the labels, so a loss through it differentiates w.r.t. the other input only', () => {
    const g = new Graph();
    const labels = g.placeholder('labels', [2], 'int32');
    const x = g.placeholder('x', [2, 3]);
    const [dx] = gradients(sum(mul(x, oneHot(labels, 3))), [x]);
    const out = new Session(g).run(dx, {
      labels: tensor([1, 2], [2], 'int32'),
      x: tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]),
    });
    expect(toArray(out)).toEqual([0, 1, 0, 0, 0, 1]);
  });
});

describe('softmaxMeanSquaredError', () => {
  it('equals the mean over batch and classes of (softmax − onehot)² and gradchecks', () => {
    const g = new Graph();
    const logits = g.placeholder('logits', [2, 3], 'float64');
    const labels = g.placeholder('labels', [2], 'int32');
    const loss = softmaxMeanSquaredError(logits, labels);
    const z = [
      [1, 2, 3],
      [0.5, -1, 0],
    ];
    const out = new Session(g).run(loss, { logits: tensor(z, [2, 3], 'float64'), labels: tensor([2, 0], [2], 'int32') });
    let expected = 0;
    [[2], [0]].forEach(([label], row) => {
      const e = z[row].map(Math.exp);
      const s = e.reduce((a, b) => a + b, 0);
      e.forEach((v, k) => (expected += (v / s - (k === label ? 1 : 0)) ** 2));
    });
    expectClose(out, [expected / 6], 1e-12);
    expectGradcheck('softmaxMeanSquaredError', (p, q) => softmaxMeanSquaredError(p, q), [randomTensor([3, 4], 5), tensor([1, 3, 0], [3], 'int32')]);
  });
});
