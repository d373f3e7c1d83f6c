/**
 * Learning-rate schedules: functions from the optimizer step (0 for the first
 * update, 1 for the second, ...) to the learning rate that step uses.
 *
 *   constantRate(lr)                                       lr
 *   stepDecay({ initial, factor, every })                  initial · factor^floor(step / every)
 *   exponentialDecay({ initial, decayRate, decaySteps })   initial · decayRate^(step / decaySteps)
 *                       (staircase: true)                  initial · decayRate^floor(step / decaySteps)
 *   cosineDecay({ initial, totalSteps, final = 0 })        final + (initial − final) · ½(1 + cos(π · min(step, totalSteps) / totalSteps))
 */

/** The learning rate for a given step (the number of updates done before it). */
export type LearningRateSchedule = (step: number) => number;

/** What optimizers accept: a fixed rate or a schedule. */
export type LearningRate = number | LearningRateSchedule;

function requireFinite(who: string, name: string, value: number, rule: (v: number) => boolean, ruleText: string): void {
  if (!Number.isFinite(value) || !rule(value)) throw new RangeError(`${who}: expected ${name} ${ruleText}, found ${value}`);
}

const nonNegative = (v: number) => v >= 0;
const positive = (v: number) => v > 0;

export function constantRate(learningRate: number): LearningRateSchedule {
  requireFinite('constantRate', 'learningRate', learningRate, nonNegative, '≥ 0');
  return () => learningRate;
}

export interface StepDecayOptions {
  initial: number;
  /** Multiplier applied every `every` steps (e.g. 0.1). */
  factor: number;
  every: number;
}

export function stepDecay({ initial, factor, every }: StepDecayOptions): LearningRateSchedule {
  requireFinite('stepDecay', 'initial', initial, nonNegative, '≥ 0');
  requireFinite('stepDecay', 'factor', factor, nonNegative, '≥ 0');
  requireFinite('stepDecay', 'every', every, (v) => Number.isInteger(v) && v > 0, 'a positive integer');
  return (step) => initial * Math.pow(factor, Math.floor(step / every));
}

export interface ExponentialDecayOptions {
  initial: number;
  /** The rate is multiplied by this every `decaySteps` steps. */
  decayRate: number;
  decaySteps: number;
  /** Decay in whole jumps at multiples of `decaySteps` instead of smoothly. Default false. */
  staircase?: boolean;
}

export function exponentialDecay({ initial, decayRate, decaySteps, staircase = false }: ExponentialDecayOptions): LearningRateSchedule {
  requireFinite('exponentialDecay', 'initial', initial, nonNegative, '≥ 0');
  requireFinite('exponentialDecay', 'decayRate', decayRate, nonNegative, '≥ 0');
  requireFinite('exponentialDecay', 'decaySteps', decaySteps, positive, '> 0');
  return (step) => {
    const exponent = staircase ? Math.floor(step / decaySteps) : step / decaySteps;
    return initial * Math.pow(decayRate, exponent);
  };
}

export interface CosineDecayOptions {
  initial: number;
  /** The step at which the rate reaches `final`; it stays there afterwards. */
  totalSteps: number;
  /** Default 0. */
  final?: number;
}

export function cosineDecay({ initial, totalSteps, final = 0 }: CosineDecayOptions): LearningRateSchedule {
  requireFinite('cosineDecay', 'initial', initial, nonNegative, '≥ 0');
  requireFinite('cosineDecay', 'final', final, nonNegative, '≥ 0');
  requireFinite('cosineDecay', 'totalSteps', totalSteps, positive, '> 0');
  return (step) => {
    const progress = Math.min(Math.max(step, 0), totalSteps) / totalSteps;
    return final + (initial - final) * 0.5 * (1 + Math.cos(Math.PI * progress));
  };
}
