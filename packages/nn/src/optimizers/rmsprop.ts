/**
 * RMSprop (Tieleman & Hinton 2012):
 *   g ← grad + weightDecay·w
 *   s ← decay·s + (1 − decay)·g²
 *   w ← w − lr · g / (√s + ε)
 * ε is added outside the square root, as in PyTorch and Keras.
 * Slot: 's' (running mean of g²), starting at zero.
 */
import type { FloatArray } from '@ndgraph/graph';
import { BaseOptimizer, type Optimizer, type CommonOptimizerOptions, checkOption, inUnitInterval, positive } from './optimizer.ts';
import type { LearningRate } from '../schedules.ts';

export interface RmspropOptions extends Omit<CommonOptimizerOptions, 'learningRate'> {
  /** Default 1e-3. */
  learningRate?: LearningRate;
  /** Default 0.9. */
  decay?: number;
  /** Default 1e-8. */
  epsilon?: number;
}

class Rmsprop extends BaseOptimizer {
  readonly name = 'rmsprop';
  private readonly decay: number;
  private readonly epsilon: number;

  constructor(options: RmspropOptions) {
    super('rmsprop', { ...options, learningRate: options.learningRate ?? 1e-3 }, ['s']);
    this.decay = checkOption('rmsprop', 'decay', options.decay ?? 0.9, inUnitInterval, 'in [0, 1)');
    this.epsilon = checkOption('rmsprop', 'epsilon', options.epsilon ?? 1e-8, positive, '> 0');
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
    const meanSquare = slots[0];
    const { decay, epsilon, weightDecay } = this;
    if (this.backendStep('rmspropStep', value, valueOffset, grad, gradOffset, slots, size, [decay, lr, epsilon, weightDecay])) return;
    for (let i = 0; i < size; i++) {
      const w = value[valueOffset + i];
      const g = grad[gradOffset + i] + weightDecay * w;
      const s = decay * meanSquare[i] + (1 - decay) * g * g;
      meanSquare[i] = s;
      value[valueOffset + i] = w - (lr * g) / (Math.sqrt(s) + epsilon);
    }
  }
}

export function rmsprop(options: RmspropOptions = {}): Optimizer {
  return new Rmsprop(options);
}
