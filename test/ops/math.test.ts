import { describe, it, expect } from 'vitest';
import { exp, log, sqrt } from '@ndgraph/ops';
import type { DType, Node } from '@ndgraph/graph';
import { evaluate, expectClose, expectGradcheck, randomTensor, tensor, toArray } from '../helpers.ts';

// Golden values: e^x, ln x and √x at simple points, written out to 16 digits.
const goldens: { label: string; op: (x: Node) => Node; inputs: number[]; expected: number[] }[] = [
  { label: 'exp', op: exp, inputs: [-2, -0.5, 0, 1, 3], expected: [0.1353352832366127, 0.6065306597126334, 1, 2.718281828459045, 20.085536923187668] },
  { label: 'log', op: log, inputs: [0.25, 1, 2, 10, 100], expected: [-1.3862943611198906, 0, 0.6931471805599453, 2.302585092994046, 4.605170185988092] },
  { label: 'sqrt', op: sqrt, inputs: [0, 0.25, 2, 9, 1e-4], expected: [0, 0.5, 1.4142135623730951, 3, 0.01] },
];

const dtypes: [DType, number][] = [
  ['float32', 1e-6],
  ['float64', 1e-14],
];

describe('exp, log, sqrt', () => {
  for (const [dtype, tol] of dtypes) {
    it(`golden values in ${dtype}`, () => {
      for (const { op, inputs, expected } of goldens) {
        const out = evaluate((x) => op(x), [tensor(inputs, [inputs.length], dtype)]);
        expect(out.dtype).toBe(dtype);
        expect(out.shape).toEqual([inputs.length]);
        expectClose(out, expected, tol);
      }
    });
  }

  it('follow Math at the edges of their domains: log 0 = −∞, log(−1) and sqrt(−1) are NaN', () => {
    const edge = tensor([0, -1], [2], 'float64');
    expect(toArray(evaluate((x) => log(x), [edge]))).toEqual([-Infinity, NaN]);
    expect(toArray(evaluate((x) => sqrt(x), [edge]))).toEqual([0, NaN]);
    expect(toArray(evaluate((x) => exp(x), [tensor([1000, -1000], [2], 'float64')]))).toEqual([Infinity, 0]);
  });

  it('keep the shape of a 4-D NHWC input', () => {
    const x = randomTensor([2, 3, 3, 4], 5, 0.5, 2, 'float32');
    const out = evaluate((p) => sqrt(p), [x]);
    expect(out.shape).toEqual([2, 3, 3, 4]);
    expectClose(out, toArray(x).map(Math.sqrt), 1e-6);
  });

  // log and sqrt get positive inputs (away from 0, where log and √ are not differentiable).
  const shapes = [[5], [3, 4], [2, 3, 3, 4]];
  for (const shape of shapes) {
    it(`gradcheck on ${JSON.stringify(shape)}`, () => {
      expectGradcheck(`exp ${JSON.stringify(shape)}`, (p) => exp(p), [randomTensor(shape, 3, -2, 2)]);
      expectGradcheck(`log ${JSON.stringify(shape)}`, (p) => log(p), [randomTensor(shape, 4, 0.2, 3)]);
      expectGradcheck(`sqrt ${JSON.stringify(shape)}`, (p) => sqrt(p), [randomTensor(shape, 6, 0.2, 3)]);
    });
  }
});
