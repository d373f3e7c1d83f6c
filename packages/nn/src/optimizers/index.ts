/** Optimizers by factory (`adam({ learningRate: 1e-3 })`) or by name (`createOptimizer('adam', {...})`). */
import { GraphError } from '@ndgraph/graph';
import type { LearningRate } from '../schedules.ts';
import type { Optimizer } from './optimizer.ts';
import { sgd } from './sgd.ts';
import { momentum } from './momentum.ts';
import { nesterov } from './nesterov.ts';
import { adam, adamw } from './adam.ts';
import { rmsprop } from './rmsprop.ts';
import { adagrad } from './adagrad.ts';

export { type Optimizer, type OptimizerState, type OptimizerStepKernel, type ParamUpdate, type CommonOptimizerOptions, BaseOptimizer } from './optimizer.ts';
export { sgd, type SgdOptions } from './sgd.ts';
export { momentum, type MomentumOptions } from './momentum.ts';
export { nesterov, type NesterovOptions } from './nesterov.ts';
export { adam, adamw, type AdamOptions } from './adam.ts';
export { rmsprop, type RmspropOptions } from './rmsprop.ts';
export { adagrad, type AdagradOptions } from './adagrad.ts';

/**
 * Options for `createOptimizer`: the union of every optimizer's options.
 * Options that the named optimizer does not use are rejected, so a typo'd or
 * misplaced option (say `beta1` for 'sgd') does not pass silently.
 */
export interface OptimizerOptions {
  learningRate?: LearningRate;
  weightDecay?: number;
  momentum?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  decay?: number;
}

/**
 * Each optimizer's default learning rate, for LeNet-5-sized conv nets on
 * MNIST (batch 64; `pnpm train` decays it ×0.7 per epoch): plain SGD and
 * momentum want large steps, the adaptive ones (Adam, RMSProp) small ones.
 */
export const DEFAULT_LEARNING_RATES = {
  sgd: 0.1,
  momentum: 0.05,
  nesterov: 0.05,
  adam: 1e-3,
  adamw: 1e-3,
  rmsprop: 1e-3,
  adagrad: 0.01,
} as const;

const rateOf = (name: OptimizerName, o: OptimizerOptions): LearningRate => o.learningRate ?? DEFAULT_LEARNING_RATES[name];

const FACTORIES = {
  sgd: { create: (o: OptimizerOptions) => sgd({ ...o, learningRate: rateOf('sgd', o) }), options: [] as string[] },
  momentum: { create: (o: OptimizerOptions) => momentum({ ...o, learningRate: rateOf('momentum', o) }), options: ['momentum'] },
  nesterov: { create: (o: OptimizerOptions) => nesterov({ ...o, learningRate: rateOf('nesterov', o) }), options: ['momentum'] },
  adam: { create: (o: OptimizerOptions) => adam({ ...o, learningRate: rateOf('adam', o) }), options: ['beta1', 'beta2', 'epsilon'] },
  adamw: { create: (o: OptimizerOptions) => adamw({ ...o, learningRate: rateOf('adamw', o) }), options: ['beta1', 'beta2', 'epsilon'] },
  rmsprop: { create: (o: OptimizerOptions) => rmsprop({ ...o, learningRate: rateOf('rmsprop', o) }), options: ['decay', 'epsilon'] },
  adagrad: { create: (o: OptimizerOptions) => adagrad({ ...o, learningRate: rateOf('adagrad', o) }), options: ['epsilon'] },
} as const;

export type OptimizerName = keyof typeof FACTORIES;
export const OPTIMIZER_NAMES = Object.keys(FACTORIES) as OptimizerName[];

/** An optimizer by name: 'sgd' | 'momentum' | 'nesterov' | 'adam' | 'adamw' | 'rmsprop' | 'adagrad'; the learning rate defaults to DEFAULT_LEARNING_RATES. */
export function createOptimizer(name: string, options: OptimizerOptions = {}): Optimizer {
  const key = name.trim().toLowerCase();
  if (!Object.hasOwn(FACTORIES, key)) throw new GraphError(`unknown optimizer '${name}'; expected one of: ${OPTIMIZER_NAMES.join(', ')}`);
  const factory = FACTORIES[key as OptimizerName];
  const allowed = new Set(['learningRate', 'weightDecay', ...factory.options]);
  for (const option of Object.keys(options)) {
    if (!allowed.has(option) && options[option as keyof OptimizerOptions] !== undefined) {
      throw new GraphError(`createOptimizer('${key}'): unknown option '${option}'; ${key} accepts ${[...allowed].join(', ')}`);
    }
  }
  return factory.create(options);
}
