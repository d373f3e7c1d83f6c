/**
 * SGD with (heavy-ball) momentum, in the classical form of Sutskever et al. (2013):
 *   g ← grad + weightDecay·w
 *   v ← μ·v − lr·g
 *   w ← w + v
 * The learning rate is folded into the velocity, so when a schedule changes
 * the rate, the change only reaches the part of the velocity added from then
 * on. (PyTorch instead keeps v ← μ·v + g and steps w ← w − lr·v; with a fixed
 * rate both give the same weights.)
 * Slot: 'v' (velocity), starting at zero.
 */
import type { FloatArray } from '@ndgraph/graph';
import { BaseOptimizer, type Optimizer, type CommonOptimizerOptions, checkOption, inUnitInterval } from './optimizer.ts';

export interface MomentumOptions extends CommonOptimizerOptions {
  /** μ, in [0, 1). Default 0.9. */
  momentum?: number;
}

class Momentum extends BaseOptimizer {
  readonly name = 'momentum';
  private readonly momentum: number;
  constructor(options: MomentumOptions) {
    super('momentum', options, ['v']);
    this.momentum = checkOption('momentum', 'momentum', options.momentum ?? 0.9, inUnitInterval, 'in [0, 1)');
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
    if (this.backendStep('momentumStep', value, valueOffset, grad, gradOffset, slots, size, [mu, lr, decay])) return;
    for (let i = 0; i < size; i++) {
      const w = value[valueOffset + i];
      const g = grad[gradOffset + i] + decay * w;
      const v = mu * velocity[i] - lr * g;
      velocity[i] = v;
      value[valueOffset + i] = w + v;
    }
  }
}

export function momentum(options: MomentumOptions): Optimizer {
  return new Momentum(options);
}
