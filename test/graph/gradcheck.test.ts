import { describe, it, expect } from 'vitest';
import { Graph, Session, defineOp, gradcheck, gradients, tensor, toArray } from '@ndgraph/graph';
import { mul, square, scale, add } from '@ndgraph/ops';
import { randomTensor } from '../helpers.ts';

const cube = defineOp({
  name: 'cubeWithWrongGrad',
  arity: 1,
  inferShape: ([x]) => ({ shape: x.shape.slice(), dtype: x.dtype }),
  forward([x], _a, ctx) {
    const o = ctx.output();
    for (let i = 0; i < o.size; i++) o.data[i] = x.data[x.offset + i] ** 3;
    return o;
  },
  grad: (_c, dy, node) => [mul(dy, scale(square(node.inputs[0]), 2.9))], // should be 3x²
});

describe('gradcheck', () => {
  it('passes for a correct gradient and reports tiny errors', () => {
    const report = gradcheck((x, y) => mul(square(x), y), [randomTensor([3, 2], 1), randomTensor([3, 2], 2)]);
    expect(report.ok).toBe(true);
    expect(report.inputs).toHaveLength(2);
    expect(report.maxRelError).toBeLessThan(1e-7);
  });

  it('fails for a wrong gradient and says where', () => {
    const report = gradcheck(
      (x) => cube([x]),
      [
        tensor([
          [0.5, -1],
          [2, 1.5],
        ]),
      ],
    );
    expect(report.ok).toBe(false);
    expect(report.inputs[0].ok).toBe(false);
    // 2.9x² vs 3x²: relative error 1/30 everywhere
    expect(report.maxRelError).toBeCloseTo(1 / 30, 6);
    expect(report.summary).toMatch(/input 0 \[2,2\]: FAIL/);
  });

  it('checks only the inputs asked for and leaves int inputs alone', () => {
    const report = gradcheck((x, y) => add(x, y), [randomTensor([2], 3), randomTensor([2], 4)], { wrt: [1] });
    expect(report.inputs.map((r) => r.input)).toEqual([1]);
  });
});

describe('second-order gradients', () => {
  it('d²/dx² of x·x·x is 6x', () => {
    const g = new Graph();
    const x = g.placeholder('x', [4], 'float64');
    const y = mul(mul(x, x), x);
    const ones = g.constant(tensor([1, 1, 1, 1], [4], 'float64'));
    const [dx] = gradients(y, [x], { dy: ones });
    const [d2x] = gradients(dx, [x], { dy: ones });
    const s = new Session(g);
    const xs = [-1.5, 0, 0.5, 2];
    const [first, second] = s.run([dx, d2x], { x: tensor(xs, [4], 'float64') });
    expect(toArray(first)).toEqual(xs.map((v) => 3 * v * v));
    expect(toArray(second)).toEqual(xs.map((v) => 6 * v));
  });

  it('the gradient graph itself passes gradcheck', () => {
    // f(x) = dy/dx of Σ x²·x  — a node built by gradients(), checked by finite differences.
    const report = gradcheck(
      (x) => {
        const g = x.graph;
        const ones = g.constant(tensor([1, 1, 1], [3], 'float64'));
        return gradients(mul(square(x), x), [x], { dy: ones })[0];
      },
      [randomTensor([3], 9)],
    );
    expect(report.ok, report.summary).toBe(true);
  });
});
