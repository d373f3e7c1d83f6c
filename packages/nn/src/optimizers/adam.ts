/**
 * Adam (Kingma & Ba 2015, Algorithm 1), with bias correction. At step t = 1, 2, ...:
 *   g ← grad + weightDecay·w            (L2, coupled: the decay goes through the moments)
 *   m ← β1·m + (1 − β1)·g
 *   v ← β2·v + (1 − β2)·g²
 *   m̂ = m / (1 − β1^t),  v̂ = v / (1 − β2^t)
 *   w ← w − lr · m̂ / (√v̂ + ε)
 * Slots: 'm' (first moment) and 'v' (second moment), starting at zero.
 *
 * AdamW (Loshchilov & Hutter 2019) decouples the decay from the gradient:
 *   w ← w − lr · (m̂ / (√v̂ + ε) + weightDecay·w)       (the moments see the raw gradient)
 */
import type { FloatArray } from '@ndgraph/graph';
import { BaseOptimizer, type Optimizer, type CommonOptimizerOptions, checkOption, inUnitInterval, positive } from './optimizer.ts';
import type { LearningRate } from '../schedules.ts';

export interface AdamOptions extends Omit<CommonOptimizerOptions, 'learningRate'> {
  /** Default 1e-3. */
  learningRate?: LearningRate;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8. */
  epsilon?: number;
}

class Adam extends BaseOptimizer {
  readonly name: string;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  /** True for AdamW: the decay is applied to the weights directly instead of through the gradient. */
  private readonly decoupledDecay: boolean;

  constructor(name: 'adam' | 'adamw', options: AdamOptions, decoupledDecay: boolean) {
    super(name, { ...options, learningRate: options.learningRate ?? 1e-3 }, ['m', 'v']);
    this.name = name;
    this.decoupledDecay = decoupledDecay;
    this.beta1 = checkOption(name, 'beta1', options.beta1 ?? 0.9, inUnitInterval, 'in [0, 1)');
    this.beta2 = checkOption(name, 'beta2', options.beta2 ?? 0.999, inUnitInterval, 'in [0, 1)');
    this.epsilon = checkOption(name, 'epsilon', options.epsilon ?? 1e-8, positive, '> 0');
  }

  protected updateParam(
    value: FloatArray,
    valueOffset: number,
    grad: FloatArray,
    gradOffset: number,
    size: number,
    slots: readonly FloatArray[],
    lr: number,
    step: number,
  ): void {
    const m = slots[0];
    const v = slots[1];
    const { beta1, beta2, epsilon } = this;
    const t = step + 1;
    const correction1 = 1 - Math.pow(beta1, t);
    const correction2 = 1 - Math.pow(beta2, t);
    const coupledDecay = this.decoupledDecay ? 0 : this.weightDecay;
    const decoupledDecay = this.decoupledDecay ? this.weightDecay : 0;
    const parameters = [beta1, beta2, lr, epsilon, correction1, correction2, coupledDecay, decoupledDecay];
    if (this.backendStep('adamStep', value, valueOffset, grad, gradOffset, slots, size, parameters)) return;
    for (let i = 0; i < size; i++) {
      const w = value[valueOffset + i];
      const g = grad[gradOffset + i] + coupledDecay * w;
      const mi = beta1 * m[i] + (1 - beta1) * g;
      const vi = beta2 * v[i] + (1 - beta2) * g * g;
      m[i] = mi;
      v[i] = vi;
      const mHat = mi / correction1;
      const vHat = vi / correction2;
      value[valueOffset + i] = w - lr * (mHat / (Math.sqrt(vHat) + epsilon) + decoupledDecay * w);
    }
  }
}

export function adam(options: AdamOptions = {}): Optimizer {
  return new Adam('adam', options, false);
}

/** Adam with decoupled weight decay (see the comment at the top of the file). */
export function adamw(options: AdamOptions = {}): Optimizer {
  return new Adam('adamw', options, true);
}
