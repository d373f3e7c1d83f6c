/**
 * The model variants of the benchmarks (bench/variants.ts, bench/versus.ts
 * --variant): the seed article's comparisons, one change each from relu
 * LeNet-5 with momentum, and a CNN with batchnorm and a residual block.
 */
import type { TrainConfig } from '@ndgraph/nn';

export interface ModelVariant {
  name: string;
  config?: Partial<TrainConfig>;
  /** A built-in model, by its `modelByName` name, instead of LeNet-5. */
  modelName?: string;
}

export const WEIGHT_DECAY = 5e-4;
const lenet = (options: NonNullable<TrainConfig['model']>): Partial<TrainConfig> => ({ model: options });

/** The seed article's comparisons: one change each from relu LeNet-5 with momentum. */
export const VARIANTS: ModelVariant[] = [
  { name: 'relu' },
  { name: 'batchnorm', config: lenet({ batchNorm: true }) },
  { name: 'tanh', config: lenet({ activation: 'tanh' }) },
  { name: 'sigmoid', config: lenet({ activation: 'sigmoid' }) },
  { name: 'elu', config: lenet({ activation: 'elu' }) },
  { name: 'leaky relu', config: lenet({ activation: 'leakyRelu' }) },
  { name: 'dropout 0.5', config: lenet({ dropout: 0.5 }) },
  { name: 'avg pooling', config: lenet({ pooling: 'avg' }) },
  { name: 'residual', config: lenet({ residual: true }) },
  { name: 'mse loss', config: { loss: 'mse' } },
  { name: 'sgd', config: { optimizer: 'sgd', weightDecay: WEIGHT_DECAY } },
  { name: 'momentum + wd', config: { optimizer: 'momentum', weightDecay: WEIGHT_DECAY } },
  { name: 'nesterov', config: { optimizer: 'nesterov', weightDecay: WEIGHT_DECAY } },
  { name: 'adam', config: { optimizer: 'adam', learningRate: 1e-3, weightDecay: WEIGHT_DECAY } },
  { name: 'adamw', config: { optimizer: 'adamw', learningRate: 1e-3, weightDecay: WEIGHT_DECAY } },
  { name: 'rmsprop', config: { optimizer: 'rmsprop', learningRate: 1e-3, weightDecay: WEIGHT_DECAY } },
  { name: 'adagrad', config: { optimizer: 'adagrad', learningRate: 1e-2, weightDecay: WEIGHT_DECAY } },
  { name: 'cnn-bn-res', modelName: 'cnn-bn-res' },
];
