/**
 * ndgraph's LeNet-5 training and inference steps for the benchmarks
 * (bench/ndgraph.ts times them, bench/profile.ts profiles them).
 *
 * A training step is what `Trainer.trainEpoch` does per batch, without its
 * metrics bookkeeping: the next batch, one session run (forward and backward,
 * borrowed fetches), a finite-loss check, and one momentum step.
 */
import { type OpDef, topologicalOrder, wrap, type Node, type Tensor } from '@ndgraph/graph';
import { type Model, type TrainConfig, Trainer } from '@ndgraph/nn';
import { INFERENCE_BATCH, NDGRAPH_TRAIN_CONFIG, TRAIN_BATCH, TrainingBatches, inferenceBatches, type BenchData } from './engine-common.ts';

/** Where one training step's time went, in milliseconds (filled in when asked for). */
export interface StepTimes {
  /** Copying the next batch into the feed buffers. */
  batching: number;
  /** The whole `session.run` call (kernels and executor). */
  sessionRun: number;
  /** The optimizer's update of every parameter. */
  optimizer: number;
  /** The whole step, from before batching to after the update. */
  total: number;
}

export interface NdgraphLenet {
  trainer: Trainer;
  /** Losses of every training step so far. */
  losses: number[];
  /** One training step; returns the number of images. `onTime` is the session's per-node kernel timing hook. */
  trainStep(times?: StepTimes, onTime?: (node: Node, milliseconds: number, op: OpDef) => void): number;
  /** One inference batch of INFERENCE_BATCH images in eval mode; returns the number of images. */
  /** One inference batch (eval mode); `onTime` as trainStep's. */
  inferStep(onTime?: (node: Node, milliseconds: number, op: OpDef) => void): number;
  /** How many graph nodes of each op one training step needs (placeholders, variables and constants left out; the session fuses some of them, which the profile shows). */
  opCounts: Record<string, number>;
}

/** A variant of the benchmark problem (bench/variants.ts): other training settings, or another model. */
export interface BenchVariant {
  config?: Partial<TrainConfig>;
  model?: Model;
}

/**
 * The benchmark's steps for LeNet-5 (from the shared initial weights), or for
 * a variant of it (from the Trainer's own seeded initialization).
 */
export function ndgraphLenet(data: BenchData, variant: BenchVariant = {}): NdgraphLenet {
  // The Trainer builds the model, its loss and gradient nodes, a session and the optimizer.
  const trainSet = { images: wrap(data.images.data, data.images.shape), labels: wrap(data.labels.data, data.labels.shape) };
  const config = { ...NDGRAPH_TRAIN_CONFIG, ...variant.config };
  const trainer = variant.model
    ? new Trainer(config, { train: trainSet, test: trainSet }, variant.model)
    : new Trainer(config, { train: trainSet, test: trainSet });
  if (!variant.model && !variant.config?.model) {
    for (const p of trainer.parameters) {
      const initial = data.initialWeights[p.name];
      if (!initial) throw new Error(`no initial value for ndgraph parameter ${p.name}`);
      trainer.graph.assign(p, wrap(initial.data, initial.shape));
    }
  }

  const fetches = [trainer.loss, ...trainer.gradients];
  const params = trainer.parameters.map((p, index) => ({ name: p.name, value: trainer.graph.valueOf(p), grad: undefined as unknown as Tensor, index }));
  const batches = new TrainingBatches(data);
  const feeds: [Node, Tensor][] = [
    [trainer.images, wrap(batches.images, [TRAIN_BATCH, 28, 28, 1])],
    [trainer.labels, wrap(batches.labels, [TRAIN_BATCH])],
  ];
  const losses: number[] = [];

  const trainStep = (times?: StepTimes, onTime?: (node: Node, milliseconds: number, op: OpDef) => void): number => {
    const t0 = performance.now();
    const size = batches.next();
    const t1 = performance.now();
    const [lossValue, ...grads] = trainer.session.run(fetches, feeds, { training: true, borrow: true, onTime });
    const t2 = performance.now();
    const loss = lossValue.data[lossValue.offset];
    if (!Number.isFinite(loss)) throw new Error(`ndgraph: training diverged (loss ${loss}) at step ${losses.length + 1}`);
    for (const p of params) p.grad = grads[p.index];
    const t3 = performance.now();
    trainer.optimizer.step(params);
    const t4 = performance.now();
    losses.push(loss);
    if (times) {
      times.batching += t1 - t0;
      times.sessionRun += t2 - t1;
      times.optimizer += t4 - t3;
      times.total += t4 - t0;
    }
    return size;
  };

  const inference = inferenceBatches(data).map((images) => wrap(images, [INFERENCE_BATCH, 28, 28, 1]));
  let next = 0;
  const inferStep = (onTime?: (node: Node, milliseconds: number, op: OpDef) => void): number => {
    trainer.session.run(trainer.logits, [[trainer.images, inference[next++ % inference.length]]], { borrow: true, ...(onTime ? { onTime } : {}) });
    return INFERENCE_BATCH;
  };

  const opCounts: Record<string, number> = {};
  for (const node of topologicalOrder(fetches)) {
    if (node.op.kind) continue;
    opCounts[node.op.name] = (opCounts[node.op.name] ?? 0) + 1;
  }

  return { trainer, losses, trainStep, inferStep, opCounts };
}
