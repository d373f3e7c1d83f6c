import { describe, it, expect } from 'vitest';
import { softmax, softmaxGrad, softmaxGradBackpropY } from '@ndgraph/ops';
import { Graph, GradientError, Session, ShapeError, gradients, type DType, type Node } from '@ndgraph/graph';
import { evaluate, expectClose, expectGradcheck, randomTensor, tensor } from '../helpers.ts';

describe('softmax', () => {
  for (const dtype of ['float32', 'float64'] as DType[]) {
    it(`golden values over the last axis (${dtype})`, () => {
      // Row 0: exp = [1, 2, 5], total 8. Row 1: equal logits share equally.
      const x = tensor(
        [
          [0, Math.log(2), Math.log(5)],
          [7, 7, 7],
        ],
        undefined,
        dtype,
      );
      expectClose(
        evaluate((p) => softmax(p), [x]),
        [1 / 8, 2 / 8, 5 / 8, 1 / 3, 1 / 3, 1 / 3],
        dtype === 'float32' ? 1e-6 : 1e-12,
      );
      // A vector is one row: exp = [1, 3] → [1/4, 3/4].
      expectClose(
        evaluate((p) => softmax(p), [tensor([0, Math.log(3)], undefined, dtype)]),
        [0.25, 0.75],
        1e-6,
      );
    });
  }

  it('is stable for huge logits (the row maximum is subtracted first)', () => {
    // Shift invariance: 1000 + [0, ln 3] gives the same [1/4, 3/4]; exp(1000) alone would overflow.
    const y = evaluate(
      (p) => softmax(p),
      [
        tensor(
          [
            [1000, 1000 + Math.log(3)],
            [-1e4, 1e4],
          ],
          undefined,
          'float32',
        ),
      ],
    );
    expectClose(y, [0.25, 0.75, 0, 1], 1e-5);
  });

  it('normalizes each row of a rank-3 tensor separately', () => {
    // [2,2,2]: rows [0, ln 4] → [1/5, 4/5] and [5, 5] → [1/2, 1/2].
    const x = tensor(
      [
        [
          [0, Math.log(4)],
          [5, 5],
        ],
        [
          [5, 5],
          [0, Math.log(4)],
        ],
      ],
      undefined,
      'float64',
    );
    expectClose(
      evaluate((p) => softmax(p), [x]),
      [0.2, 0.8, 0.5, 0.5, 0.5, 0.5, 0.2, 0.8],
      1e-12,
    );
  });

  it('softmaxGrad golden: y ⊙ (dy − Σ dy⊙y)', () => {
    // y = [1/2, 1/4, 1/4], dy = [1, 0, 0]: Σ dy⊙y = 1/2, dx = y ⊙ [1/2, −1/2, −1/2].
    const dx = evaluate((d, y) => softmaxGrad(d, y), [tensor([[1, 0, 0]], undefined, 'float64'), tensor([[0.5, 0.25, 0.25]], undefined, 'float64')]);
    expectClose(dx, [0.25, -0.125, -0.125], 1e-12);
  });

  it('softmaxGradBackpropY golden: g ⊙ (dy − Σ dy⊙y) − dy ⊙ Σ g⊙y', () => {
    // g = [1, 2], dy = [3, −1], y = [1/4, 3/4]: Σ dy⊙y = 0, Σ g⊙y = 7/4.
    // result = [1·3 − 3·7/4, 2·(−1) + 7/4] = [−9/4, −1/4].
    const r = evaluate(
      (g, d, y) => softmaxGradBackpropY(g, d, y),
      [tensor([1, 2], undefined, 'float64'), tensor([3, -1], undefined, 'float64'), tensor([0.25, 0.75], undefined, 'float64')],
    );
    expectClose(r, [-2.25, -0.25], 1e-12);
  });

  const shapes = [[5], [3, 4], [2, 3, 4], [2, 2, 2, 3], [4, 1]];
  for (const shape of shapes) {
    it(`gradcheck ${JSON.stringify(shape)}`, () => {
      expectGradcheck(`softmax ${JSON.stringify(shape)}`, (p) => softmax(p), [randomTensor(shape, 5, -3, 3)]);
    });
  }

  it('second order: gradcheck of the gradient graph w.r.t. x and the incoming dy', () => {
    // d/dx and d/dv of softmax's VJP with v: exercises softmaxGrad's grads (w.r.t. dy and y).
    const build = (x: Node, v: Node) => gradients(softmax(x), [x], { dy: v })[0];
    expectGradcheck('softmax second order [3,4]', build, [randomTensor([3, 4], 8, -2, 2), randomTensor([3, 4], 9)]);
    expectGradcheck('softmaxGrad [2,5]', (d, y) => softmaxGrad(d, y), [randomTensor([2, 5], 10), randomTensor([2, 5], 11, 0.1, 1)]);
  });

  it('a third derivative is refused with a clear error', () => {
    const g = new Graph();
    const x = g.placeholder('x', [2, 3], 'float64');
    const v = g.placeholder('v', [2, 3], 'float64');
    const first = gradients(softmax(x), [x], { dy: v })[0];
    const second = gradients(first, [x], { dy: v })[0];
    expect(() => gradients(second, [x], { dy: v })).toThrow(GradientError);
    expect(() => gradients(second, [x], { dy: v })).toThrow(/op softmaxGradBackpropY\) has no gradient rule/);
  });

  it('shape errors', () => {
    const g = new Graph();
    expect(() => softmax(g.placeholder('s', []))).toThrow(ShapeError);
    expect(() => softmax(g.placeholder('s2', []), 'probs')).toThrow(/^probs \(op softmax, inputs \[\] float32\): softmax needs at least one axis/);
    expect(() => softmaxGrad(g.placeholder('a', [2, 3]), g.placeholder('b', [2, 4]))).toThrow(/y \[2,4\] must have the shape of dy \[2,3\]/);
  });

  it('keeps an unknown batch dimension and runs with the fed size', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 2], 'float64');
    const y = softmax(x);
    expect(y.shape).toEqual([-1, 2]);
    const out = new Session(g).run(y, [
      [
        x,
        tensor(
          [
            [0, Math.log(3)],
            [0, 0],
            [Math.log(3), 0],
          ],
          undefined,
          'float64',
        ),
      ],
    ]);
    expectClose(out, [0.25, 0.75, 0.5, 0.5, 0.75, 0.25], 1e-12);
  });
});
