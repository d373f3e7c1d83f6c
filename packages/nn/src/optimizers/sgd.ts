/**
 * Plain stochastic gradient descent:
 *   g ← grad + weightDecay·w
 *   w ← w − lr·g
 * No slots.
 */
import type { FloatArray } from '@ndgraph/graph';
import { BaseOptimizer, type Optimizer, type CommonOptimizerOptions } from './optimizer.ts';

export type SgdOptions = CommonOptimizerOptions;

class Sgd extends BaseOptimizer {
  readonly name = 'sgd';
  constructor(options: SgdOptions) {
    super('sgd', options, []);
  }

  protected updateParam(
    value: FloatArray,
    valueOffset: number,
    grad: FloatArray,
    gradOffset: number,
    size: number,
    slots: readonly FloatArray[],
    lr: number,
  ): void {
    const decay = this.weightDecay;
    if (this.backendStep('sgdStep', value, valueOffset, grad, gradOffset, slots, size, [lr, decay])) return;
    for (let i = 0; i < size; i++) {
      const w = value[valueOffset + i];
      const g = grad[gradOffset + i] + decay * w;
      value[valueOffset + i] = w - lr * g;
    }
  }
}

export function sgd(options: SgdOptions): Optimizer {
  return new Sgd(options);
}
