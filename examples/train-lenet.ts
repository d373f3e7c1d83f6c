/**
 * Train LeNet-5 on MNIST — the program behind `pnpm train`.
 *
 * Read it as a tutorial: it loads the data, builds a Trainer (which builds the
 * LeNet-5 graph, its loss and gradient nodes, and an optimizer), then loops
 * over epochs, reporting progress, writing metrics, the training curve and a
 * checkpoint after each epoch.
 *
 *   pnpm train                                  # defaults: 8 epochs, batch 64, momentum 0.05 decaying ×0.7 per epoch, embedded digits
 *   pnpm train --epochs 8 --optimizer adam --lr 0.001
 *   pnpm train --data ./mnist-idx               # the standard IDX files (gzipped or not)
 *   pnpm train --out runs/a --resume            # continue from runs/a/checkpoint.safetensors
 *   pnpm train --threads 1                      # one thread (default: one per core, up to 4; the same results)
 */
import { parseArgs } from 'node:util';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { Trainer, defaultTrainConfig, type TrainConfig } from '@ndgraph/nn';
import { loadEmbeddedMnist, loadMnistIdx, ProgressReporter, writeRunFiles, saveSafetensors, loadSafetensors } from '@ndgraph/nn/node';
import { enableWasmThreads } from '@ndgraph/ops/node';

/**
 * One thread per core, up to 4: LeNet's kernels at batch 64 are too small to
 * gain from more. On a busy machine the helper threads step back by themselves.
 */
const DEFAULT_THREADS = Math.min(4, availableParallelism());

const usage = `usage: pnpm train [options]
  --epochs N          epochs to train (default ${defaultTrainConfig.epochs})
  --batch-size N      examples per step (default ${defaultTrainConfig.batchSize})
  --optimizer NAME    sgd | momentum | nesterov | adam | rmsprop | adagrad (default ${defaultTrainConfig.optimizer})
  --lr X              learning rate (default ${defaultTrainConfig.learningRate})
  --lr-decay X        multiply the rate by X after each epoch (default ${defaultTrainConfig.learningRateDecay})
  --weight-decay X    L2 coefficient (default 0)
  --activation NAME   relu | leakyRelu | elu | sigmoid | tanh (default relu)
  --init NAME         he | he-uniform | xavier | xavier-uniform | lecun | normal:STD (default he)
  --batchnorm         batch normalization after each conv/dense layer
  --dropout X         dropout rate after the hidden dense layers (default 0)
  --seed N            seed of weights, data order and dropout (default 0)
  --data DIR          directory with MNIST IDX files (default: the 10,000 embedded digits, split 8,000/2,000)
  --train-size N      use the first N training examples (default all)
  --out DIR           run directory for metrics, curve and checkpoint (default runs/lenet)
  --resume            continue from DIR/checkpoint.safetensors
  --threads N         threads the float32 kernels split their work between (default ${DEFAULT_THREADS}: one per core, up to 4; results do not depend on it)
  --help`;

function parse(): { config: TrainConfig; dataDir?: string; out: string; resume: boolean; trainSize?: number; threads: number } {
  const { values } = parseArgs({
    options: {
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
      data: { type: 'string' },
      'train-size': { type: 'string' },
      out: { type: 'string' },
      resume: { type: 'boolean' },
      threads: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const num = (name: string, v: string | undefined, fallback: number): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new RangeError(`--${name}: expected a number, found '${v}'`);
    return n;
  };
  const config: TrainConfig = {
    ...defaultTrainConfig,
    epochs: num('epochs', values.epochs, defaultTrainConfig.epochs),
    batchSize: num('batch-size', values['batch-size'], defaultTrainConfig.batchSize),
    optimizer: values.optimizer ?? defaultTrainConfig.optimizer,
    learningRate: num('lr', values.lr, defaultTrainConfig.learningRate),
    learningRateDecay: num('lr-decay', values['lr-decay'], defaultTrainConfig.learningRateDecay ?? 1),
    weightDecay: num('weight-decay', values['weight-decay'], 0),
    seed: num('seed', values.seed, defaultTrainConfig.seed),
    init: values.init ?? defaultTrainConfig.init,
    model: {
      activation: (values.activation ?? 'relu') as 'relu',
      batchNorm: values.batchnorm ?? false,
      dropout: num('dropout', values.dropout, 0),
    },
  };
  return {
    config,
    dataDir: values.data,
    out: values.out ?? join('runs', 'lenet'),
    resume: values.resume ?? false,
    trainSize: values['train-size'] === undefined ? undefined : num('train-size', values['train-size'], 0),
    threads: num('threads', values.threads, DEFAULT_THREADS),
  };
}

async function main(): Promise<void> {
  const args = parse();
  const { config } = args;
  if (args.threads > 1) {
    const threads = enableWasmThreads(args.threads);
    console.log(
      `kernels: ${threads} thread${threads === 1 ? '' : 's'}${threads < args.threads ? ' (this engine cannot share kernel memory between threads)' : ''}`,
    );
  }

  // 1. Data: NHWC float32 images in [0,1], int32 labels.
  const data = args.dataDir ? await loadMnistIdx(args.dataDir) : loadEmbeddedMnist({ seed: 0 });
  if (args.trainSize) data.train = { images: data.train.images.hi(args.trainSize), labels: data.train.labels.hi(args.trainSize) };
  console.log(
    `data: ${data.train.labels.shape[0]} training and ${data.test.labels.shape[0]} test images ${args.dataDir ? `from ${args.dataDir}` : '(embedded MNIST digits)'}`,
  );

  // 2. The model, loss, gradients and optimizer, all in one Trainer.
  const trainer = new Trainer(config, data);
  mkdirSync(args.out, { recursive: true });
  const checkpointPath = join(args.out, 'checkpoint.safetensors');
  if (args.resume) {
    if (!existsSync(checkpointPath)) throw new Error(`--resume: no checkpoint at ${checkpointPath}`);
    trainer.restore(loadSafetensors(checkpointPath), checkpointPath);
    console.log(`resumed from ${checkpointPath} after epoch ${trainer.epoch} (step ${trainer.step})`);
  }
  const params = trainer.parameters.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
  console.log(
    `model: LeNet-5, ${trainer.parameters.length} variables, ${params} parameters; ${config.optimizer} lr ${config.learningRate}, batch ${config.batchSize}, seed ${config.seed}`,
  );

  // 3. Epochs: train, evaluate, write metrics, curve and checkpoint.
  const started = performance.now();
  while (trainer.epoch < config.epochs) {
    const progress = new ProgressReporter({ totalSteps: trainer.stepsPerEpoch, epoch: trainer.epoch + 1, epochs: config.epochs });
    const info = trainer.trainEpoch((s) => progress.update({ step: s.stepInEpoch, loss: s.loss, accuracy: s.accuracy, imagesPerSecond: s.imagesPerSecond }));
    progress.done(
      `epoch ${info.epoch}/${config.epochs}: train loss ${info.trainLoss.toFixed(4)} acc ${(info.trainAccuracy * 100).toFixed(2)}% | ` +
        `test loss ${info.testLoss.toFixed(4)} acc ${(info.testAccuracy * 100).toFixed(2)}% | ${info.imagesPerSecond.toFixed(0)} img/s, ${info.seconds.toFixed(1)} s`,
    );
    const ckpt = trainer.checkpoint();
    saveSafetensors(checkpointPath, ckpt.tensors, ckpt.metadata);
    await writeRunFiles(args.out, trainer.metrics, { title: `LeNet-5 on MNIST (${config.optimizer}, lr ${config.learningRate})` });
  }
  const last = trainer.metrics.lastEpoch();
  console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s: test accuracy ${last ? (last.testAccuracy * 100).toFixed(2) : '?'}%`);
  console.log(`wrote ${join(args.out, 'metrics.json')}, metrics.csv, epochs.csv, curve.svg, curve.png, checkpoint.safetensors`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exit(1);
});
