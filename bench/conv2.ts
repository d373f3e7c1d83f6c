/**
 * Old against new WebAssembly convolution kernels (forward with bias and
 * relu, filter gradient, input gradient) on LeNet-5's second convolution
 * (x [64,14,14,6], filter 5×5×6×16, 'valid') and a few other shapes that
 * take the same kernels ('same' padding, strides 2, odd channel counts, a
 * window deeper than one k-block with 64 output channels, a tiny image with
 * 300 output channels, a single-channel input gradient), one thread.
 *
 *   npx tsx bench/conv2.ts                  # old = the kernels of BASE_COMMIT
 *   npx tsx bench/conv2.ts --base <commit>  # old = the kernels of another commit
 *   npx tsx bench/conv2.ts --quick          # fewer rounds
 *
 * The old module is read from git (the committed kernels.generated.ts of the
 * base commit), the new one from the working tree; each gets its own memory
 * with the same operands at the same addresses, and the kernels are called
 * directly, the way one thread runs a whole batch (the filter gradient as
 * the host does it: four partial sums over quarters of the batch, then their
 * sum). The machine may be shared and noisy, so the two take turns: each
 * round times a burst of old calls and a burst of new calls (which goes
 * first alternates), and the result is the median over rounds of old time /
 * new time. Outputs are checked first: every element within 1e-5 of the
 * largest magnitude of the old output (the new kernels may add in another
 * order), and the table says whether the bits are the same.
 *
 * Prints a table and writes bench/results/conv2.json.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { convGeometry, type ConvGeometry, type Padding } from '../packages/ops/src/kernels/conv-geometry.ts';
import { BENCH_DIR, RESULTS_DIR, codeVersion, formatTable, loadAverage, machineInfo, writeJson } from './common.ts';
import { argValue, hasFlag, median } from './engine-common.ts';

/** The commit the implicit-GEMM convolution kernels started from. */
const BASE_COMMIT = 'b25cfb9';
const GENERATED = 'packages/ops/src/kernels/wasm/kernels.generated.ts';

const QUICK = hasFlag('quick');
const ROUNDS = QUICK ? 15 : 61;
/** Each burst lasts about this long. */
const BURST_MS = QUICK ? 10 : 20;
/** Partial sums of the filter gradient, as the host computed them when these results were taken. */
const FILTER_GRADIENT_PARTS = 4;

interface Kernels {
  heapBase(): number;
  convForwardWorkspaceBytes(geometry: number): number;
  convForward(x: number, filter: number, bias: number, relu: number, y: number, geometry: number, firstImage: number, imageCount: number, workspace: number): void;
  convBackpropFilterWorkspaceBytes(geometry: number): number;
  convBackpropFilter(x: number, dy: number, partials: number, imagesPerPartial: number, geometry: number, firstImage: number, imageCount: number, workspace: number): void;
  sumPartials(partials: number, count: number, size: number, out: number): void;
  convBackpropInputWorkspaceBytes(geometry: number): number;
  convBackpropInput(dy: number, filter: number, dx: number, geometry: number, firstImage: number, imageCount: number, workspace: number): void;
}

interface Instance {
  kernels: Kernels;
  memory: WebAssembly.Memory;
}

/** The plain-memory module of a kernels.generated.ts source text. */
function instantiate(generatedSource: string): Instance {
  const match = /WASM_KERNELS_BASE64 =\s*'([^']+)'/.exec(generatedSource);
  if (!match) throw new Error('no WASM_KERNELS_BASE64 in the generated module');
  const memory = new WebAssembly.Memory({ initial: 1024 }); // 64 MiB: all cases together need about 25
  const module = new WebAssembly.Module(Buffer.from(match[1], 'base64'));
  const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Kernels;
  return { kernels, memory };
}

/** Deterministic values in [-1, 1). */
function randomArray(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

/** Places arrays one after another (16-byte aligned) from the module's heap base, in both memories alike. */
class Layout {
  private top: number;
  constructor(private readonly instances: Instance[]) {
    this.top = Math.max(...instances.map((i) => i.kernels.heapBase()));
  }
  private take(bytes: number): number {
    const address = Math.ceil(this.top / 16) * 16;
    this.top = address + bytes;
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
  /** Workspace of the larger of the two modules' needs. */
  workspace(bytes: (k: Kernels) => number): number {
    return this.take(Math.max(...this.instances.map((i) => bytes(i.kernels))));
  }
}

interface Case {
  name: string;
  /** Runs the kernel once on `kernels`. */
  call: (kernels: Kernels) => void;
  /** Where the output is, and how many floats. */
  out: number;
  outLength: number;
}

interface Shape {
  label: string;
  x: [number, number, number, number];
  kernel: [number, number];
  strides: [number, number];
  padding: Padding;
  outChannels: number;
}

const SHAPES: Shape[] = [
  { label: 'conv2', x: [64, 14, 14, 6], kernel: [5, 5], strides: [1, 1], padding: 'valid', outChannels: 16 },
  { label: 'conv2 same', x: [64, 14, 14, 6], kernel: [5, 5], strides: [1, 1], padding: 'same', outChannels: 16 },
  { label: 'stride 2', x: [32, 15, 15, 3], kernel: [3, 3], strides: [2, 2], padding: 'same', outChannels: 8 },
  { label: 'Cin 9', x: [16, 11, 9, 9], kernel: [3, 3], strides: [1, 1], padding: 'valid', outChannels: 13 },
  { label: 'wide', x: [16, 16, 16, 32], kernel: [3, 3], strides: [1, 1], padding: 'same', outChannels: 64 },
  { label: 'Cout 300', x: [1, 4, 4, 3], kernel: [3, 3], strides: [1, 1], padding: 'same', outChannels: 300 },
  { label: 'conv1', x: [64, 28, 28, 1], kernel: [5, 5], strides: [1, 1], padding: 'same', outChannels: 6 },
];

function geometryFields(g: ConvGeometry, outChannels: number): number[] {
  return [g.batch, g.inHeight, g.inWidth, g.channels, g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth, g.padTop, g.padLeft, g.outHeight, g.outWidth, outChannels];
}

function buildCases(layout: Layout): Case[] {
  const cases: Case[] = [];
  let seed = 1;
  for (const s of SHAPES) {
    const g = convGeometry(s.x, s.kernel, { strides: s.strides, padding: s.padding });
    const N = g.batch;
    const Co = s.outChannels;
    const inSize = N * g.inHeight * g.inWidth * g.channels;
    const outSize = N * g.outHeight * g.outWidth * Co;
    const filterSize = g.kernelHeight * g.kernelWidth * g.channels * Co;
    const x = layout.floats(randomArray(inSize, seed++));
    const filter = layout.floats(randomArray(filterSize, seed++));
    const bias = layout.floats(randomArray(Co, seed++));
    const dy = layout.floats(randomArray(outSize, seed++));
    const geometry = layout.ints(geometryFields(g, Co));
    const shape = `${s.label} [${s.x}] ${s.kernel.join('×')}×${Co}`;
    // The single-channel forward and filter gradient have kernels of their own, untouched here.
    if (g.channels > 1) {
      const y = layout.output(outSize);
      const ws = layout.workspace((k) => k.convForwardWorkspaceBytes(geometry));
      cases.push({ name: `forward+bias+relu ${shape}`, call: (k) => k.convForward(x, filter, bias, 1, y, geometry, 0, N, ws), out: y, outLength: outSize });
      const perPart = Math.ceil(N / FILTER_GRADIENT_PARTS);
      const parts = Math.ceil(N / perPart);
      const partials = layout.output(parts * filterSize);
      const dfilter = layout.output(filterSize);
      const wsF = layout.workspace((k) => k.convBackpropFilterWorkspaceBytes(geometry));
      cases.push({
        name: `filter gradient ${shape}`,
        call: (k) => {
          for (let first = 0; first < N; first += perPart) k.convBackpropFilter(x, dy, partials, perPart, geometry, first, Math.min(perPart, N - first), wsF);
          k.sumPartials(partials, parts, filterSize, dfilter);
        },
        out: dfilter,
        outLength: filterSize,
      });
    }
    const dx = layout.output(inSize);
    const wsI = layout.workspace((k) => k.convBackpropInputWorkspaceBytes(geometry));
    cases.push({ name: `input gradient ${shape}`, call: (k) => k.convBackpropInput(dy, filter, dx, geometry, 0, N, wsI), out: dx, outLength: inSize });
  }
  return cases;
}

/** Checks the new output against the old one; true when the bits are the same. */
function checkOutputs(c: Case, oldI: Instance, newI: Instance): boolean {
  c.call(oldI.kernels);
  c.call(newI.kernels);
  const a = new Float32Array(oldI.memory.buffer, c.out, c.outLength);
  const b = new Float32Array(newI.memory.buffer, c.out, c.outLength);
  let scale = 0;
  for (let i = 0; i < c.outLength; i++) scale = Math.max(scale, Math.abs(a[i]));
  let exact = true;
  for (let i = 0; i < c.outLength; i++) {
    if (!(Math.abs(a[i] - b[i]) <= 1e-5 * scale)) throw new Error(`${c.name}: element ${i} is ${b[i]} with the new kernels, ${a[i]} with the old`);
    if (!Object.is(a[i], b[i])) exact = false;
  }
  return exact;
}

/** Milliseconds per call of `calls` calls. */
function burst(c: Case, kernels: Kernels, calls: number): number {
  const start = performance.now();
  for (let i = 0; i < calls; i++) c.call(kernels);
  return (performance.now() - start) / calls;
}

interface Result {
  name: string;
  /** The new output has the same bits as the old. */
  sameBits: boolean;
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

function measure(c: Case, oldI: Instance, newI: Instance, sameBits: boolean): Result {
  // Warm up both, and size the bursts from the slower one.
  let slowest = 0;
  for (const i of [oldI, newI]) slowest = Math.max(slowest, burst(c, i.kernels, 5));
  const calls = Math.max(1, Math.round(BURST_MS / Math.max(slowest, 1e-4)));
  const oldMs: number[] = [];
  const newMs: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let o: number;
    let n: number;
    if (round % 2 === 0) {
      o = burst(c, oldI.kernels, calls);
      n = burst(c, newI.kernels, calls);
    } else {
      n = burst(c, newI.kernels, calls);
      o = burst(c, oldI.kernels, calls);
    }
    oldMs.push(o);
    newMs.push(n);
    ratios.push(o / n);
  }
  return { name: c.name, sameBits, oldMs: median(oldMs), newMs: median(newMs), ratio: median(ratios), ratioQuartiles: quartiles(ratios) };
}

function main(): void {
  const base = argValue('base') ?? BASE_COMMIT;
  const only = argValue('only');
  const oldSource = execFileSync('git', ['show', `${base}:${GENERATED}`], { cwd: BENCH_DIR, encoding: 'utf8', maxBuffer: 1 << 26 });
  const newSource = readFileSync(join(BENCH_DIR, '..', GENERATED), 'utf8');
  const oldI = instantiate(oldSource);
  const newI = instantiate(newSource);
  const cases = buildCases(new Layout([oldI, newI])).filter((c) => !only || c.name.includes(only));
  const loadAtStart = loadAverage();
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  const results: Result[] = [];
  for (const c of cases) {
    const sameBits = checkOutputs(c, oldI, newI);
    const r = measure(c, oldI, newI, sameBits);
    results.push(r);
    console.log(`${r.name}: ${r.oldMs.toFixed(4)} → ${r.newMs.toFixed(4)} ms, ×${r.ratio.toFixed(2)}`);
  }
  const cpuUsed = process.cpuUsage(cpuBefore);
  const cpuShare = (cpuUsed.user + cpuUsed.system) / 1000 / (performance.now() - wallBefore);
  const loadAtEnd = loadAverage();
  console.log();
  console.log(`old = kernels of ${base}, new = working tree; median of ${ROUNDS} alternating rounds, one thread`);
  console.log(formatTable(
    ['kernel', 'same bits', 'old ms', 'new ms', 'old/new', 'middle half'],
    results.map((r) => [r.name, r.sameBits ? 'yes' : 'no', r.oldMs.toFixed(4), r.newMs.toFixed(4), `${r.ratio.toFixed(2)}×`, `${r.ratioQuartiles[0].toFixed(2)}–${r.ratioQuartiles[1].toFixed(2)}`]),
  ));
  console.log(`load average (1, 5, 15 min): start ${loadAtStart.join(' ')}, end ${loadAtEnd.join(' ')}; CPU share ${(100 * cpuShare).toFixed(0)}%`);
  if (only) return;
  const outFile = join(RESULTS_DIR, QUICK ? 'conv2-quick.json' : 'conv2.json');
  writeJson(outFile, {
    date: new Date().toISOString(), base, rounds: ROUNDS, burstMs: BURST_MS, quick: QUICK,
    machine: machineInfo(), code: codeVersion(argValue('note')), loadAverage: { start: loadAtStart, end: loadAtEnd }, cpuShare,
    results,
  });
  console.log(`wrote ${outFile}`);
}

main();
