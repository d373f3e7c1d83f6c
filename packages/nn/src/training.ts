/**
 * The training loop, browser-safe: builds the model graph once, then for each
 * batch runs forward + backward in one session run (so dropout masks are the
 * same in both) and applies the optimizer to the variables in place. Files,
 * progress bars and the CLI live in the Node entry (`@ndgraph/nn/node`).
 */
import {
  checkOptionKeys,
  DataError,
  formatShape,
  Graph,
  GraphError,
  gradients,
  type Node,
  Rng,
  type RngState,
  Session,
  shapesEqual,
  type Tensor,
} from '@ndgraph/graph';
import { batchCount, batches } from './data/batches.ts';
import { checkDataset, type Dataset, datasetSize } from './data/dataset.ts';
import { countCorrect, type LossName, lossByName } from './losses.ts';
import { type EpochRecord, MetricsLog } from './metrics.ts';
import type { LeNetOptions } from './models/lenet.ts';
import { asModel, checkLogits, isModelLike, type Model, type ModelBuilder } from './models/model.ts';
import { type LeNetSpecOptions, lenet5Model } from './models/zoo.ts';
import { checkWeights, firstNonFinite, type Prediction, predictWith } from './model-io.ts';
import { createOptimizer, DEFAULT_LEARNING_RATES, type OptimizerName } from './optimizers/index.ts';
import type { Optimizer } from './optimizers/optimizer.ts';
import type { LearningRate } from './schedules.ts';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  /** 'sgd' | 'momentum' | 'nesterov' | 'adam' | 'adamw' | 'rmsprop' | 'adagrad' (or pass an Optimizer to the Trainer). */
  optimizer: string;
  /** Default: the optimizer's own (DEFAULT_LEARNING_RATES). */
  learningRate?: number;
  weightDecay?: number;
  /** Multiply the rate by this factor after every epoch (1 = constant). */
  learningRateDecay?: number;
  seed: number;
  /** A built-in loss by name (or pass a loss function to the Trainer). */
  loss?: LossName;
  /** Initializer name ('he', 'xavier', 'lecun', 'normal:0.01', …) of the default LeNet-5. */
  init?: string;
  /** Options of the default model, LeNet-5 (activation, batchnorm, dropout, ...). Any other model is the Trainer's third argument. */
  model?: LeNetSpecOptions | Omit<LeNetOptions, 'init'>;
  /** Batch size for evaluation runs. Default 500. */
  evalBatchSize?: number;
}

export interface StepInfo {
  epoch: number;
  /** Global step, counted from 1. */
  step: number;
  stepInEpoch: number;
  stepsPerEpoch: number;
  loss: number;
  accuracy: number;
  learningRate: number;
  imagesPerSecond: number;
}

/** What one epoch gave: the same record the metrics log keeps. */
export type EpochInfo = EpochRecord;

/** A loss: a scalar node from the logits and the int32 labels (mean over the batch). */
export type LossFunction = (logits: Node, labels: Node) => Node;

/** What the Trainer can take besides its config: any model, loss and optimizer. */
export interface TrainerParts {
  model?: Model | ModelBuilder;
  loss?: LossFunction;
  optimizer?: Optimizer;
}

export const defaultTrainConfig: TrainConfig & { learningRate: number } = {
  epochs: 8,
  batchSize: 64,
  optimizer: 'momentum',
  learningRate: 0.05,
  // ×0.7 per epoch: 0.05 early for speed, small late steps to settle.
  learningRateDecay: 0.7,
  // LeNet-5 on the full MNIST overfits a little by epoch 8 without it (seed 3: 98.92% test accuracy, 99.18% with it).
  weightDecay: 5e-4,
  seed: 0,
  loss: 'cross-entropy',
  init: 'he',
  evalBatchSize: 500,
};

/**
 * Watches some training steps from outside without changing them, for
 * diagnostics such as dead units or gradient flow. Values handed to the
 * callbacks are only valid during the call: read them, never keep or change them.
 */
export interface TrainingMonitor {
  /** Watch step 1 and then every `everySteps`-th step after it (default 1: every step). */
  everySteps?: number;
  /** Called during a watched step's forward/backward run with each node's value as it is computed. */
  onValue?(node: Node, value: Tensor): void;
  /** Called after a watched step's run, before the optimizer update, with each parameter's gradient. */
  onGradients?(step: { epoch: number; step: number }, parameters: readonly Node[], gradients: readonly Tensor[]): void;
}

/**
 * Owns the graph, session, optimizer and generators of one training run, for
 * any model: `new Trainer(config, data, myModel)`, or with the model, loss and
 * optimizer as parts `{ model, loss, optimizer }`. Without a model it trains
 * LeNet-5 with `config.model`'s options. The input shape and the number of
 * classes come from the data.
 */
export class Trainer {
  readonly graph: Graph;
  readonly model: Model;
  /** Classes the labels hold (largest label + 1, at least 2). */
  readonly classes: number;
  readonly session: Session;
  readonly images: Node;
  readonly labels: Node;
  readonly logits: Node;
  readonly loss: Node;
  readonly parameters: Node[];
  readonly gradients: Node[];
  readonly optimizer: Optimizer;
  /** Shuffles the training data; saved in checkpoints. */
  readonly dataRng: Rng;
  readonly metrics = new MetricsLog();
  /** Optional diagnostics hook; without one, training is exactly as before. */
  monitor: TrainingMonitor | undefined = undefined;
  /** Epochs completed so far. */
  epoch = 0;
  step = 0;

  constructor(
    readonly config: TrainConfig,
    readonly data: { train: Dataset; test: Dataset },
    parts: TrainerParts | Model | ModelBuilder = {},
  ) {
    checkConfig(config);
    checkDataset(data.train, 'training data');
    checkDataset(data.test, 'test data');
    if (datasetSize(data.train) === 0) throw new DataError('training data: expected at least one example, found none');
    if (datasetSize(data.test) === 0) throw new DataError('test data: expected at least one example to evaluate on, found none');
    const given: TrainerParts = isModelLike(parts) ? { model: parts } : parts;
    checkOptionKeys('Trainer parts', given, ['model', 'loss', 'optimizer']);
    this.classes = classCount(data);
    this.model = chooseModel(config, given.model, this.classes);
    this.graph = new Graph({ seed: config.seed });
    const g = this.graph;
    this.images = g.placeholder('images', [-1, ...data.train.images.shape.slice(1)]);
    this.labels = g.placeholder('labels', [-1], 'int32');
    this.logits = checkLogits(this.model.build(this.images), this.images, this.model.name, this.classes);
    this.loss = checkLoss((given.loss ?? lossByName(config.loss ?? 'cross-entropy'))(this.logits, this.labels), this.logits);
    this.parameters = g.trainableVariables();
    if (!this.parameters.length) throw new GraphError(`model ${this.model.name}: it has no trainable variables to train`);
    this.gradients = gradients(this.loss, this.parameters);
    this.session = new Session(g, { seed: config.seed + 1 });
    this.dataRng = new Rng(config.seed + 2);
    this.optimizer = given.optimizer ?? this.optimizerFromConfig();
    this.metrics.meta = { config: JSON.stringify(configJSON(config, this.model)) };
  }

  private optimizerFromConfig(): Optimizer {
    const config = this.config;
    const name = config.optimizer.trim().toLowerCase() as OptimizerName;
    const base = config.learningRate ?? DEFAULT_LEARNING_RATES[name];
    const decay = config.learningRateDecay ?? 1;
    const stepsPerEpoch = this.stepsPerEpoch;
    const rate: LearningRate = base === undefined || decay === 1 ? base : (s: number) => base * Math.pow(decay, Math.floor(s / stepsPerEpoch));
    return createOptimizer(config.optimizer, { learningRate: rate, weightDecay: config.weightDecay ?? 0 });
  }

  /**
   * Checks saved optimizer slots against the parameters: after a step, every
   * parameter has each of the optimizer's slots, of its shape and finite;
   * none names a parameter or slot that does not exist.
   */
  private checkSlots(slots: Record<string, Tensor>, optimizerStep: number, source: string): void {
    const names = this.optimizer.slotNames;
    if (!names) return;
    const problems: string[] = [];
    const expected = new Map<string, Node>();
    if (optimizerStep > 0) for (const p of this.parameters) for (const slot of names) expected.set(`${p.name}/${slot}`, p);
    for (const [key, param] of expected) {
      const t = slots[key];
      if (!t) problems.push(`missing optimizer slot 'optimizer/${key}' for parameter ${param.name}`);
      else if (!shapesEqual(t.shape, param.shape))
        problems.push(`optimizer slot 'optimizer/${key}' is ${formatShape(t.shape)}, but parameter ${param.name} is ${formatShape(param.shape)}`);
      else if (firstNonFinite(t) >= 0) problems.push(`optimizer slot 'optimizer/${key}' holds a non-finite value`);
    }
    for (const key of Object.keys(slots))
      if (!expected.has(key))
        problems.push(`unexpected optimizer slot 'optimizer/${key}': ${this.optimizer.name} has no such slot for a parameter of this model`);
    if (problems.length)
      throw new DataError(
        `${source}: the optimizer state does not fit (${problems.length} problem${problems.length > 1 ? 's' : ''}):\n  ${problems.join('\n  ')}`,
      );
  }

  /** Class probabilities and the most likely class of each image (eval mode). */
  predict(images: Tensor): Prediction {
    return predictWith(this.session, this.images, this.logits, images);
  }

  /**
   * Batch statistics need at least two examples: with batchnorm in the model,
   * a last batch of one is dropped from each training epoch (its example
   * joins another batch in later epochs, as the data are reshuffled).
   */
  private get dropsLastSingle(): boolean {
    return (
      datasetSize(this.data.train) % this.config.batchSize === 1 && datasetSize(this.data.train) > 1 && this.graph.nodes.some((n) => n.op.name === 'batchNorm')
    );
  }

  get stepsPerEpoch(): number {
    return batchCount(datasetSize(this.data.train), this.config.batchSize) - (this.dropsLastSingle ? 1 : 0);
  }

  /** Trains one epoch, then evaluates on the test set. */
  trainEpoch(onStep?: (info: StepInfo) => void): EpochInfo {
    const epoch = this.epoch + 1;
    const started = performance.now();
    const fetches = [this.loss, this.logits, ...this.gradients];
    const params = this.parameters.map((p, i) => ({ name: p.name, value: this.graph.valueOf(p), grad: undefined as unknown as Tensor, index: i }));
    let lossSum = 0,
      correct = 0,
      seen = 0,
      stepInEpoch = 0;
    const dropSingle = this.dropsLastSingle;
    for (const batch of batches(this.data.train, this.config.batchSize, this.dataRng)) {
      if (dropSingle && batch.size === 1) continue;
      const stepStart = performance.now();
      const rate = this.optimizer.learningRate();
      const monitor = this.monitor;
      const watched = monitor !== undefined && this.step % Math.max(1, monitor.everySteps ?? 1) === 0;
      const onValue = watched ? monitor.onValue?.bind(monitor) : undefined;
      const [lossValue, logitsValue, ...grads] = this.session.run(
        fetches,
        [
          [this.images, batch.images],
          [this.labels, batch.labels],
        ],
        { training: true, borrow: true, onValue },
      );
      if (watched) monitor.onGradients?.({ epoch, step: this.step + 1 }, this.parameters, grads);
      const loss = lossValue.data[0];
      if (!Number.isFinite(loss)) throw new DataError(`training diverged: loss is ${loss} at epoch ${epoch}, step ${this.step + 1} (learning rate ${rate})`);
      for (const p of params) p.grad = grads[p.index];
      this.optimizer.step(params);
      this.step++;
      stepInEpoch++;
      const batchCorrect = countCorrect(logitsValue, batch.labels);
      lossSum += loss * batch.size;
      correct += batchCorrect;
      seen += batch.size;
      const seconds = (performance.now() - stepStart) / 1000;
      const info: StepInfo = {
        epoch,
        step: this.step,
        stepInEpoch,
        stepsPerEpoch: this.stepsPerEpoch,
        loss,
        accuracy: batchCorrect / batch.size,
        learningRate: rate,
        imagesPerSecond: batch.size / seconds,
      };
      this.metrics.recordStep({ step: this.step, epoch, loss, accuracy: info.accuracy, learningRate: rate, imagesPerSecond: info.imagesPerSecond });
      onStep?.(info);
    }
    const trainSeconds = (performance.now() - started) / 1000;
    const test = this.evaluate(this.data.test);
    // A diverged run stops here, before anyone saves its weights over a good checkpoint.
    if (!Number.isFinite(test.loss)) throw new DataError(`training diverged: the test loss is ${test.loss} after epoch ${epoch} (step ${this.step})`);
    for (const p of this.parameters) {
      if (firstNonFinite(this.graph.valueOf(p)) >= 0)
        throw new DataError(`training diverged: parameter ${p.name} holds a non-finite value after epoch ${epoch} (step ${this.step})`);
    }
    this.epoch = epoch;
    const info: EpochInfo = {
      epoch,
      step: this.step,
      trainLoss: lossSum / seen,
      trainAccuracy: correct / seen,
      testLoss: test.loss,
      testAccuracy: test.accuracy,
      seconds: trainSeconds,
      imagesPerSecond: seen / trainSeconds,
    };
    this.metrics.recordEpoch(info);
    return info;
  }

  /**
   * Gives the session's buffers back (in kernel memory they would otherwise
   * stay taken until the trainer is garbage-collected). The trainer cannot
   * run after this; its weights and metrics stay readable.
   */
  dispose(): void {
    this.session.dispose();
  }

  /** Mean loss and accuracy over a dataset, in eval mode (no dropout, running batchnorm statistics). */
  evaluate(ds: Dataset): { loss: number; accuracy: number } {
    let lossSum = 0,
      correct = 0,
      seen = 0;
    for (const batch of batches(ds, this.config.evalBatchSize ?? 500, null, { shuffle: false })) {
      const [lossValue, logitsValue] = this.session.run(
        [this.loss, this.logits],
        [
          [this.images, batch.images],
          [this.labels, batch.labels],
        ],
        { borrow: true },
      );
      lossSum += lossValue.data[0] * batch.size;
      correct += countCorrect(logitsValue, batch.labels);
      seen += batch.size;
    }
    return { loss: lossSum / seen, accuracy: correct / seen };
  }

  /**
   * Everything needed to continue bit-identically: variables, optimizer slots,
   * generators, position, and what the model was. The metrics log is not in
   * it (it grows every step): save `trainer.metrics` next to it.
   */
  checkpoint(): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
    const tensors: Record<string, Tensor> = {};
    for (const v of this.graph.variables()) tensors[`variables/${v.name}`] = this.graph.valueOf(v);
    const opt = this.optimizer.getState();
    for (const [k, t] of Object.entries(opt.slots)) tensors[`optimizer/${k}`] = t;
    const metadata: Record<string, string> = {
      format: 'ndgraph-training-checkpoint/1',
      config: JSON.stringify(configJSON(this.config, this.model)),
      model: JSON.stringify({ name: this.model.name, spec: this.model.spec ?? null }),
      inputShape: JSON.stringify(this.images.shape.slice(1)),
      classes: String(this.classes),
      epoch: String(this.epoch),
      step: String(this.step),
      optimizerStep: String(opt.step),
      dataRng: JSON.stringify(this.dataRng.getState()),
      sessionRng: JSON.stringify(this.session.rng.getState()),
    };
    return { tensors, metadata };
  }

  /**
   * Restores a checkpoint made by `checkpoint()` of a trainer with the same
   * model and config. Checks everything first (format, settings, every
   * variable's presence, shape and dtype, no unknown tensors) and changes
   * nothing unless all of it fits. Give `metrics` (the saved log) to continue it.
   */
  restore(ckpt: { tensors: Record<string, Tensor>; metadata: Record<string, string> }, source = 'checkpoint', metrics?: unknown): void {
    const { tensors, metadata } = ckpt;
    if (metadata.format !== 'ndgraph-training-checkpoint/1')
      throw new DataError(`${source}: expected format 'ndgraph-training-checkpoint/1', found '${metadata.format}'`);
    const saved = parseJSON(metadata.config, source, 'config') as Record<string, unknown>;
    const current = configJSON(this.config, this.model) as Record<string, unknown>;
    for (const key of ['batchSize', 'optimizer', 'seed', 'loss', 'init', 'model'] as const) {
      if (JSON.stringify(saved[key]) !== JSON.stringify(current[key])) {
        throw new DataError(`${source}: the checkpoint was made with ${key} = ${JSON.stringify(saved[key])}, this run has ${JSON.stringify(current[key])}`);
      }
    }
    const whole = (field: string) => {
      const n = Number(metadata[field]);
      if (!Number.isInteger(n) || n < 0)
        throw new DataError(`${source}: metadata field '${field}' must be a whole number ≥ 0, found ${JSON.stringify(metadata[field])}`);
      return n;
    };
    const [epoch, step, optimizerStep] = [whole('epoch'), whole('step'), whole('optimizerStep')];
    const dataRng = parseJSON(metadata.dataRng, source, 'dataRng') as { words: RngState; spareNormal: number | null };
    const sessionRng = parseJSON(metadata.sessionRng, source, 'sessionRng') as { words: RngState; spareNormal: number | null };
    const variables = checkWeights(this.graph, tensors, source, { prefix: 'variables/', otherPrefixes: ['optimizer/'] });
    const slots: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(tensors)) if (k.startsWith('optimizer/')) slots[k.slice('optimizer/'.length)] = t;
    this.checkSlots(slots, optimizerStep, source);
    for (const [name, state] of [
      ['dataRng', dataRng],
      ['sessionRng', sessionRng],
    ] as const) {
      try {
        new Rng(0).setState(state);
      } catch (e) {
        throw new DataError(`${source}: metadata field '${name}': ${(e as Error).message}`);
      }
    }
    // Everything checked: now change the trainer.
    for (const [node, t] of variables) this.graph.assign(node, t);
    this.optimizer.setState({ step: optimizerStep, slots });
    this.dataRng.setState(dataRng);
    this.session.rng.setState(sessionRng);
    this.epoch = epoch;
    this.step = step;
    if (metrics !== undefined) this.metrics.loadJSON(metrics as never);
    else if (metadata.metrics) this.metrics.loadJSON(metadata.metrics); // checkpoints made before the log moved out
    this.metrics.truncateAfter(step);
  }
}

/** Largest label of either split + 1 (at least 2). */
function classCount(data: { train: Dataset; test: Dataset }): number {
  let max = 1;
  for (const ds of [data.train, data.test]) {
    const { data: labels, offset } = ds.labels;
    for (let i = 0; i < datasetSize(ds); i++) {
      const label = labels[offset + i];
      if (!Number.isInteger(label) || label < 0) throw new DataError(`labels: expected class indices ≥ 0, found ${label} at index ${i}`);
      if (label > max) max = label;
    }
  }
  return max + 1;
}

/** The model given to the Trainer, or in `config.model`, or LeNet-5 with `config.model`'s options. */
function chooseModel(config: TrainConfig, given: unknown, classes: number): Model {
  if (given !== undefined) return asModel(given, 'Trainer: the model');
  if (isModelLike(config.model)) {
    throw new GraphError(
      `training config: model holds the options of the default LeNet-5; pass a model of your own as the Trainer's third argument: new Trainer(config, data, ${asModel(config.model, 'model').name})`,
    );
  }
  if (config.model !== undefined && (typeof config.model !== 'object' || config.model === null || Array.isArray(config.model))) {
    throw new GraphError(`training config: model must be LeNet-5's options object, found ${Array.isArray(config.model) ? 'an array' : typeof config.model}`);
  }
  return lenet5Model({ classes, ...(config.model as LeNetSpecOptions), init: config.init ?? 'he' });
}

/** The loss must be a scalar node of the logits' graph. */
function checkLoss(loss: unknown, logits: Node): Node {
  const node = loss as Node;
  if (typeof loss !== 'object' || loss === null || !('op' in loss) || node.graph !== logits.graph) {
    throw new GraphError(`the loss function must return a node of the model's graph, found ${typeof loss}`);
  }
  if (node.rank !== 0) throw new GraphError(`the loss must be a scalar, found ${node.name} ${formatShape(node.shape)}`);
  return node;
}

/** The config as JSON, with the model by name and spec (a function does not survive JSON). */
function configJSON(config: TrainConfig, model: Model): object {
  const isOptions = config.model !== undefined && !isModelLike(config.model);
  return { ...config, model: isOptions ? config.model : { name: model.name, spec: model.spec ?? null } };
}

function parseJSON(text: string | undefined, source: string, field: string): unknown {
  if (text === undefined) throw new DataError(`${source}: metadata field '${field}' is missing`);
  try {
    return JSON.parse(text);
  } catch {
    throw new DataError(`${source}: metadata field '${field}' is not valid JSON: ${text.slice(0, 60)}`);
  }
}

function checkConfig(c: TrainConfig): void {
  const positiveInt = (k: keyof TrainConfig) => {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`training config: ${k} must be a whole number ≥ 1, found ${v}`);
  };
  positiveInt('epochs');
  positiveInt('batchSize');
  if (c.learningRate !== undefined && (!(c.learningRate > 0) || !Number.isFinite(c.learningRate)))
    throw new RangeError(`training config: learningRate must be a positive number, found ${c.learningRate}`);
}

export interface FitOptions {
  /** Called after every step. */
  onStep?: (info: StepInfo) => void;
  /** Called after every epoch (training and evaluation done). */
  onEpoch?: (info: EpochInfo) => void;
  /** The loss and optimizer, when not the config's. */
  loss?: LossFunction;
  optimizer?: Optimizer;
}

/**
 * Trains `model` on `data` for `config.epochs` epochs (Keras' `fit`): the
 * Trainer's loop, with per-epoch evaluation on `data.test`. Returns the
 * trainer (its graph, weights, metrics, `predict`, `checkpoint`) and the epochs.
 *
 *   const { trainer, epochs } = fit(sequential([...]), data, { ...defaultTrainConfig, epochs: 3 });
 */
export function fit(
  model: Model | ModelBuilder,
  data: { train: Dataset; test: Dataset },
  config: TrainConfig = defaultTrainConfig,
  options: FitOptions = {},
): { trainer: Trainer; epochs: EpochInfo[] } {
  checkOptionKeys('fit', options, ['onStep', 'onEpoch', 'loss', 'optimizer']);
  const trainer = new Trainer(config, data, { model: asModel(model, 'fit: the model'), loss: options.loss, optimizer: options.optimizer });
  const epochs: EpochInfo[] = [];
  while (trainer.epoch < config.epochs) {
    const info = trainer.trainEpoch(options.onStep);
    epochs.push(info);
    options.onEpoch?.(info);
  }
  return { trainer, epochs };
}
