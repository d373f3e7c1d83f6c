/**
 * The single-channel convolution kernels (assembly/conv-single-channel.ts):
 * this checkout's WebAssembly module against the module of an older commit,
 * side by side in one process, on LeNet-5's first layer (x [64, 28, 28, 1],
 * 5×5 'same', 6 channels) and a few other shapes.
 *
 *   npx tsx bench/conv1.ts                        # against DEFAULT_BASELINE
 *   npx tsx bench/conv1.ts --baseline <commit>    # against another commit
 *   npx tsx bench/conv1.ts --quick                # fewer rounds, LeNet shape only
 *
 * Each module gets its own memory; both see the same inputs. The kernels are
 * called as the host calls them on one thread: the forward pass (bias and
 * relu fused) on the whole batch in one call, the filter gradient in
 * FILTER_GRADIENT_PARTS parts, then `sumPartials`. A round times a few calls
 * of the old kernel, then of the new one (which goes first alternates), so a
 * burst of load on the shared machine hits both alike; the result is the
 * median over rounds of old time / new time. The forward outputs are checked
 * for equal bits, the filter gradients compared (max |difference|). Prints a
 * table and writes bench/results/conv1.json (a quick run: conv1-quick.json).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { convGeometry, type Padding } from '../packages/ops/src/kernels/conv-geometry.ts';
import { FILTER_GRADIENT_PARTS, geometryFields } from '../packages/ops/src/kernels/wasm/conv-wasm.ts';
import { WASM_KERNELS_BASE64 } from '../packages/ops/src/kernels/wasm/kernels.generated.ts';
import type { KernelExports } from '../packages/ops/src/kernels/wasm/runtime.ts';
import { BENCH_DIR, RESULTS_DIR, codeVersion, formatTable, loadAverage, machineInfo, round2, writeJson } from './common.ts';
import { argValue, hasFlag, median } from './engine-common.ts';

/** The commit before the current kernels (16 pixels × 2 channels forward, 4 taps × 2 channels for the filter gradient). */
const DEFAULT_BASELINE = '761c44a8fb5d05c134975dfc5f2945ce53c8712b';
const QUICK = hasFlag('quick');
const ROUNDS = QUICK ? 15 : 41;
/** Each side of a round lasts about this long. */
const SAMPLE_MS = QUICK ? 10 : 20;

interface Case {
  name: string;
  /** x [N, H, W, 1] */
  shape: [number, number, number, number];
  kernel: [number, number];
  strides: [number, number];
  padding: Padding;
  outChannels: number;
}

const LENET: Case = { name: 'LeNet conv1', shape: [64, 28, 28, 1], kernel: [5, 5], strides: [1, 1], padding: 'same', outChannels: 6 };
const cases: Case[] = QUICK ? [LENET] : [
  LENET,
  { name: 'Cout 1', shape: [64, 28, 28, 1], kernel: [5, 5], strides: [1, 1], padding: 'same', outChannels: 1 },
  { name: 'Cout 4', shape: [64, 28, 28, 1], kernel: [5, 5], strides: [1, 1], padding: 'same', outChannels: 4 },
  { name: 'Cout 8', shape: [64, 28, 28, 1], kernel: [5, 5], strides: [1, 1], padding: 'same', outChannels: 8 },
  { name: 'Cout 12', shape: [64, 28, 28, 1], kernel: [5, 5], strides: [1, 1], padding: 'same', outChannels: 12 },
  { name: 'Cout 16', shape: [64, 28, 28, 1], kernel: [5, 5], strides: [1, 1], padding: 'same', outChannels: 16 },
  { name: '3×3, width 30', shape: [64, 30, 30, 1], kernel: [3, 3], strides: [1, 1], padding: 'same', outChannels: 6 },
  { name: 'stride 2 vertically', shape: [64, 28, 28, 1], kernel: [5, 5], strides: [2, 1], padding: 'same', outChannels: 6 },
];

/** The plain (unshared-memory) module as base64, from the generated file at commit `rev`. */
function baselineModule(rev: string): string {
  const text = execFileSync('git', ['show', `${rev}:packages/ops/src/kernels/wasm/kernels.generated.ts`], { cwd: BENCH_DIR, encoding: 'utf8', maxBuffer: 64 << 20 });
  const match = /WASM_KERNELS_BASE64 =\s*'([^']+)'/.exec(text);
  if (!match) throw new Error(`no WASM_KERNELS_BASE64 in the generated module of ${rev}`);
  return match[1];
}

/** One module in its own memory, with a case's operands copied in. */
class Instance {
  readonly exports: KernelExports;
  private readonly memory: WebAssembly.Memory;
  private top: number;

  constructor(base64: string) {
    this.memory = new WebAssembly.Memory({ initial: 1 });
    const module = new WebAssembly.Module(Buffer.from(base64, 'base64'));
    this.exports = new WebAssembly.Instance(module, { env: { memory: this.memory } }).exports as unknown as KernelExports;
    this.top = this.exports.heapBase();
  }

  /** Reserves `bytes` (16-byte aligned), optionally filled with `values`; returns the address. */
  reserve(bytes: number, values?: Float32Array | Int32Array): number {
    const at = Math.ceil(this.top / 16) * 16;
    this.top = at + bytes;
    const missing = this.top - this.memory.buffer.byteLength;
    if (missing > 0) this.memory.grow(Math.ceil(missing / 65536));
    if (values) new Uint8Array(this.memory.buffer, at, bytes).set(new Uint8Array(values.buffer, values.byteOffset, bytes));
    return at;
  }

  read(address: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, address, length).slice();
  }
}

function randomArray(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

interface Calls {
  forward(): void;
  filterGradient(): void;
  /** The outputs of the last calls: y, then dfilter. */
  outputs(): [Float32Array, Float32Array];
}

/** The host's calls of both kernels on one thread, for case `c` in `instance`. */
function prepare(instance: Instance, c: Case): Calls {
  const g = convGeometry(c.shape, c.kernel, { strides: c.strides, padding: c.padding });
  const Co = c.outChannels;
  const N = g.batch;
  const outSize = N * g.outHeight * g.outWidth * Co;
  const filterSize = c.kernel[0] * c.kernel[1] * Co;
  const e = instance.exports;
  const x = instance.reserve(N * g.inHeight * g.inWidth * 4, randomArray(N * g.inHeight * g.inWidth, 1));
  const filter = instance.reserve(filterSize * 4, randomArray(filterSize, 2));
  const bias = instance.reserve(Co * 4, randomArray(Co, 3));
  const dy = instance.reserve(outSize * 4, randomArray(outSize, 4));
  const y = instance.reserve(outSize * 4);
  const geometry = instance.reserve(13 * 4, Int32Array.from(geometryFields(g, Co)));
  const forwardWorkspace = instance.reserve(e.convForwardWorkspaceBytes(geometry));
  const perPart = Math.max(1, Math.ceil(N / FILTER_GRADIENT_PARTS));
  const parts = Math.ceil(N / perPart);
  const partials = instance.reserve(parts * filterSize * 4);
  const dfilter = instance.reserve(filterSize * 4);
  const filterWorkspace = instance.reserve(e.convBackpropFilterWorkspaceBytes(geometry));
  return {
    forward: () => e.convForward(x, filter, bias, 1, y, geometry, 0, N, forwardWorkspace),
    filterGradient: () => {
      for (let first = 0; first < N; first += perPart) e.convBackpropFilter(x, dy, partials, perPart, geometry, first, Math.min(perPart, N - first), filterWorkspace);
      e.sumPartials(partials, parts, filterSize, dfilter);
    },
    outputs: () => [instance.read(y, outSize), instance.read(dfilter, filterSize)],
  };
}

/** Milliseconds per call of `call`, over `calls` calls. */
function timeCalls(call: () => void, calls: number): number {
  const start = performance.now();
  for (let i = 0; i < calls; i++) call();
  return (performance.now() - start) / calls;
}

interface Comparison {
  oldMs: number;
  newMs: number;
  /** Median over rounds of old / new (> 1: the new kernel is faster). */
  ratio: number;
  multiplyAddsPerSecondNew: number;
}

/** Old against new, alternating, ROUNDS rounds. */
function compare(oldCall: () => void, newCall: () => void, multiplyAdds: number): Comparison {
  for (let i = 0; i < 5; i++) { oldCall(); newCall(); }
  const calls = Math.max(1, Math.round(SAMPLE_MS / Math.max(timeCalls(newCall, 5), 1e-3)));
  const oldMs: number[] = [], newMs: number[] = [], ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let o: number, n: number;
    if (r % 2 === 0) {
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
  const newMedian = median(newMs);
  return { oldMs: median(oldMs), newMs: newMedian, ratio: median(ratios), multiplyAddsPerSecondNew: multiplyAdds / (newMedian / 1000) };
}

/** Largest |a − b| over the elements, and the largest |a|. */
function difference(a: Float32Array, b: Float32Array): { maxAbsDifference: number; maxAbs: number } {
  let maxAbsDifference = 0, maxAbs = 0;
  for (let i = 0; i < a.length; i++) {
    maxAbsDifference = Math.max(maxAbsDifference, Math.abs(a[i] - b[i]));
    maxAbs = Math.max(maxAbs, Math.abs(a[i]));
  }
  return { maxAbsDifference, maxAbs };
}

function main(): void {
  const baseline = argValue('baseline') ?? DEFAULT_BASELINE;
  const baselineBase64 = baselineModule(baseline);
  const loadAtStart = loadAverage();
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  const results = cases.map((c) => {
    const g = convGeometry(c.shape, c.kernel, { strides: c.strides, padding: c.padding });
    const multiplyAdds = g.batch * g.outHeight * g.outWidth * c.kernel[0] * c.kernel[1] * c.outChannels;
    const before = prepare(new Instance(baselineBase64), c);
    const after = prepare(new Instance(WASM_KERNELS_BASE64), c);
    const forward = compare(before.forward, after.forward, multiplyAdds);
    const filterGradient = compare(before.filterGradient, after.filterGradient, multiplyAdds);
    const [yOld, dfOld] = before.outputs();
    const [yNew, dfNew] = after.outputs();
    const forwardDifference = difference(yNew, yOld);
    return {
      ...c,
      multiplyAdds,
      forward: { ...forward, ...forwardDifference, sameBits: forwardDifference.maxAbsDifference === 0 },
      filterGradient: { ...filterGradient, ...difference(dfNew, dfOld) },
    };
  });
  const cpuShare = (() => {
    const used = process.cpuUsage(cpuStart);
    return (used.user + used.system) / 1000 / (performance.now() - wallStart);
  })();

  const f3 = (v: number) => v.toFixed(3);
  const header = ['case', 'fwd old ms', 'fwd new ms', 'fwd ratio', 'fwd G/s', 'dW old ms', 'dW new ms', 'dW ratio', 'dW G/s', 'dW max diff'];
  const rows = results.map((r) => [
    r.name, f3(r.forward.oldMs), f3(r.forward.newMs), r.forward.ratio.toFixed(2), (r.forward.multiplyAddsPerSecondNew / 1e9).toFixed(1),
    f3(r.filterGradient.oldMs), f3(r.filterGradient.newMs), r.filterGradient.ratio.toFixed(2), (r.filterGradient.multiplyAddsPerSecondNew / 1e9).toFixed(1),
    r.filterGradient.maxAbsDifference.toExponential(1),
  ]);
  console.log(`single-channel conv kernels, one thread: this checkout against ${baseline.slice(0, 10)} (ratio: median of old / new over ${ROUNDS} rounds; G/s: multiply-adds of the new kernel)`);
  console.log(formatTable(header, rows));
  for (const r of results) if (!r.forward.sameBits) console.log(`${r.name}: forward outputs differ from the old kernel's (max |diff| ${r.forward.maxAbsDifference})`);
  console.log(`load average (1, 5, 15 min): start ${loadAtStart.join(' ')}, end ${loadAverage().join(' ')}; CPU share ${Math.round(cpuShare * 100)}%`);

  const file = join(RESULTS_DIR, QUICK ? 'conv1-quick.json' : 'conv1.json');
  writeJson(file, {
    benchmark: 'single-channel conv kernels, old module against new, one thread',
    date: new Date().toISOString(),
    quick: QUICK,
    baseline,
    rounds: ROUNDS,
    sampleMs: SAMPLE_MS,
    machine: machineInfo(),
    code: codeVersion(argValue('note')),
    loadAverage: { start: loadAtStart, end: loadAverage() },
    cpuShare: round2(cpuShare),
    results,
  });
  console.log(`wrote ${join('bench', 'results', QUICK ? 'conv1-quick.json' : 'conv1.json')}`);
}

main();
