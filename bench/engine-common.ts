/**
 * What every LeNet-5 engine process shares: the benchmark settings, the data
 * file the orchestrator (bench/lenet.ts) writes, batching, timing, memory
 * sampling and the result it prints.
 *
 * This module imports nothing from ndgraph or TensorFlow.js at run time, so an engine
 * process holds only its own engine's code and memory on top of a common
 * baseline (node, tsx, this file, the data) — which keeps peak RSS comparable.
 */
import { readFileSync } from 'node:fs';
import type { TrainConfig } from '@ndgraph/nn';

// ---------------------------------------------------------------------------
// The benchmark problem: the same for every engine.

export const TRAIN_BATCH = 64;
export const INFERENCE_BATCH = 256;
export const LEARNING_RATE = 0.01;
export const MOMENTUM = 0.9;
/** Seed of the 8,000 / 2,000 split of the embedded digits (`loadEmbeddedMnist`). */
export const SPLIT_SEED = 0;
/** Seed of ndgraph's LeNet-5 weights (He initialization); the tfjs engines start from the same values. */
export const WEIGHT_SEED = 0;
/** Seed of the order in which training batches are visited (`batches()` of @ndgraph/nn), the same for every engine. */
export const DATA_ORDER_SEED = 2;
/** Epochs of batch order stored in the data file; longer runs start over from the first. */
export const STORED_EPOCHS = 4;
/** How many of the first training losses each engine reports, to check that all engines train the same model. */
export const LOSSES_TO_COMPARE = 5;

/** ndgraph's training configuration for the benchmark (momentum 0.9 is the optimizer's default). */
export const NDGRAPH_TRAIN_CONFIG: TrainConfig = {
  epochs: 1,
  batchSize: TRAIN_BATCH,
  optimizer: 'momentum',
  learningRate: LEARNING_RATE,
  seed: WEIGHT_SEED,
  loss: 'cross-entropy',
  init: 'he',
};

/** LeNet-5 parameter names (ndgraph's variable names) in model order, with their shapes. */
export const LENET_PARAMETERS: ReadonlyArray<{ name: string; shape: number[] }> = [
  { name: 'lenet/conv1/conv/w', shape: [5, 5, 1, 6] },
  { name: 'lenet/conv1/conv/b', shape: [6] },
  { name: 'lenet/conv2/conv/w', shape: [5, 5, 6, 16] },
  { name: 'lenet/conv2/conv/b', shape: [16] },
  { name: 'lenet/fc1/dense/w', shape: [400, 120] },
  { name: 'lenet/fc1/dense/b', shape: [120] },
  { name: 'lenet/fc2/dense/w', shape: [120, 84] },
  { name: 'lenet/fc2/dense/b', shape: [84] },
  { name: 'lenet/logits/w', shape: [84, 10] },
  { name: 'lenet/logits/b', shape: [10] },
];

export const IMAGE_PIXELS = 28 * 28;

/** The data file's name for `BenchData.referenceLogits`. */
export const REFERENCE_LOGITS = 'check/logits';

/** A plain array with a shape (row-major, offset 0). */
export interface RawTensor<T extends Float32Array | Int32Array = Float32Array | Int32Array> {
  data: T;
  shape: number[];
}

/** What every engine trains on and starts from. */
export interface BenchData {
  /** [N, 28, 28, 1] float32 in [0, 1]. */
  images: RawTensor<Float32Array>;
  /** [N] int32. */
  labels: RawTensor<Int32Array>;
  /** Example indices in training order, STORED_EPOCHS epochs one after another (from @ndgraph/nn's `batches`). */
  order: Int32Array;
  /** Initial LeNet-5 weights by ndgraph variable name. */
  initialWeights: Record<string, RawTensor<Float32Array>>;
  /**
   * ndgraph's logits [INFERENCE_BATCH, 10] for the first inference batch from
   * the initial weights, in eval mode: what an inference-only engine checks
   * its own model against before it is timed.
   */
  referenceLogits?: RawTensor<Float32Array>;
}

/**
 * Reads the data file written by bench/common.ts `writeBenchData` (the
 * safetensors format: an 8-byte little-endian header length, a JSON header
 * naming each tensor's dtype, shape and byte range, then the raw data).
 */
export function readBenchDataFile(path: string): BenchData {
  const bytes = readFileSync(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const dataStart = 8 + headerLength;
  const read = (name: string): RawTensor => {
    const entry = header[name];
    if (!entry) throw new Error(`${path}: no tensor '${name}'`);
    const [begin, end] = entry.data_offsets;
    // A view on the file's bytes when they are 4-byte aligned (they are: the data starts at a multiple of 8), else a copy.
    const start = bytes.byteOffset + dataStart + begin;
    const buffer = start % 4 === 0 ? bytes.buffer : bytes.buffer.slice(start, start + end - begin);
    const at = start % 4 === 0 ? start : 0;
    const length = (end - begin) / 4;
    if (entry.dtype === 'F32') return { data: new Float32Array(buffer, at, length), shape: entry.shape };
    if (entry.dtype === 'I32') return { data: new Int32Array(buffer, at, length), shape: entry.shape };
    throw new Error(`${path}: tensor '${name}' has dtype ${entry.dtype}, expected F32 or I32`);
  };
  const initialWeights: Record<string, RawTensor<Float32Array>> = {};
  for (const { name, shape } of LENET_PARAMETERS) {
    const w = read(`init/${name}`);
    if (!(w.data instanceof Float32Array) || w.shape.join(',') !== shape.join(','))
      throw new Error(`${path}: init/${name} should be float32 [${shape}], found [${w.shape}]`);
    initialWeights[name] = w as RawTensor<Float32Array>;
  }
  return {
    images: read('train/images') as RawTensor<Float32Array>,
    labels: read('train/labels') as RawTensor<Int32Array>,
    order: read('train/order').data as Int32Array,
    initialWeights,
    ...(header[REFERENCE_LOGITS] ? { referenceLogits: read(REFERENCE_LOGITS) as RawTensor<Float32Array> } : {}),
  };
}

/**
 * The data from `--data FILE` (what the orchestrator passes), or else built in
 * this process from the embedded digits (which loads @ndgraph/nn too).
 */
export async function loadBenchData(): Promise<BenchData> {
  const path = argValue('data');
  if (path) return readBenchDataFile(path);
  const { buildBenchData } = await import('./common.ts');
  return buildBenchData();
}

/**
 * Training batches of TRAIN_BATCH examples in the stored order, endlessly.
 * `images` and `labels` are buffers reused by every batch: a batch is valid
 * until the next call of `next()`.
 */
export class TrainingBatches {
  readonly images = new Float32Array(TRAIN_BATCH * IMAGE_PIXELS);
  readonly labels = new Int32Array(TRAIN_BATCH);
  private position = 0;

  constructor(private readonly data: BenchData) {
    if (data.order.length % TRAIN_BATCH !== 0)
      throw new Error(`batch order of ${data.order.length} examples is not a whole number of ${TRAIN_BATCH}-example batches`);
  }

  /** Copies the next batch into `images` and `labels`; returns its size. */
  next(): number {
    const { order, images, labels } = this.data;
    if (this.position >= order.length) this.position = 0;
    for (let k = 0; k < TRAIN_BATCH; k++) {
      const example = order[this.position + k];
      this.images.set(images.data.subarray(example * IMAGE_PIXELS, (example + 1) * IMAGE_PIXELS), k * IMAGE_PIXELS);
      this.labels[k] = labels.data[example];
    }
    this.position += TRAIN_BATCH;
    return TRAIN_BATCH;
  }
}

/** The training images in dataset order, as full INFERENCE_BATCH-image views (no copy). */
export function inferenceBatches(data: BenchData): Float32Array[] {
  const count = Math.floor(data.images.shape[0] / INFERENCE_BATCH);
  const size = INFERENCE_BATCH * IMAGE_PIXELS;
  return Array.from({ length: count }, (_, b) => data.images.data.subarray(b * size, (b + 1) * size));
}

// ---------------------------------------------------------------------------
// What an engine process measures and prints.

export interface StepCounts {
  /** Training steps run and not timed, before the timed ones. */
  trainWarmup: number;
  /** Timed training steps, split into `windows` equal windows. */
  trainSteps: number;
  /** Inference batches run and not timed. */
  inferWarmup: number;
  /** Timed inference batches, split into `windows` equal windows. */
  inferBatches: number;
  windows: number;
}

/**
 * The step counts of the fast engines (ndgraph and tfjs-wasm alike). The
 * warm-up is long because "steady state" takes a while to arrive: V8 first
 * runs WebAssembly through its baseline compiler and recompiles hot
 * functions with its optimizing one as they run, and a helper thread's
 * instance warms up too. With 10 warm-up steps ndgraph on two threads
 * measured about 14,000 img/s; after 50, about 19,500.
 */
export const FAST_ENGINE_COUNTS: StepCounts = { trainWarmup: 50, trainSteps: 250, inferWarmup: 10, inferBatches: 60, windows: 5 };
export const FAST_ENGINE_QUICK_COUNTS: StepCounts = { trainWarmup: 10, trainSteps: 40, inferWarmup: 3, inferBatches: 12, windows: 4 };

export interface MemoryReport {
  /** Resident set size after loading the data, before the engine's code is loaded (MB). */
  rssAfterDataMB: number;
  /** Largest RSS sampled after every training step and inference batch (MB). */
  rssSampledPeakMB: number;
  /** The high-water mark of the process's RSS (VmHWM), read at the end (MB). */
  peakRssMB: number;
}

export interface EngineResult {
  engine: string;
  /** Engine-specific facts (versions, backend flags, kernels added for the benchmark, ...). */
  details: Record<string, unknown>;
  counts: StepCounts;
  /** Training images per second of each timed window (steady state). */
  trainWindows: number[];
  /** Median of `trainWindows`. */
  trainImagesPerSecond: number;
  /** Median CPU share of the training windows (see `Windows.cpuShare`). */
  trainCpuShare: number;
  /** Median training images per CPU-second: for a single-threaded engine, what it would do with a core to itself. */
  trainImagesPerCpuSecond: number;
  inferWindows: number[];
  inferImagesPerSecond: number;
  inferCpuShare: number;
  inferImagesPerCpuSecond: number;
  /** Loss of each of the first LOSSES_TO_COMPARE training steps, warm-up or timed (same data and initial weights for every engine). */
  firstLosses: number[];
  /** Loss of the last training step (is it still training?). */
  lastLoss: number;
  memory: MemoryReport;
  seconds: number;
  /** An engine that only runs inference (onnxruntime): its training fields are NaN (null in JSON) and it has no losses. */
  inferenceOnly?: boolean;
  /** The engine's logits on the first inference batch from the initial weights against ndgraph's (`BenchData.referenceLogits`). */
  logitsCheck?: LogitsCheck;
}

/** Largest |logit − ndgraph's logit| an engine may show on the first inference batch, from the same weights. */
export const LOGITS_TOLERANCE = 1e-4;

export interface LogitsCheck {
  maxAbsDifference: number;
  tolerance: number;
}

/** Compares an engine's logits with ndgraph's; throws when they differ by more than LOGITS_TOLERANCE. */
export function checkLogits(engine: string, logits: ArrayLike<number>, data: BenchData): LogitsCheck {
  const reference = data.referenceLogits;
  if (!reference) throw new Error(`${engine}: the data file has no reference logits (${REFERENCE_LOGITS}) to check the model against`);
  if (logits.length !== reference.data.length) throw new Error(`${engine}: ${logits.length} logits, expected ${reference.data.length}`);
  let maxAbsDifference = 0;
  for (let i = 0; i < logits.length; i++) {
    const d = Math.abs(logits[i] - reference.data[i]);
    // NaN fails too.
    if (!(d <= maxAbsDifference)) maxAbsDifference = Number.isNaN(d) ? Infinity : d;
  }
  if (!(maxAbsDifference <= LOGITS_TOLERANCE))
    throw new Error(
      `${engine}: logits on the first inference batch differ from ndgraph's by up to ${maxAbsDifference.toExponential(2)} (> ${LOGITS_TOLERANCE}): not the same model; refusing to report`,
    );
  return { maxAbsDifference, tolerance: LOGITS_TOLERANCE };
}

export const MB = 1024 * 1024;

/** VmHWM (peak resident set size) of this process in MB, from /proc/self/status; `fallbackMB` when that file is missing. */
export function peakRssMB(fallbackMB: number): number {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]) / 1024;
  } catch {
    // Not Linux: fall through.
  }
  return fallbackMB;
}

/** Tracks the largest RSS seen; `sample()` is cheap enough to call once per step. */
export class RssSampler {
  peakBytes = 0;
  sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.peakBytes) this.peakBytes = rss;
  }
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Timed windows of one measurement. */
export interface Windows {
  /** Images per second (wall clock) of each window. */
  imagesPerSecond: number[];
  /**
   * The process's CPU time over wall time in each window: about 1 for a
   * single-threaded engine that had a core to itself, less when other work on
   * the machine took the CPU away, more when the engine uses several threads.
   */
  cpuShare: number[];
  /** Images per second of the process's CPU time (user + system) in each window. */
  imagesPerCpuSecond: number[];
}

/**
 * Runs `warmup` untimed calls of `step`, then `count` timed ones in `windows`
 * equal windows, and returns each window's images per second and CPU share.
 * `step` returns how many images it processed.
 */
export function timeWindows(step: () => number, warmup: number, count: number, windows: number, sampler: RssSampler): Windows {
  for (let i = 0; i < warmup; i++) {
    step();
    sampler.sample();
  }
  const perWindow = Math.max(1, Math.floor(count / windows));
  const result: Windows = { imagesPerSecond: [], cpuShare: [], imagesPerCpuSecond: [] };
  for (let w = 0; w < windows; w++) {
    let images = 0;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < perWindow; i++) {
      images += step();
      sampler.sample();
    }
    const wallMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    result.imagesPerSecond.push(images / (wallMs / 1000));
    result.cpuShare.push(cpuMs / wallMs);
    result.imagesPerCpuSecond.push(images / (cpuMs / 1000));
  }
  return result;
}

/** `timeWindows` for a step that returns a promise (onnxruntime-node's `session.run`). */
export async function timeWindowsAsync(step: () => Promise<number>, warmup: number, count: number, windows: number, sampler: RssSampler): Promise<Windows> {
  for (let i = 0; i < warmup; i++) {
    await step();
    sampler.sample();
  }
  const perWindow = Math.max(1, Math.floor(count / windows));
  const result: Windows = { imagesPerSecond: [], cpuShare: [], imagesPerCpuSecond: [] };
  for (let w = 0; w < windows; w++) {
    let images = 0;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < perWindow; i++) {
      images += await step();
      sampler.sample();
    }
    const wallMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    result.imagesPerSecond.push(images / (wallMs / 1000));
    result.cpuShare.push(cpuMs / wallMs);
    result.imagesPerCpuSecond.push(images / (cpuMs / 1000));
  }
  return result;
}

/** The windows of a measurement that was not made (an inference-only engine's training). */
export const NO_WINDOWS: Windows = { imagesPerSecond: [], cpuShare: [], imagesPerCpuSecond: [] };

/** Builds an engine's result from its measurements. */
export function engineResult(
  engine: string,
  details: Record<string, unknown>,
  counts: StepCounts,
  train: Windows,
  inference: Windows,
  losses: number[],
  rssAfterDataMB: number,
  sampler: RssSampler,
  startedMs: number,
): EngineResult {
  const sampledPeakMB = sampler.peakBytes / MB;
  return {
    engine,
    details,
    counts,
    trainWindows: train.imagesPerSecond,
    trainImagesPerSecond: median(train.imagesPerSecond),
    trainCpuShare: median(train.cpuShare),
    trainImagesPerCpuSecond: median(train.imagesPerCpuSecond),
    inferWindows: inference.imagesPerSecond,
    inferImagesPerSecond: median(inference.imagesPerSecond),
    inferCpuShare: median(inference.cpuShare),
    inferImagesPerCpuSecond: median(inference.imagesPerCpuSecond),
    firstLosses: losses.slice(0, LOSSES_TO_COMPARE),
    lastLoss: losses[losses.length - 1],
    memory: { rssAfterDataMB, rssSampledPeakMB: sampledPeakMB, peakRssMB: peakRssMB(sampledPeakMB) },
    seconds: (performance.now() - startedMs) / 1000,
  };
}

// ---------------------------------------------------------------------------
// Command lines.

/** The value after `--name` (or `--name=value`), if any. */
export function argValue(name: string, argv: readonly string[] = process.argv.slice(2)): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) return argv[i + 1];
    if (argv[i].startsWith(`--${name}=`)) return argv[i].slice(name.length + 3);
  }
  return undefined;
}

export function hasFlag(name: string, argv: readonly string[] = process.argv.slice(2)): boolean {
  return argv.includes(`--${name}`);
}

/** `--name N` as a whole number ≥ 0, or `fallback`. */
export function numberArg(name: string, fallback: number): number {
  const v = argValue(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`--${name}: expected a whole number >= 0, found '${v}'`);
  return n;
}

/**
 * Step counts for an engine process: `--quick` picks the short set, and
 * `--train-warmup`, `--train-steps`, `--infer-warmup`, `--infer-batches`,
 * `--windows` override single counts.
 */
export function stepCountsFromArgs(normal: StepCounts, quick: StepCounts): StepCounts {
  const base = hasFlag('quick') ? quick : normal;
  return {
    trainWarmup: numberArg('train-warmup', base.trainWarmup),
    trainSteps: numberArg('train-steps', base.trainSteps),
    inferWarmup: numberArg('infer-warmup', base.inferWarmup),
    inferBatches: numberArg('infer-batches', base.inferBatches),
    windows: Math.max(1, numberArg('windows', base.windows)),
  };
}

/**
 * Reports an engine's error and exits with code 1. (Exiting ourselves keeps
 * tfjs's wasm module, which rethrows uncaught errors, from printing its
 * minified source.)
 */
export function exitWithError(error: unknown): never {
  console.error(error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error));
  process.exit(1);
}

/** Prints the engine's result: one JSON line with `--json` (what bench/lenet.ts reads), a summary line otherwise. */
export function reportEngineResult(result: EngineResult): void {
  if (hasFlag('json')) {
    console.log(JSON.stringify(result));
    return;
  }
  const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  const train = result.inferenceOnly
    ? 'no training (inference only), '
    : `train ${result.trainImagesPerSecond.toFixed(1)} img/s (windows ${list(result.trainWindows)}; CPU share ${result.trainCpuShare.toFixed(2)}), `;
  const check = result.inferenceOnly
    ? `logits within ${result.logitsCheck?.maxAbsDifference.toExponential(1)} of ndgraph's`
    : `first losses ${result.firstLosses.map((l) => l.toFixed(5)).join(' ')}, last loss ${result.lastLoss.toFixed(4)}`;
  console.log(
    `${result.engine}: ${train}` +
      `inference ${result.inferImagesPerSecond.toFixed(1)} img/s (windows ${list(result.inferWindows)}; CPU share ${result.inferCpuShare.toFixed(2)}), ` +
      `peak RSS ${result.memory.peakRssMB.toFixed(0)} MB (${result.memory.rssAfterDataMB.toFixed(0)} MB after loading the data), ` +
      `${check}, ${result.seconds.toFixed(1)} s`,
  );
}
