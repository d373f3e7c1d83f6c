/**
 * What WebAssembly relaxed SIMD's fused multiply-add would give the GEMM and
 * convolution kernels, measured without touching the shipped ones.
 *
 *   npx tsx bench/relaxed-simd.ts                  # build both modules, check, time
 *   npx tsx bench/relaxed-simd.ts --base COMMIT    # kernels of a commit's packages/ops/assembly/ (read from git)
 *   npx tsx bench/relaxed-simd.ts --quick          # fewer rounds
 *
 * The build step copies the AssemblyScript kernels (packages/ops/assembly/:
 * *.ts and asconfig.json, from the working tree or, with --base, from git)
 * twice into bench/results/tmp/relaxed/ (git-ignored): `plain/` as they are,
 * and `relaxed/` with every accumulation `s = f32x4.add(s, f32x4.mul(a, b))`
 * rewritten to `s = f32x4.relaxed_madd(a, b, s)` (packages/ops/scripts/relaxed-simd.mjs,
 * the rewrite the shipped opt-in module is built with; the micro-kernels of
 * kernel.ts, which the GEMM and the multi-channel convolutions inline, and
 * the direct single-channel kernels of conv-single-channel.ts), plus an
 * exported probe `relaxedMaddProbe(a, b, c)` = lane 0 of relaxed_madd of
 * splats. Both are compiled with the options of asconfig.json and
 * --importMemory, as packages/ops/scripts/build-wasm.mjs compiles the
 * module of ordinary memory; the relaxed one with --enable relaxed-simd.
 * Neither goes near the generated module the package ships.
 *
 * V8 in Node 20 compiles relaxed SIMD only behind a flag, set below with
 * v8.setFlagsFromString before either module is compiled. The probe tells
 * how V8 lowered relaxed_madd here: with a = b = 1 + 2⁻¹², c = −(1 + 2⁻¹¹),
 * a fused multiply-add gives 2⁻²⁴, a multiply then an add gives 0. And a
 * child node compiles each module with V8's optimizing compiler and prints
 * its machine code (--print-wasm-code), in which the script counts vfmadd,
 * vmulps and vaddps instructions.
 *
 * Both modules load in one process, each in a memory of its own with the
 * same operands at the same addresses, and their kernels are called
 * directly on one thread (the filter gradient as the host calls it: partial
 * sums over fixed parts of the batch, then their sum): a 1024³ GEMM, and
 * LeNet-5's two convolutions (batch 64) and a 3×3×64→64 layer, forward
 * with bias and relu, filter gradient and input gradient. Plain and relaxed take turns, burst by
 * burst (which goes first alternates); the speed-up is the median over
 * rounds of plain time / relaxed time. The outputs are compared (largest
 * difference relative to the largest magnitude) and, for the GEMM, both
 * are compared with float64 sums on the first rows.
 *
 * Prints a table and writes bench/results/relaxed-simd.json (`--quick`:
 * relaxed-simd-quick.json).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import { FILTER_GRADIENT_PARTS, geometryFields } from '../packages/ops/src/kernels/wasm/conv-wasm.ts';
import { WASM_KERNELS_BASE64 } from '../packages/ops/src/kernels/wasm/kernels.generated.ts';
import type { KernelExports } from '../packages/ops/src/kernels/wasm/runtime.ts';
import { BENCH_DIR, TMP_DIR, codeVersion, formatTable, machineInfo, writeJson } from './common.ts';
import { argValue, hasFlag, median } from './engine-common.ts';
import { Layout, alternate, convShapeGeometry, floatsAt, loadLine, randomArray, timeCalls, watchLoad, type ConvShape, type Instance } from './kernel-versus.ts';

/** The rewrite the shipped opt-in module is built with. */
const { toRelaxed } = (await import(new URL('../packages/ops/scripts/relaxed-simd.mjs', import.meta.url).href)) as {
  toRelaxed(source: string): { text: string; count: number };
};

// Before any WebAssembly module is compiled.
v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

const QUICK = hasFlag('quick');
const BASE = argValue('base');
const ROUNDS = QUICK ? 9 : 31;
const BURST_MS = QUICK ? 20 : 40;
const WARMUP_CALLS = 5;
const ROOT = join(BENCH_DIR, '..');
const ASSEMBLY_DIR = 'packages/ops/assembly';
const BUILD_DIR = join(TMP_DIR, 'relaxed');
/** The compiler packages/ops builds its kernels with. */
const ASC = join(ROOT, 'packages', 'ops', 'node_modules', 'assemblyscript', 'dist', 'asc.js');

/** The exports timed here: today's (both modules are built from today's sources), plus the relaxed module's probe. */
type Kernels = Pick<
  KernelExports,
  | 'heapBase'
  | 'gemmWorkspaceBytes'
  | 'gemm'
  | 'convForwardWorkspaceBytes'
  | 'convForward'
  | 'convBackpropFilterWorkspaceBytes'
  | 'convBackpropFilter'
  | 'sumPartials'
  | 'convBackpropInputWorkspaceBytes'
  | 'convBackpropInput'
> & {
  /** Only in the relaxed module. */
  relaxedMaddProbe?(a: number, b: number, c: number): number;
};

// ---------------------------------------------------------------------------
// The build step.

const PROBE = `
/** Lane 0 of f32x4.relaxed_madd(splat(a), splat(b), splat(c)): whether the engine fuses (bench/relaxed-simd.ts). */
export function relaxedMaddProbe(a: f32, b: f32, c: f32): f32 {
  return f32x4.extract_lane(f32x4.relaxed_madd(f32x4.splat(a), f32x4.splat(b), f32x4.splat(c)), 0);
}
`;

/** The kernel sources: file name → text, from the working tree or from `commit`. */
function readSources(commit?: string): Map<string, string> {
  const sources = new Map<string, string>();
  const isInput = (name: string) => name.endsWith('.ts') || name === 'asconfig.json';
  if (commit === undefined) {
    const dir = join(ROOT, ASSEMBLY_DIR);
    for (const name of readdirSync(dir).filter(isInput).sort()) sources.set(name, readFileSync(join(dir, name), 'utf8'));
    return sources;
  }
  const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26 });
  for (const name of git('ls-tree', '--name-only', `${commit}:${ASSEMBLY_DIR}`).split('\n').filter(isInput).sort()) {
    sources.set(name, git('show', `${commit}:${ASSEMBLY_DIR}/${name}`));
  }
  return sources;
}

interface Build {
  plain: Uint8Array<ArrayBuffer>;
  relaxed: Uint8Array<ArrayBuffer>;
  compiler: string;
  /** Accumulations rewritten, per file. */
  rewrites: Record<string, number>;
  /** Instructions in the compiled text: relaxed_madd, and the multiplies left. */
  relaxedMaddInstructions: number;
  f32x4MulInstructions: { plain: number; relaxed: number };
  /** The plain build has the bytes of the module the package ships (packages/ops/src/kernels/wasm/kernels.generated.ts). */
  plainEqualsShipped: boolean;
}

interface Asc {
  version: string;
  main(
    args: string[],
    options: { writeFile(name: string, contents: Uint8Array | string): void },
  ): Promise<{ error: Error | null; stderr: { toString(): string } }>;
}

async function compile(asc: Asc, dir: string, extra: string[]): Promise<{ binary: Uint8Array<ArrayBuffer>; text: string }> {
  let binary: Uint8Array<ArrayBuffer> | null = null;
  let text = '';
  const result = await asc.main(
    ['--config', join(dir, 'asconfig.json'), '--outFile', 'kernels.wasm', '--textFile', 'kernels.wat', '--importMemory', ...extra],
    {
      writeFile(name, contents) {
        if (name.endsWith('.wasm')) binary = new Uint8Array(contents as Uint8Array);
        else if (name.endsWith('.wat')) text = String(contents);
      },
    },
  );
  if (result.error) throw new Error(`AssemblyScript compilation of ${dir} failed: ${result.error.message}\n${result.stderr.toString()}`);
  if (!binary) throw new Error(`AssemblyScript compilation of ${dir} produced no .wasm output`);
  writeFileSync(join(dir, 'kernels.wasm'), binary);
  writeFileSync(join(dir, 'kernels.wat'), text);
  return { binary, text };
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

async function build(): Promise<Build> {
  const sources = readSources(BASE);
  rmSync(BUILD_DIR, { recursive: true, force: true });
  const rewrites: Record<string, number> = {};
  for (const variant of ['plain', 'relaxed']) {
    const dir = join(BUILD_DIR, variant);
    mkdirSync(dir, { recursive: true });
    for (const [name, text] of sources) {
      let out = text;
      if (variant === 'relaxed' && name.endsWith('.ts')) {
        const relaxed = toRelaxed(text);
        out = relaxed.text;
        if (relaxed.count) rewrites[name] = relaxed.count;
        if (name === 'index.ts') out += PROBE;
      }
      writeFileSync(join(dir, name), out);
    }
  }
  const { default: asc } = (await import(pathToFileURL(ASC).href)) as { default: Asc };
  const plain = await compile(asc, join(BUILD_DIR, 'plain'), []);
  const relaxed = await compile(asc, join(BUILD_DIR, 'relaxed'), ['--enable', 'relaxed-simd']);
  const shipped = Buffer.from(WASM_KERNELS_BASE64, 'base64');
  return {
    plain: plain.binary,
    relaxed: relaxed.binary,
    compiler: `AssemblyScript ${asc.version}`,
    rewrites,
    relaxedMaddInstructions: count(relaxed.text, 'f32x4.relaxed_madd'),
    f32x4MulInstructions: { plain: count(plain.text, 'f32x4.mul'), relaxed: count(relaxed.text, 'f32x4.mul') },
    plainEqualsShipped: Buffer.compare(Buffer.from(plain.binary), shipped) === 0,
  };
}

/** Instructions in the machine code V8's optimizing compiler makes of a module, or null when this node cannot print it. */
interface Lowering {
  vfmadd: number;
  vmulps: number;
  vaddps: number;
}

/**
 * Compiles the module at `path` in a child node with every function through
 * TurboFan (the tier hot kernels end up in) and counts instructions in the
 * code it prints (--print-wasm-code: needs a node built with V8's
 * disassembler, as the official builds are).
 */
function lowering(path: string): Lowering | null {
  const script = `const b = require('node:fs').readFileSync(process.argv[1]);
new WebAssembly.Instance(new WebAssembly.Module(b), { env: { memory: new WebAssembly.Memory({ initial: 1 }) } });`;
  try {
    const text = execFileSync(
      process.execPath,
      ['--experimental-wasm-relaxed-simd', '--no-liftoff', '--no-wasm-lazy-compilation', '--print-wasm-code', '-e', script, path],
      { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    if (!text.includes('compiler: TurboFan')) return null;
    return { vfmadd: count(text, ' vfmadd'), vmulps: count(text, ' vmulps '), vaddps: count(text, ' vaddps ') };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------
// The cases.

function instantiate(binary: Uint8Array<ArrayBuffer>, pages: number): Instance<Kernels> {
  const memory = new WebAssembly.Memory({ initial: pages });
  const module = new WebAssembly.Module(binary);
  return { kernels: new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Kernels, memory };
}

interface Case {
  name: string;
  multiplyAdds: number;
  call: (k: Kernels) => void;
  out: number;
  outLength: number;
  /** float64 values of the first `length` outputs, for the accuracy columns (the GEMM only). */
  exact?: () => Float64Array;
}

const GEMM = 1024;
/** Rows of the GEMM whose float64 sums are computed. */
const EXACT_ROWS = 64;

const CONVS: ConvShape[] = [
  { name: 'LeNet conv1', shape: [64, 28, 28, 1], kernel: [5, 5], strides: [1, 1], padding: 'same', outChannels: 6 },
  { name: 'LeNet conv2', shape: [64, 14, 14, 6], kernel: [5, 5], strides: [1, 1], padding: 'valid', outChannels: 16 },
  { name: '3×3 64→64', shape: [8, 16, 16, 64], kernel: [3, 3], strides: [1, 1], padding: 'same', outChannels: 64 },
];

function buildCases(layout: Layout<Kernels>): Case[] {
  const cases: Case[] = [];
  const n = GEMM;
  const aValues = randomArray(n * n, 1, 0.5);
  const bValues = randomArray(n * n, 2, 0.5);
  const a = layout.floats(aValues);
  const b = layout.floats(bValues);
  const c = layout.output(n * n);
  const ws = layout.workspace((k) => k.gemmWorkspaceBytes(n, n, n));
  cases.push({
    name: `GEMM ${n}×${n}×${n}`,
    multiplyAdds: n * n * n,
    call: (k) => k.gemm(0, 0, n, n, n, 1, a, n, b, n, 0, c, n, 0, 0, 0, 0, n, ws),
    out: c,
    outLength: n * n,
    exact: () => {
      const out = new Float64Array(EXACT_ROWS * n);
      for (let i = 0; i < EXACT_ROWS; i++) {
        for (let p = 0; p < n; p++) {
          const av = aValues[i * n + p];
          for (let j = 0; j < n; j++) out[i * n + j] += av * bValues[p * n + j];
        }
      }
      return out;
    },
  });
  let seed = 3;
  for (const s of CONVS) {
    const g = convShapeGeometry(s);
    const N = g.batch;
    const Co = s.outChannels;
    const inSize = N * g.inHeight * g.inWidth * g.channels;
    const outSize = N * g.outHeight * g.outWidth * Co;
    const filterSize = g.kernelHeight * g.kernelWidth * g.channels * Co;
    const multiplyAdds = N * g.outHeight * g.outWidth * g.kernelHeight * g.kernelWidth * g.channels * Co;
    const x = layout.floats(randomArray(inSize, seed++));
    const filter = layout.floats(randomArray(filterSize, seed++, 0.5));
    const bias = layout.floats(randomArray(Co, seed++, 0.5));
    const dy = layout.floats(randomArray(outSize, seed++));
    const geometry = layout.ints(geometryFields(g, Co));
    const label = `${s.name} [${s.shape}] ${s.kernel.join('×')}×${Co}`;
    const y = layout.output(outSize);
    const wsF = layout.workspace((k) => k.convForwardWorkspaceBytes(geometry));
    cases.push({
      name: `${label} forward+bias+relu`,
      multiplyAdds,
      call: (k) => k.convForward(x, filter, bias, 1, y, geometry, 0, N, wsF),
      out: y,
      outLength: outSize,
    });
    // The host's filter gradient: fixed parts of the batch, then their sum.
    const perPart = Math.max(1, Math.ceil(N / FILTER_GRADIENT_PARTS));
    const parts = Math.ceil(N / perPart);
    const partials = layout.output(parts * filterSize);
    const dfilter = layout.output(filterSize);
    const wsG = layout.workspace((k) => k.convBackpropFilterWorkspaceBytes(geometry));
    cases.push({
      name: `${label} filter gradient`,
      multiplyAdds,
      call: (k) => {
        for (let first = 0; first < N; first += perPart) k.convBackpropFilter(x, dy, partials, perPart, geometry, first, Math.min(perPart, N - first), wsG);
        k.sumPartials(partials, parts, filterSize, dfilter);
      },
      out: dfilter,
      outLength: filterSize,
    });
    const dx = layout.output(inSize);
    const wsI = layout.workspace((k) => k.convBackpropInputWorkspaceBytes(geometry));
    cases.push({
      name: `${label} input gradient`,
      multiplyAdds,
      call: (k) => k.convBackpropInput(dy, filter, dx, geometry, 0, N, wsI),
      out: dx,
      outLength: inSize,
    });
  }
  return cases;
}

interface Result {
  name: string;
  multiplyAdds: number;
  plainMs: number;
  relaxedMs: number;
  plainGflops: number;
  relaxedGflops: number;
  /** Median over rounds of plain time / relaxed time (> 1: relaxed is faster). */
  speedup: number;
  speedupQuartiles: [number, number];
  /** Largest |relaxed − plain| over the output, and relative to the largest |plain|. */
  maxAbsDifference: number;
  maxRelativeDifference: number;
  sameBits: boolean;
  /** The GEMM: largest error of each against float64 sums on its first rows, relative to their largest magnitude. */
  float64?: { plain: number; relaxed: number };
}

function compare(
  c: Case,
  plain: Instance<Kernels>,
  relaxed: Instance<Kernels>,
): Pick<Result, 'maxAbsDifference' | 'maxRelativeDifference' | 'sameBits' | 'float64'> {
  c.call(plain.kernels);
  c.call(relaxed.kernels);
  const p = floatsAt(plain, c.out, c.outLength);
  const r = floatsAt(relaxed, c.out, c.outLength);
  let scale = 0;
  let diff = 0;
  let sameBits = true;
  for (let i = 0; i < c.outLength; i++) {
    scale = Math.max(scale, Math.abs(p[i]));
    const d = Math.abs(p[i] - r[i]);
    if (!(d <= diff)) diff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
    if (!Object.is(p[i], r[i])) sameBits = false;
  }
  const result: ReturnType<typeof compare> = { maxAbsDifference: diff, maxRelativeDifference: diff / scale, sameBits };
  if (c.exact) {
    const exact = c.exact();
    let exactScale = 0;
    let ep = 0;
    let er = 0;
    for (let i = 0; i < exact.length; i++) {
      exactScale = Math.max(exactScale, Math.abs(exact[i]));
      ep = Math.max(ep, Math.abs(p[i] - exact[i]));
      er = Math.max(er, Math.abs(r[i] - exact[i]));
    }
    result.float64 = { plain: ep / exactScale, relaxed: er / exactScale };
  }
  return result;
}

async function main(): Promise<void> {
  console.log(`building the plain and relaxed modules from ${BASE ? `${BASE}:` : ''}${ASSEMBLY_DIR} in ${BUILD_DIR}`);
  const built = await build();
  console.log(
    `${built.compiler}: rewrote ${Object.entries(built.rewrites)
      .map(([f, n]) => `${n} in ${f}`)
      .join(', ')}; the relaxed module has ${built.relaxedMaddInstructions} f32x4.relaxed_madd and ${built.f32x4MulInstructions.relaxed} f32x4.mul ` +
      `(plain: ${built.f32x4MulInstructions.plain} f32x4.mul); plain build ${built.plainEqualsShipped ? 'is' : 'is not'} byte-identical to the shipped module`,
  );
  // 64 MiB each to start (the layout grows them); the GEMM alone takes 12.
  const lowered = { plain: lowering(join(BUILD_DIR, 'plain', 'kernels.wasm')), relaxed: lowering(join(BUILD_DIR, 'relaxed', 'kernels.wasm')) };
  const describe = (l: Lowering | null) => (l ? `${l.vfmadd} vfmadd, ${l.vmulps} vmulps, ${l.vaddps} vaddps` : 'not printed by this node');
  console.log(`V8's optimized code (x64): plain module ${describe(lowered.plain)}; relaxed module ${describe(lowered.relaxed)}`);
  const plain = instantiate(built.plain, 1024);
  const relaxed = instantiate(built.relaxed, 1024);
  const a = 1 + 2 ** -12;
  const probe = relaxed.kernels.relaxedMaddProbe!(a, a, -(1 + 2 ** -11));
  const fused = probe !== 0;
  console.log(
    `probe: relaxed_madd(1 + 2⁻¹², 1 + 2⁻¹², −(1 + 2⁻¹¹)) = ${probe} → V8 ${fused ? 'fuses it (one rounding: an FMA instruction such as vfmadd)' : 'multiplies then adds (two roundings)'}`,
  );
  const cases = buildCases(new Layout([plain, relaxed]));
  const watch = watchLoad();
  const results: Result[] = [];
  for (const c of cases) {
    const check = compare(c, plain, relaxed);
    const plainCall = () => c.call(plain.kernels);
    const relaxedCall = () => c.call(relaxed.kernels);
    const slowest = Math.max(timeCalls(plainCall, WARMUP_CALLS), timeCalls(relaxedCall, WARMUP_CALLS));
    const t = alternate(plainCall, relaxedCall, ROUNDS, Math.max(1, Math.round(BURST_MS / Math.max(slowest, 1e-4))));
    const r: Result = {
      name: c.name,
      multiplyAdds: c.multiplyAdds,
      plainMs: t.oldMs,
      relaxedMs: t.newMs,
      plainGflops: (2 * c.multiplyAdds) / t.oldMs / 1e6,
      relaxedGflops: (2 * c.multiplyAdds) / t.newMs / 1e6,
      speedup: t.ratio,
      speedupQuartiles: t.ratioQuartiles,
      ...check,
    };
    results.push(r);
    console.log(`${r.name}: ${r.plainMs.toFixed(3)} → ${r.relaxedMs.toFixed(3)} ms, ×${r.speedup.toFixed(2)}`);
  }
  const load = watch();
  console.log();
  console.log(`plain = the kernels as shipped, relaxed = relaxed_madd accumulations; one thread, median of ${ROUNDS} alternating rounds`);
  console.log(
    formatTable(
      ['case', 'plain ms', 'relaxed ms', 'plain GFLOP/s', 'relaxed GFLOP/s', 'speed-up', 'middle half', 'max |Δ| / max', 'vs float64 plain / relaxed'],
      results.map((r) => [
        r.name,
        r.plainMs.toFixed(3),
        r.relaxedMs.toFixed(3),
        r.plainGflops.toFixed(1),
        r.relaxedGflops.toFixed(1),
        `${r.speedup.toFixed(2)}×`,
        `${r.speedupQuartiles[0].toFixed(2)}–${r.speedupQuartiles[1].toFixed(2)}`,
        r.sameBits ? 'same bits' : r.maxRelativeDifference.toExponential(1),
        r.float64 ? `${r.float64.plain.toExponential(1)} / ${r.float64.relaxed.toExponential(1)}` : '',
      ]),
    ),
  );
  console.log(`median speed-up over the cases: ${median(results.map((r) => r.speedup)).toFixed(2)}×`);
  console.log(loadLine(load));
  const file = join(BENCH_DIR, 'results', QUICK ? 'relaxed-simd-quick.json' : 'relaxed-simd.json');
  writeJson(file, {
    date: new Date().toISOString(),
    rounds: ROUNDS,
    burstMs: BURST_MS,
    quick: QUICK,
    sources: BASE ? `${BASE}:${ASSEMBLY_DIR}` : `working tree ${ASSEMBLY_DIR}`,
    build: {
      compiler: built.compiler,
      rewrites: built.rewrites,
      relaxedMaddInstructions: built.relaxedMaddInstructions,
      f32x4MulInstructions: built.f32x4MulInstructions,
      plainEqualsShipped: built.plainEqualsShipped,
      plainBytes: built.plain.length,
      relaxedBytes: built.relaxed.length,
    },
    v8Flag: '--experimental-wasm-relaxed-simd',
    probe: { a, b: a, c: -(1 + 2 ** -11), result: probe, fused },
    v8Lowering: lowered,
    machine: machineInfo(),
    code: codeVersion(argValue('note')),
    ...load,
    medianSpeedup: median(results.map((r) => r.speedup)),
    results,
  });
  console.log(`wrote ${file}`);
}

await main();
