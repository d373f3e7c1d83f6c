/**
 * The orchestrators' side of the benchmarks (bench/lenet.ts, bench/gemm.ts,
 * bench/profile.ts): building the benchmark data with @ndgraph/nn, machine
 * information and load, result files and text tables.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng, wrap, type Tensor } from '@ndgraph/graph';
import { Trainer, batches } from '@ndgraph/nn';
import { loadEmbeddedMnist, saveSafetensors } from '@ndgraph/nn/node';
import {
  DATA_ORDER_SEED,
  INFERENCE_BATCH,
  LENET_PARAMETERS,
  MB,
  NDGRAPH_TRAIN_CONFIG,
  REFERENCE_LOGITS,
  SPLIT_SEED,
  STORED_EPOCHS,
  TRAIN_BATCH,
  WEIGHT_SEED,
  type BenchData,
  type RawTensor,
  inferenceBatches,
} from './engine-common.ts';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const RESULTS_DIR = join(BENCH_DIR, 'results');
/** Scratch files (git-ignored). */
export const TMP_DIR = join(RESULTS_DIR, 'tmp');
/** Where bench/lenet.ts lists the result files it wrote (read by bench/run.ts). */
export const LENET_WRITTEN_LIST = join(TMP_DIR, 'lenet-written.json');

const raw = <T extends Float32Array | Int32Array>(t: Tensor): RawTensor<T> => {
  const data = t.data.slice(t.offset, t.offset + t.size) as T;
  return { data, shape: t.shape.slice() };
};

/**
 * The benchmark data: the 8,000 training digits of the embedded MNIST split
 * (seed SPLIT_SEED), STORED_EPOCHS epochs of batch order exactly as
 * @ndgraph/nn's `batches()` visits them with an Rng seeded DATA_ORDER_SEED,
 * and the initial weights of ndgraph's LeNet-5 (seed WEIGHT_SEED).
 */
export function buildBenchData(): BenchData {
  const { train, test } = loadEmbeddedMnist({ seed: SPLIT_SEED });
  const n = train.labels.shape[0];
  if (n % TRAIN_BATCH !== 0) throw new Error(`the benchmark expects a whole number of ${TRAIN_BATCH}-image batches per epoch, found ${n} images`);

  // Let `batches()` shuffle a dataset whose "images" are the example indices: what it yields is the order.
  const indexImages = new Float32Array(n);
  for (let i = 0; i < n; i++) indexImages[i] = i;
  const indexData = { images: wrap(indexImages, [n, 1]), labels: wrap(new Int32Array(n), [n]) };
  const order = new Int32Array(STORED_EPOCHS * n);
  const rng = new Rng(DATA_ORDER_SEED);
  let position = 0;
  for (let epoch = 0; epoch < STORED_EPOCHS; epoch++) {
    for (const batch of batches(indexData, TRAIN_BATCH, rng)) {
      for (let k = 0; k < batch.size; k++) order[position++] = batch.images.data[batch.images.offset + k];
    }
  }

  const trainer = new Trainer(NDGRAPH_TRAIN_CONFIG, { train, test });
  const initialWeights: BenchData['initialWeights'] = {};
  for (const p of trainer.parameters) initialWeights[p.name] = raw<Float32Array>(trainer.graph.valueOf(p));
  for (const { name, shape } of LENET_PARAMETERS) {
    if (initialWeights[name]?.shape.join(',') !== shape.join(',')) throw new Error(`ndgraph's LeNet-5 has no parameter ${name} of shape [${shape}]`);
  }
  const images = raw<Float32Array>(train.images);
  // ndgraph's logits for the first inference batch, eval mode, from the initial weights: inference-only engines check theirs against these.
  const [firstBatch] = inferenceBatches({ images, labels: raw<Int32Array>(train.labels), order, initialWeights });
  const referenceLogits = raw<Float32Array>(trainer.session.run(trainer.logits, [[trainer.images, wrap(firstBatch, [INFERENCE_BATCH, 28, 28, 1])]]));
  trainer.dispose();
  return { images, labels: raw<Int32Array>(train.labels), order, initialWeights, referenceLogits };
}

/** Writes the benchmark data for the engine processes (read back by `readBenchDataFile`). */
export function writeBenchData(path: string, data: BenchData): void {
  mkdirSync(dirname(path), { recursive: true });
  const tensors: Record<string, Tensor> = {
    'train/images': wrap(data.images.data, data.images.shape),
    'train/labels': wrap(data.labels.data, data.labels.shape),
    'train/order': wrap(data.order, [data.order.length]),
  };
  for (const [name, w] of Object.entries(data.initialWeights)) tensors[`init/${name}`] = wrap(w.data, w.shape);
  if (data.referenceLogits) tensors[REFERENCE_LOGITS] = wrap(data.referenceLogits.data, data.referenceLogits.shape);
  saveSafetensors(path, tensors, { splitSeed: String(SPLIT_SEED), weightSeed: String(WEIGHT_SEED), dataOrderSeed: String(DATA_ORDER_SEED) });
}

// ---------------------------------------------------------------------------
// Machine information (the machine may be shared and noisy: record its load).

export interface MachineInfo {
  cpuModel: string;
  /** Logical CPUs the OS reports. */
  cores: number;
  memoryMB: number;
  node: string;
  v8: string;
  os: string;
}

export function machineInfo(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match) cpuModel = match[1].trim();
  } catch {
    // Not Linux: keep os.cpus()'s name.
  }
  return {
    cpuModel,
    cores: cpus().length,
    memoryMB: Math.round(totalmem() / MB),
    node: process.version,
    v8: process.versions.v8,
    os: `${platform()} ${release()} ${arch()}`,
  };
}

/**
 * Which ndgraph code was measured: the commit, and the files under packages/
 * that differ from it or are new (read-only git queries; 'unknown' outside a git checkout).
 * `--note TEXT` on the command line adds a free-form note.
 */
export function codeVersion(note?: string): { commit: string; changedPackageFiles: string[] | 'unknown'; note?: string } {
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: BENCH_DIR,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' },
    }).trim();
  let commit = 'unknown';
  let changedPackageFiles: string[] | 'unknown' = 'unknown';
  try {
    commit = git('rev-parse', 'HEAD');
    const packagesDir = join(BENCH_DIR, '..', 'packages');
    const changed = git('diff', '--name-only', 'HEAD', '--', packagesDir);
    const untracked = git('ls-files', '--others', '--exclude-standard', '--', packagesDir);
    changedPackageFiles = `${changed}\n${untracked}`.split('\n').filter(Boolean);
  } catch {
    // Not a git checkout (an exported snapshot, say).
  }
  return note ? { commit, changedPackageFiles, note } : { commit, changedPackageFiles };
}

/** 1, 5 and 15 minute load averages. */
export function loadAverage(): [number, number, number] {
  const [a, b, c] = loadavg();
  return [round2(a), round2(b), round2(c)];
}

export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Local date and time as YYYY-MM-DDTHHMM, for file names. */
export function fileStamp(date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())}T${p(date.getHours())}${p(date.getMinutes())}`;
}

export function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Rows as an aligned text table: the first `leftColumns` columns left-aligned, the others right-aligned. */
export function formatTable(header: string[], rows: string[][], leftColumns = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < leftColumns ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
