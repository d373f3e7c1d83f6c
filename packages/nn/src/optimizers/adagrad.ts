/**
 * Adagrad (Duchi et al. 2011):
 *   g ← grad + weightDecay·w
 *   s ← s + g²
 *   w ← w − lr · g / (√s + ε)
 * The accumulator starts at zero (as in PyTorch; TensorFlow starts it at 0.1).
 * Slot: 's' (sum of squared gradients).
 */
import type { FloatArray } from '@ndgraph/graph';
import { BaseOptimizer, type Optimizer, type CommonOptimizerOptions, checkOption, positive } from './optimizer.ts';
import type { LearningRate } from '../schedules.ts';

export interface AdagradOptions extends Omit<CommonOptimizerOptions, 'learningRate'> {
  /** Default 0.01. */
  learningRate?: LearningRate;
  /** Default 1e-8. */
  epsilon?: number;
}

class Adagrad extends BaseOptimizer {
  readonly name = 'adagrad';
  private readonly epsilon: number;

  constructor(options: AdagradOptions) {
    super('adagrad', { ...options, learningRate: options.learningRate ?? 0.01 }, ['s']);
    this.epsilon = checkOption('adagrad', 'epsilon', options.epsilon ?? 1e-8, positive, '> 0');
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
    const sumSquares = slots[0];
    const { epsilon, weightDecay } = this;
    if (this.backendStep('adagradStep', value, valueOffset, grad, gradOffset, slots, size, [lr, epsilon, weightDecay])) return;
    for (let i = 0; i < size; i++) {
      const w = value[valueOffset + i];
      const g = grad[gradOffset + i] + weightDecay * w;
      const s = sumSquares[i] + g * g;
      sumSquares[i] = s;
      value[valueOffset + i] = w - (lr * g) / (Math.sqrt(s) + epsilon);
    }
  }
}

export function adagrad(options: AdagradOptions = {}): Optimizer {
  return new Adagrad(options);
}
