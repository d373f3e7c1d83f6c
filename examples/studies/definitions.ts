/**
 * The seed article's comparisons as data: each study is a base training
 * configuration and a list of variants that change one thing. Every variant
 * of a study is trained with the same seeds, so the data order, the initial
 * weights (where the variants share an architecture and an initializer) and
 * the dropout masks are the same across variants; only the thing under study
 * differs. Browser-safe.
 */
import { GraphError } from '@ndgraph/graph';
import type { ActivationName, TrainConfig } from '@ndgraph/nn';

/** What a variant changes relative to its study's base configuration. */
export type VariantConfig = Partial<Omit<TrainConfig, 'epochs' | 'seed' | 'model'>> & { model?: TrainConfig['model'] };

export interface StudyVariant {
  /** Short machine name, unique within the study (`he-relu`). */
  id: string;
  /** Name shown in figures and tables (`He (MSRA), relu`). */
  label: string;
  config: VariantConfig;
}

/**
 * A small learning-rate search, run before the study on one seed: each
 * variant is trained at each candidate rate on the training set minus a
 * held-out validation slice, and the study then uses the smallest rate whose
 * validation accuracy is within one standard error of the best (see
 * `oneStandardErrorChoice`). The test set is never looked at.
 */
export interface LearningRateSweep {
  /** Candidate rates for each variant id. */
  candidates: Record<string, readonly number[]>;
  /**
   * Epochs per candidate run. Default: as many as the study's runs, so the
   * sweep sees instabilities that only show late (a short sweep favours
   * rates that are fast at first and unstable later).
   */
  epochs?: number;
  /** Fraction of the training set held out for validation (taken from its end). */
  validationFraction: number;
  /** Seed of the sweep runs. */
  seed: number;
}

export type StudyName = 'initializers' | 'activations' | 'optimizers' | 'losses' | 'tricks';

export interface Study {
  name: StudyName;
  title: string;
  /** The question the study answers, one sentence. */
  question: string;
  /** The configuration every variant starts from (epochs and seed are given when the study is run). */
  base: Omit<TrainConfig, 'epochs' | 'seed'>;
  variants: readonly StudyVariant[];
  /** Record dead/saturated units and per-layer gradient norms while training. */
  gradientFlow?: boolean;
  sweep?: LearningRateSweep;
}

/** The training setup of `pnpm train`: LeNet-5, relu, He init, momentum 0.9 at 0.05, batch 64, softmax cross-entropy. */
export const STUDY_BASE_CONFIG: Omit<TrainConfig, 'epochs' | 'seed'> & { learningRate: number } = {
  batchSize: 64,
  optimizer: 'momentum',
  learningRate: 0.05,
  loss: 'cross-entropy',
  init: 'he',
  evalBatchSize: 500,
  model: { activation: 'relu' },
};

const INITIALIZERS: readonly [id: string, init: string, label: string][] = [
  ['he', 'he', 'He/MSRA'],
  ['xavier', 'xavier', 'Xavier/Glorot'],
  ['lecun', 'lecun', 'LeCun'],
  ['normal', 'normal:0.01', 'normal(0, 0.01)'],
];

const initializerStudy: Study = {
  name: 'initializers',
  title: 'Weight initialization',
  question: 'How much does the scale of the initial weights matter, with relu and with tanh?',
  base: STUDY_BASE_CONFIG,
  variants: (['relu', 'tanh'] as const).flatMap((activation) =>
    INITIALIZERS.map(([id, init, label]) => ({ id: `${id}-${activation}`, label: `${label}, ${activation}`, config: { init, model: { activation } } })),
  ),
};

const ACTIVATIONS: readonly [ActivationName, string][] = [
  ['relu', 'relu'],
  ['leakyRelu', 'leaky relu (0.01)'],
  ['elu', 'elu (1)'],
  ['sigmoid', 'sigmoid'],
  ['tanh', 'tanh'],
];

const activationStudy: Study = {
  name: 'activations',
  title: 'Activation functions',
  question: 'Do relu-family activations train LeNet-5 faster than sigmoid and tanh, and where do the gradients vanish?',
  base: STUDY_BASE_CONFIG,
  // The same He-initialized weights for every activation, so the activation is the only difference.
  variants: ACTIVATIONS.map(([activation, label]) => ({ id: activation, label, config: { model: { activation } } })),
  gradientFlow: true,
};

/**
 * Each optimizer with its usual hyperparameters (momentum 0.9; Adam β = 0.9,
 * 0.999; RMSProp decay 0.9), its usual learning rate (used when the sweep is
 * skipped) and a grid of rates around it, about ×3 apart, for the sweep.
 */
const OPTIMIZER_GRIDS: readonly [optimizer: string, label: string, usualRate: number, grid: readonly number[]][] = [
  ['sgd', 'SGD', 0.1, [0.03, 0.1, 0.3]],
  ['momentum', 'momentum (0.9)', 0.03, [0.01, 0.03, 0.1]],
  ['nesterov', 'Nesterov (0.9)', 0.03, [0.01, 0.03, 0.1]],
  ['adam', 'Adam', 1e-3, [3e-4, 1e-3, 3e-3, 1e-2]],
  ['rmsprop', 'RMSProp', 1e-3, [3e-4, 1e-3, 3e-3, 1e-2]],
  ['adagrad', 'AdaGrad', 0.03, [0.01, 0.03, 0.1]],
];

const optimizerStudy: Study = {
  name: 'optimizers',
  title: 'Optimizers',
  question: 'How do SGD, momentum, Nesterov, Adam, RMSProp and AdaGrad compare, each at a rate that suits it?',
  base: STUDY_BASE_CONFIG,
  variants: OPTIMIZER_GRIDS.map(([optimizer, label, learningRate]) => ({ id: optimizer, label, config: { optimizer, learningRate } })),
  sweep: {
    candidates: Object.fromEntries(OPTIMIZER_GRIDS.map(([optimizer, , , grid]) => [optimizer, grid])),
    validationFraction: 0.125,
    seed: 0,
  },
};

const lossStudy: Study = {
  name: 'losses',
  title: 'Loss functions',
  question: 'Softmax cross-entropy or mean squared error on the softmax, same network, same weights, same optimizer?',
  base: STUDY_BASE_CONFIG,
  variants: [
    { id: 'cross-entropy', label: 'softmax cross-entropy', config: { loss: 'cross-entropy' } },
    { id: 'mse', label: 'MSE on the softmax', config: { loss: 'mse' } },
  ],
};

/** The "5× the normal rate" of the batchnorm comparison. */
export const HIGH_RATE_FACTOR = 5;

const tricksStudy: Study = {
  name: 'tricks',
  title: 'Dropout, batch normalization, residual blocks',
  question: 'What do dropout, batchnorm and residual blocks add to plain LeNet-5, and does batchnorm make a high learning rate safe?',
  base: STUDY_BASE_CONFIG,
  variants: [
    { id: 'plain', label: 'plain', config: {} },
    { id: 'dropout', label: 'dropout 0.5', config: { model: { dropout: 0.5 } } },
    { id: 'batchnorm', label: 'batchnorm', config: { model: { batchNorm: true } } },
    { id: 'residual', label: 'residual blocks', config: { model: { residual: true } } },
    { id: 'plain-high-lr', label: `plain, lr ×${HIGH_RATE_FACTOR}`, config: { learningRate: STUDY_BASE_CONFIG.learningRate * HIGH_RATE_FACTOR } },
    {
      id: 'batchnorm-high-lr',
      label: `batchnorm, lr ×${HIGH_RATE_FACTOR}`,
      config: { learningRate: STUDY_BASE_CONFIG.learningRate * HIGH_RATE_FACTOR, model: { batchNorm: true } },
    },
  ],
};

/** Every study, in the order `pnpm compare` runs them. */
export const STUDIES: readonly Study[] = [initializerStudy, activationStudy, optimizerStudy, lossStudy, tricksStudy];

export const STUDY_NAMES: readonly StudyName[] = STUDIES.map((s) => s.name);

export function studyByName(name: string): Study {
  const study = STUDIES.find((s) => s.name === name);
  if (!study) throw new GraphError(`unknown study '${name}'; expected one of: ${STUDY_NAMES.join(', ')}`);
  return study;
}

/** The full training configuration of one variant run. */
export function variantTrainConfig(study: Study, variant: StudyVariant, epochs: number, seed: number): TrainConfig {
  const { model, ...rest } = variant.config;
  return { ...study.base, ...rest, model: { ...study.base.model, ...model }, epochs, seed };
}
