/**
 * Nesterov accelerated gradient, in the form used by Keras and by Bengio et
 * al. (2013) that only needs the gradient at the current weights:
 *   g ← grad + weightDecay·w
 *   v ← μ·v − lr·g
 *   w ← w + μ·v − lr·g          (the look-ahead: one more momentum step past the plain update)
 * Slot: 'v' (velocity), starting at zero. Same velocity convention as `momentum`.
 */
import type { FloatArray } from '@ndgraph/graph';
import { BaseOptimizer, type Optimizer, checkOption, inUnitInterval } from './optimizer.ts';
import type { MomentumOptions } from './momentum.ts';

export type NesterovOptions = MomentumOptions;

class Nesterov extends BaseOptimizer {
  readonly name = 'nesterov';
  private readonly momentum: number;
  constructor(options: NesterovOptions) {
    super('nesterov', options, ['v']);
    this.momentum = checkOption('nesterov', 'momentum', options.momentum ?? 0.9, inUnitInterval, 'in [0, 1)');
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
    const velocity = slots[0];
    const mu = this.momentum;
    const decay = this.weightDecay;
    if (this.backendStep('nesterovStep', value, valueOffset, grad, gradOffset, slots, size, [mu, lr, decay])) return;
    for (let i = 0; i < size; i++) {
      const w = value[valueOffset + i];
      const g = grad[gradOffset + i] + decay * w;
      const v = mu * velocity[i] - lr * g;
      velocity[i] = v;
      value[valueOffset + i] = w + mu * v - lr * g;
    }
  }
}

export function nesterov(options: NesterovOptions): Optimizer {
  return new Nesterov(options);
}
