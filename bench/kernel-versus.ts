/**
 * What the old-against-new kernel benchmarks share (bench/pool.ts,
 * bench/conv1.ts, bench/conv2.ts): an older commit's WebAssembly kernel
 * module against the working tree's, side by side in one process, each in a
 * memory of its own with the same operands at the same addresses, the
 * kernels called directly.
 *
 * The machine may be shared and noisy, so old and new take turns: each round
 * times a burst of old calls and a burst of new calls (which goes first
 * alternates), and the result is the median over rounds of old time / new
 * time, so a stretch of load hits both alike.
 *
 * Generic over `K`, the exports a benchmark calls: each declares the
 * signatures it needs, since an old module's may differ from today's.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Padding } from '../packages/ops/src/window.ts';
import { convGeometry, type ConvGeometry } from '../packages/ops/src/kernels/geometry.ts';
import { BENCH_DIR, codeVersion, formatTable, loadAverage, machineInfo, writeJson } from './common.ts';
import { argValue, median } from './engine-common.ts';

const GENERATED = 'packages/ops/src/kernels/wasm/kernels.generated.ts';

/** Every kernel module exports this: the first address past its static data. */
export interface HeapBase {
  heapBase(): number;
}

/** One module in its own (plain, unshared) memory. */
export interface Instance<K> {
  kernels: K;
  memory: WebAssembly.Memory;
}

/** The text of kernels.generated.ts as committed at `commit` (read from git), or as in the working tree without one. */
export function generatedSource(commit?: string): string {
  if (commit === undefined) return readFileSync(join(BENCH_DIR, '..', GENERATED), 'utf8');
  return execFileSync('git', ['show', `${commit}:${GENERATED}`], { cwd: BENCH_DIR, encoding: 'utf8', maxBuffer: 1 << 26 });
}

/** The plain-memory module of a kernels.generated.ts source text, in a new memory of `pages` 64 KiB pages (Layout grows it when short). */
export function instantiate<K extends HeapBase>(source: string, pages: number): Instance<K> {
  const match = /WASM_KERNELS_BASE64 =\s*'([^']+)'/.exec(source);
  if (!match) throw new Error('no WASM_KERNELS_BASE64 in the generated module');
  const memory = new WebAssembly.Memory({ initial: pages });
  const module = new WebAssembly.Module(Buffer.from(match[1], 'base64'));
  const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as K;
  return { kernels, memory };
}

/** Deterministic values in [-amplitude, amplitude) (xorshift32), the same on every run. */
export function randomArray(length: number, seed: number, amplitude = 1): Float32Array {
  const out = new Float32Array(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    // s / 2^31 - 1 is exact in float64, so amplitude 0.5 gives the same floats as s / 2^32 - 0.5.
    out[i] = amplitude * (s / 2147483648 - 1);
  }
  return out;
}

/**
 * Places arrays one after another (16-byte aligned) from the larger heap
 * base, at the same addresses in every instance's memory, so old and new
 * read and write the same places.
 */
export class Layout<K extends HeapBase> {
  private top: number;
  constructor(private readonly instances: readonly Instance<K>[]) {
    this.top = Math.max(...instances.map((i) => i.kernels.heapBase()));
  }
  private take(bytes: number): number {
    const address = Math.ceil(this.top / 16) * 16;
    this.top = address + bytes;
    for (const { memory } of this.instances) {
      const missing = this.top - memory.buffer.byteLength;
      if (missing > 0) memory.grow(Math.ceil(missing / 65536));
    }
    return address;
  }
  floats(values: Float32Array): number {
    const address = this.take(values.length * 4);
    for (const i of this.instances) new Float32Array(i.memory.buffer, address, values.length).set(values);
    return address;
  }
  ints(values: number[]): number {
    const address = this.take(values.length * 4);
    for (const i of this.instances) new Int32Array(i.memory.buffer, address, values.length).set(values);
    return address;
  }
  /** Room for `length` floats, filled with NaN (so unwritten outputs show). */
  output(length: number): number {
    return this.floats(new Float32Array(length).fill(Number.NaN));
  }
  /** A workspace as large as the larger of the modules' needs. */
  workspace(bytes: (k: K) => number): number {
    return this.take(Math.max(...this.instances.map((i) => bytes(i.kernels))));
  }
}

/** A view of `length` floats at `address` in the instance's memory. */
export function floatsAt<K>(instance: Instance<K>, address: number, length: number): Float32Array {
  return new Float32Array(instance.memory.buffer, address, length);
}

/** A convolution the conv benchmarks time (conv1.ts writes these fields into its results). */
export interface ConvShape {
  name: string;
  /** x [N, H, W, C] */
  shape: [number, number, number, number];
  kernel: [number, number];
  strides: [number, number];
  padding: Padding;
  outChannels: number;
}

export function convShapeGeometry(c: ConvShape): ConvGeometry {
  return convGeometry(c.shape, c.kernel, { strides: c.strides, padding: c.padding });
}

/** One kernel call, with where its output lands (the same address in both memories). */
export interface KernelCase<K> {
  name: string;
  /** Runs the kernel once on `kernels`. */
  call: (kernels: K) => void;
  /** Where the output is, and how many floats. */
  out: number;
  outLength: number;
}

/** Runs the case once on each module; its outputs, old then new. */
export function outputs<K>(c: KernelCase<K>, oldI: Instance<K>, newI: Instance<K>): [Float32Array, Float32Array] {
  c.call(oldI.kernels);
  c.call(newI.kernels);
  return [floatsAt(oldI, c.out, c.outLength), floatsAt(newI, c.out, c.outLength)];
}

/** Milliseconds per call, over `calls` calls. */
export function timeCalls(call: () => void, calls: number): number {
  const start = performance.now();
  for (let i = 0; i < calls; i++) call();
  return (performance.now() - start) / calls;
}

export interface Timing {
  oldMs: number;
  newMs: number;
  /** Median over rounds of old time / new time (> 1: the new kernel is faster). */
  ratio: number;
  /** The middle half of the per-round ratios. */
  ratioQuartiles: [number, number];
}

function quartiles(values: number[]): [number, number] {
  const sorted = values.slice().sort((a, b) => a - b);
  return [sorted[Math.floor((sorted.length - 1) / 4)], sorted[Math.ceil((3 * (sorted.length - 1)) / 4)]];
}

/** `rounds` rounds of a burst of `calls` calls of each; old goes first in even rounds, new in odd ones. */
export function alternate(oldCall: () => void, newCall: () => void, rounds: number, calls: number): Timing {
  const oldMs: number[] = [];
  const newMs: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    let o: number;
    let n: number;
    if (round % 2 === 0) {
      o = timeCalls(oldCall, calls);
      n = timeCalls(newCall, calls);
    } else {
      n = timeCalls(newCall, calls);
      o = timeCalls(oldCall, calls);
    }
    oldMs.push(o);
    newMs.push(n);
    ratios.push(o / n);
  }
  return { oldMs: median(oldMs), newMs: median(newMs), ratio: median(ratios), ratioQuartiles: quartiles(ratios) };
}

export interface Rounds {
  rounds: number;
  /** Each burst lasts about this long (the slower kernel's). */
  burstMs: number;
  /** Calls of each kernel that warm it up and size the bursts. */
  warmupCalls: number;
}

/** Old against new on one call: warm up both, size the bursts from the slower one, then alternate. */
function timeOldNew<K>(call: (kernels: K) => void, oldI: Instance<K>, newI: Instance<K>, r: Rounds): Timing {
  const oldCall = () => call(oldI.kernels);
  const newCall = () => call(newI.kernels);
  const slowest = Math.max(timeCalls(oldCall, r.warmupCalls), timeCalls(newCall, r.warmupCalls));
  return alternate(oldCall, newCall, r.rounds, Math.max(1, Math.round(r.burstMs / Math.max(slowest, 1e-4))));
}

/**
 * For each case: `check` runs it on both and compares the outputs (throwing
 * when they disagree), returning the fields its result starts with; then it
 * is timed, and a line printed.
 */
export function timeCases<K, C extends KernelCase<K>, X extends object>(
  cases: readonly C[],
  oldI: Instance<K>,
  newI: Instance<K>,
  r: Rounds,
  check: (c: C) => X,
): Array<{ name: string } & X & Timing> {
  return cases.map((c) => {
    const result = { name: c.name, ...check(c), ...timeOldNew(c.call, oldI, newI, r) };
    console.log(`${result.name}: ${result.oldMs.toFixed(4)} → ${result.newMs.toFixed(4)} ms, ×${result.ratio.toFixed(2)}`);
    return result;
  });
}

/** The load on the machine while timing: a shared machine's numbers are only as good as this. */
export interface Load {
  loadAverage: { start: [number, number, number]; end: [number, number, number] };
  /** Process CPU time over wall time: well below 1 means other work took the CPU. */
  cpuShare: number;
}

/** Starts watching the load; the function returned stops and reports. */
export function watchLoad(): () => Load {
  const start = loadAverage();
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  return () => {
    const cpuUsed = process.cpuUsage(cpuBefore);
    const cpuShare = (cpuUsed.user + cpuUsed.system) / 1000 / (performance.now() - wallBefore);
    return { loadAverage: { start, end: loadAverage() }, cpuShare };
  };
}

export function loadLine(load: Load): string {
  const { start, end } = load.loadAverage;
  return `load average (1, 5, 15 min): start ${start.join(' ')}, end ${end.join(' ')}; CPU share ${(100 * load.cpuShare).toFixed(0)}%`;
}

/** The summary of pool.ts and conv2.ts: what was compared, the table (`rows` of timeCases results), the load. */
export function printSummary(base: string, rounds: number, header: string[], rows: string[][], load: Load): void {
  console.log();
  console.log(`old = kernels of ${base}, new = working tree; median of ${rounds} alternating rounds, one thread`);
  console.log(formatTable(header, rows));
  console.log(loadLine(load));
}

/** The table columns of a Timing. */
export const TIMING_HEADER = ['old ms', 'new ms', 'old/new', 'middle half'];
export function timingCells(t: Timing): string[] {
  return [t.oldMs.toFixed(4), t.newMs.toFixed(4), `${t.ratio.toFixed(2)}×`, `${t.ratioQuartiles[0].toFixed(2)}–${t.ratioQuartiles[1].toFixed(2)}`];
}

/** Writes the result file of pool.ts and conv2.ts (`--note TEXT` goes into `code`). */
export function writeResults(file: string, run: { base: string; rounds: number; burstMs: number; quick: boolean }, load: Load, results: unknown[]): void {
  writeJson(file, {
    date: new Date().toISOString(),
    ...run,
    machine: machineInfo(),
    code: codeVersion(argValue('note')),
    ...load,
    results,
  });
  console.log(`wrote ${file}`);
}
