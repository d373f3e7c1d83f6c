/**
 * Old against new WebAssembly kernels for max pooling (forward and
 * backward), the bias gradient and the relu gradient, on the shapes of one
 * LeNet-5 training step (batch 64), one thread.
 *
 *   npx tsx bench/pool.ts                  # old = the kernels of BASE_COMMIT
 *   npx tsx bench/pool.ts --base <commit>  # old = the kernels of another commit
 *   npx tsx bench/pool.ts --quick          # fewer rounds
 *
 * The old module is read from git (the committed kernels.generated.ts of the
 * base commit), the new one from the working tree; each gets its own memory
 * with the same operands at the same addresses, and the kernels are called
 * directly (no copies in or out, the whole batch in one call). The machine
 * may be shared and noisy, so the two take turns: each round times a burst
 * of old calls and a burst of new calls (which goes first alternates), and
 * the result is the median over rounds of old time / new time. Outputs are
 * checked first: bit for bit, except the bias gradient (a float64 sum in a
 * different order), which must agree to float32 rounding.
 *
 * Prints a table and writes bench/results/pool.json.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, RESULTS_DIR, codeVersion, formatTable, loadAverage, machineInfo, writeJson } from './common.ts';
import { argValue, hasFlag, median } from './engine-common.ts';

/** The commit before the 2×2 pooling and register-sum bias gradient kernels. */
const BASE_COMMIT = '761c44a';
const GENERATED = 'packages/ops/src/kernels/wasm/kernels.generated.ts';

const QUICK = hasFlag('quick');
const ROUNDS = QUICK ? 15 : 61;
/** Each burst lasts about this long. */
const BURST_MS = QUICK ? 5 : 10;

interface Kernels {
  heapBase(): number;
  maxPoolForward(x: number, geometry: number, y: number, firstImage: number, imageCount: number): void;
  maxPoolBackward(dy: number, x: number, geometry: number, dx: number, firstImage: number, imageCount: number): void;
  reluBackward(dy: number, x: number, out: number, first: number, count: number): void;
  biasAddGradWorkspaceBytes(channels: number): number;
  biasAddGrad(dy: number, n: number, channels: number, out: number, workspace: number): void;
}

interface Instance {
  kernels: Kernels;
  memory: WebAssembly.Memory;
}

/** The plain-memory module of a kernels.generated.ts source text. */
function instantiate(generatedSource: string): Instance {
  const match = /WASM_KERNELS_BASE64 =\s*'([^']+)'/.exec(generatedSource);
  if (!match) throw new Error('no WASM_KERNELS_BASE64 in the generated module');
  const memory = new WebAssembly.Memory({ initial: 512 }); // 32 MiB: the largest case needs about 5
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
}

interface Case {
  name: string;
  /** Runs the kernel once on `kernels`. */
  call: (kernels: Kernels) => void;
  /** Where the output is, and how many floats. */
  out: number;
  outLength: number;
  /** Bit for bit, or to float32 rounding (a different summation order). */
  exact: boolean;
}

/** The pooling geometry struct (see assembly/geometry.ts) of a 2×2 stride-2 'valid' pool. */
function poolGeometry(batch: number, H: number, W: number, C: number): number[] {
  return [batch, H, W, C, 2, 2, 2, 2, 0, 0, H / 2, W / 2, C];
}

function buildCases(layout: Layout): Case[] {
  const cases: Case[] = [];
  const batch = 64;
  let seed = 1;
  for (const [H, W, C] of [[28, 28, 6], [10, 10, 16], [28, 28, 1]]) {
    const inSize = batch * H * W * C;
    const outSize = inSize / 4;
    const x = layout.floats(randomArray(inSize, seed++));
    const dy = layout.floats(randomArray(outSize, seed++));
    const geometry = layout.ints(poolGeometry(batch, H, W, C));
    const y = layout.output(outSize);
    const dx = layout.output(inSize);
    const shape = `[${batch},${H},${W},${C}]`;
    cases.push({ name: `maxPool ${shape}`, call: (k) => k.maxPoolForward(x, geometry, y, 0, batch), out: y, outLength: outSize, exact: true });
    cases.push({ name: `maxPoolGrad ${shape}`, call: (k) => k.maxPoolBackward(dy, x, geometry, dx, 0, batch), out: dx, outLength: inSize, exact: true });
  }
  // conv1 and conv2 outputs, then the dense layers.
  for (const [rows, C] of [[batch * 28 * 28, 6], [batch * 10 * 10, 16], [batch, 120], [batch, 84], [batch, 10]]) {
    const n = rows * C;
    const dy = layout.floats(randomArray(n, seed++));
    const out = layout.output(C);
    const workspace = layout.output(1024); // more than either module asks for these channel counts
    cases.push({ name: `biasAddGrad [${rows},${C}]`, call: (k) => k.biasAddGrad(dy, n, C, out, workspace), out, outLength: C, exact: false });
  }
  for (const n of [batch * 28 * 28 * 6, batch * 10 * 10 * 16]) {
    const dy = layout.floats(randomArray(n, seed++));
    const x = layout.floats(randomArray(n, seed++));
    const out = layout.output(n);
    cases.push({ name: `reluGrad ${n}`, call: (k) => k.reluBackward(dy, x, out, 0, n), out, outLength: n, exact: true });
  }
  return cases;
}

function checkOutputs(c: Case, oldI: Instance, newI: Instance): void {
  c.call(oldI.kernels);
  c.call(newI.kernels);
  const a = new Float32Array(oldI.memory.buffer, c.out, c.outLength);
  const b = new Float32Array(newI.memory.buffer, c.out, c.outLength);
  for (let i = 0; i < c.outLength; i++) {
    const same = c.exact ? Object.is(a[i], b[i]) : Math.abs(a[i] - b[i]) <= 2 ** -23 * Math.abs(a[i]);
    if (!same) throw new Error(`${c.name}: element ${i} is ${b[i]} with the new kernels, ${a[i]} with the old`);
  }
}

/** Milliseconds per call of `calls` calls. */
function burst(c: Case, kernels: Kernels, calls: number): number {
  const start = performance.now();
  for (let i = 0; i < calls; i++) c.call(kernels);
  return (performance.now() - start) / calls;
}

interface Result {
  name: string;
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

function measure(c: Case, oldI: Instance, newI: Instance): Result {
  // Warm up both, and size the bursts from the slower one.
  let slowest = 0;
  for (const i of [oldI, newI]) slowest = Math.max(slowest, burst(c, i.kernels, 20));
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
  return { name: c.name, oldMs: median(oldMs), newMs: median(newMs), ratio: median(ratios), ratioQuartiles: quartiles(ratios) };
}

function main(): void {
  const base = argValue('base') ?? BASE_COMMIT;
  const oldSource = execFileSync('git', ['show', `${base}:${GENERATED}`], { cwd: BENCH_DIR, encoding: 'utf8', maxBuffer: 1 << 26 });
  const newSource = readFileSync(join(BENCH_DIR, '..', GENERATED), 'utf8');
  const oldI = instantiate(oldSource);
  const newI = instantiate(newSource);
  const cases = buildCases(new Layout([oldI, newI]));
  const loadAtStart = loadAverage();
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  const results: Result[] = [];
  for (const c of cases) {
    checkOutputs(c, oldI, newI);
    const r = measure(c, oldI, newI);
    results.push(r);
    console.log(`${r.name}: ${r.oldMs.toFixed(4)} → ${r.newMs.toFixed(4)} ms, ×${r.ratio.toFixed(2)}`);
  }
  const cpuUsed = process.cpuUsage(cpuBefore);
  const cpuShare = (cpuUsed.user + cpuUsed.system) / 1000 / (performance.now() - wallBefore);
  const loadAtEnd = loadAverage();
  console.log();
  console.log(`old = kernels of ${base}, new = working tree; median of ${ROUNDS} alternating rounds, one thread`);
  console.log(formatTable(
    ['kernel', 'old ms', 'new ms', 'old/new', 'middle half'],
    results.map((r) => [r.name, r.oldMs.toFixed(4), r.newMs.toFixed(4), `${r.ratio.toFixed(2)}×`, `${r.ratioQuartiles[0].toFixed(2)}–${r.ratioQuartiles[1].toFixed(2)}`]),
  ));
  console.log(`load average (1, 5, 15 min): start ${loadAtStart.join(' ')}, end ${loadAtEnd.join(' ')}; CPU share ${(100 * cpuShare).toFixed(0)}%`);
  const outFile = join(RESULTS_DIR, QUICK ? 'pool-quick.json' : 'pool.json');
  writeJson(outFile, {
    date: new Date().toISOString(), base, rounds: ROUNDS, burstMs: BURST_MS, quick: QUICK,
    machine: machineInfo(), code: codeVersion(argValue('note')), loadAverage: { start: loadAtStart, end: loadAtEnd }, cpuShare,
    results,
  });
  console.log(`wrote ${outFile}`);
}

main();
