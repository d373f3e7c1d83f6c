import { describe, it } from 'vitest';
import { tanhGrad, sigmoidGrad } from '@ndgraph/ops';
import { evaluate, expectClose, expectGradcheck, randomTensor, tensor } from '../helpers.ts';

describe('tanhGrad and sigmoidGrad (the backward kernels of tanh and sigmoid)', () => {
  it('golden values', () => {
    const dy = tensor([1, 2, -1, 0.5]);
    const y = tensor([0, 0.5, -0.9, 1]);
    expectClose(
      evaluate((a, b) => tanhGrad(a, b), [dy, y]),
      [1, 2 * 0.75, -1 * (1 - 0.81), 0],
      1e-6,
    );
    expectClose(
      evaluate((a, b) => sigmoidGrad(a, b), [dy, y]),
      [0, 2 * 0.25, -1 * -0.9 * 1.9, 0],
      1e-6,
    );
  });
  it('gradcheck with respect to dy and y', () => {
    const dy = randomTensor([3, 4], 21);
    const y = randomTensor([3, 4], 22, -0.95, 0.95);
    expectGradcheck('tanhGrad', (a, b) => tanhGrad(a, b), [dy, y]);
    expectGradcheck('sigmoidGrad', (a, b) => sigmoidGrad(a, b), [dy, randomTensor([3, 4], 23, 0.05, 0.95)]);
  });
});
