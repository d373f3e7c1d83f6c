/**
 * GFLOP/s of the WebAssembly convolution kernels on shapes other than
 * LeNet-5's: 3-channel inputs, strides 2, 3×3 and 1×1 filters, 'same' and
 * 'valid', layers of 64 to 256 channels, batches of 1, 8, 64 and 256, with
 * LeNet-5's two convolutions as reference rows, and the 3×3 layers of the
 * model variants (the residual LeNet's 6→6 and 16→16, the batchnorm +
 * residual CNN's 1→16 and 16→16). Four kernels per shape: the
 * forward pass (plain, and fused with bias and relu), the input gradient
 * (conv2dBackpropInput) and the filter gradient (conv2dBackpropFilter), on
 * one thread and on two, each against the WebAssembly SIMD peak of about
 * 42 GFLOP/s per core (bench/README.md, "What one core can reach").
 *
 *   npx tsx bench/conv-sweep.ts                 # or: pnpm bench:conv
 *   npx tsx bench/conv-sweep.ts --threads 1     # thread counts to run (default 1,2)
 *   npx tsx bench/conv-sweep.ts --quick         # batches 1 and 64, fewer samples
 *   npx tsx bench/conv-sweep.ts --resident      # feeds in kernel memory (no copies in)
 *   npx tsx bench/conv-sweep.ts --only A,B      # the layers whose name contains A or B (conv-sweep-only.json)
 *   npx tsx bench/conv-sweep.ts --native        # the opt-in native kernels too, beside the wasm ones (conv-sweep-native.json)
 *
 * Each kernel is timed as a session calls it: a Session on the wasm backend
 * runs a graph of the one op (conv2d; relu(biasAdd(conv2d)), which the
 * planner fuses into conv2dBiasRelu; conv2dBackpropInput;
 * conv2dBackpropFilter) with borrowed fetches, so the output stays in a
 * pooled buffer of kernel memory and is neither allocated nor copied out.
 * The feeds are ordinary arrays, so every run copies its operands into
 * kernel memory first, as a session does for a fed batch (`--resident`
 * places them in kernel memory instead, as a layer's inputs are inside a
 * model). The session's own per-run work is included too.
 *
 * Before timing, each kernel's output is checked against the op's own
 * JavaScript kernel (the same graph run by a Session on the js backend):
 * every element within 1e-5 of the largest magnitude of the reference. Where
 * it is not, both are compared with float64 sums of the same float32 values
 * (the JavaScript kernel's long float32 sums can be the ones that are off),
 * and the kernel passes if it is within 1e-5 of those. A kernel that fails
 * is not timed or reported. With several thread counts,
 * the outputs must also be the same bits on each (the kernels split work
 * so that they are).
 *
 * FLOPs are 2 per multiply-add of the convolution (N·Ho·Wo·kh·kw·Cin·Cout
 * multiply-adds; the same count for the two gradients); bias and relu are
 * not counted. Repetitions scale with the FLOPs: each sample repeats the run
 * enough times to do about SAMPLE_FLOPS, and the result is the median
 * sample. `% peak` compares with 42 GFLOP/s times the thread count.
 *
 * With `--native` every kernel also runs on the native kernels
 * (packages/ops/native/, enableNativeKernels): a second session planned
 * while they are registered, checked against the JavaScript kernel with the
 * same tolerance, and timed in the same turns as the wasm session, so the
 * native/wasm column is a ratio measured side by side. Their % peak is still
 * of the WebAssembly SIMD peak (AVX2 with FMA can reach about twice it).
 *
 * Prints a table and writes bench/results/conv-sweep.json
 * (`--quick`: conv-sweep-quick.json; `--resident`: conv-sweep-resident.json;
 * `--only`: conv-sweep-only.json, so a partial run never replaces a full one).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { backendByName, Graph, type Node, Session, type Tensor, toArray, wrap } from '@ndgraph/graph';
import { biasAdd, conv2d, conv2dBackpropFilter, conv2dBackpropInput, type Padding, relu } from '@ndgraph/ops';
import { disableNativeKernels, enableNativeKernels, enableWasmThreads, nativeKernelsInfo } from '@ndgraph/ops/node';
import { wasmKernels } from '../packages/ops/src/kernels/wasm/runtime.ts';
import { RESULTS_DIR, codeVersion, formatTable, loadAverage, machineInfo, round2, writeJson } from './common.ts';
import { argValue, hasFlag, median } from './engine-common.ts';
import { convShapeGeometry, randomArray, type ConvShape } from './kernel-versus.ts';
import type { ConvGeometry } from '../packages/ops/src/kernels/geometry.ts';

const QUICK = hasFlag('quick');
const RESIDENT = hasFlag('resident');
/** `--native`: the native kernels as a second engine, timed beside the wasm ones. */
const ENGINES: Engine[] = hasFlag('native') ? ['wasm', 'native'] : ['wasm'];
/** `--only a,b`: the layers whose name contains a or b. */
const ONLY = argValue('only')?.split(',');
const THREADS = (argValue('threads') ?? '1,2').split(',').map(Number);
if (THREADS.some((t) => !Number.isInteger(t) || t < 1)) throw new Error(`--threads takes thread counts such as 1,2; found ${argValue('threads')}`);
const BATCHES = QUICK ? [1, 64] : [1, 8, 64, 256];
/** WebAssembly SIMD float32 peak of one core of this machine, GFLOP/s (bench/README.md, "What one core can reach"). */
const PEAK_GFLOPS_PER_CORE = 42;
/** Each sample repeats the run until it has done about this many FLOPs (at least one run). */
const SAMPLE_FLOPS = QUICK ? 2.5e8 : 5e8;
const SAMPLES = QUICK ? 3 : 5;
/** Untimed samples before the timed ones. */
const WARMUP_SAMPLES = 1;
/** Largest difference from the JavaScript kernel, relative to the reference's largest magnitude. */
const TOLERANCE = 1e-5;
/** A failed check is diagnosed against float64 sums up to this size (a plain JavaScript loop). */
const FLOAT64_ORACLE_MAX_MULTIPLY_ADDS = 1e9;

/** A layer: x [batch, H, W, Cin] (the batch filled in per run). */
interface Layer {
  name: string;
  image: [number, number, number];
  kernel: [number, number];
  strides: [number, number];
  padding: Padding;
  outChannels: number;
  /** A note for the table (LeNet-5's layers). */
  note?: string;
}

const LAYERS: Layer[] = [
  { name: 'rgb 3×3 s1 same', image: [32, 32, 3], kernel: [3, 3], strides: [1, 1], padding: 'same', outChannels: 32 },
  { name: 'rgb 3×3 s2 same', image: [64, 64, 3], kernel: [3, 3], strides: [2, 2], padding: 'same', outChannels: 32 },
  { name: '3×3 64→64 same', image: [16, 16, 64], kernel: [3, 3], strides: [1, 1], padding: 'same', outChannels: 64 },
  { name: '3×3 64→64 valid', image: [18, 18, 64], kernel: [3, 3], strides: [1, 1], padding: 'valid', outChannels: 64 },
  { name: '3×3 s2 64→128 same', image: [16, 16, 64], kernel: [3, 3], strides: [2, 2], padding: 'same', outChannels: 128 },
  { name: '3×3 128→128 same', image: [8, 8, 128], kernel: [3, 3], strides: [1, 1], padding: 'same', outChannels: 128 },
  { name: '3×3 256→256 same', image: [4, 4, 256], kernel: [3, 3], strides: [1, 1], padding: 'same', outChannels: 256 },
  { name: '1×1 64→256', image: [8, 8, 64], kernel: [1, 1], strides: [1, 1], padding: 'valid', outChannels: 256 },
  { name: '1×1 256→64', image: [8, 8, 256], kernel: [1, 1], strides: [1, 1], padding: 'valid', outChannels: 64 },
  { name: '1×1 s2 128→256', image: [16, 16, 128], kernel: [1, 1], strides: [2, 2], padding: 'same', outChannels: 256 },
  { name: 'LeNet conv1', image: [28, 28, 1], kernel: [5, 5], strides: [1, 1], padding: 'same', outChannels: 6, note: 'LeNet-5' },
  { name: 'LeNet conv2', image: [14, 14, 6], kernel: [5, 5], strides: [1, 1], padding: 'valid', outChannels: 16, note: 'LeNet-5' },
  { name: 'residual LeNet res1', image: [14, 14, 6], kernel: [3, 3], strides: [1, 1], padding: 'same', outChannels: 6, note: 'residual variant' },
  { name: 'residual LeNet res2', image: [5, 5, 16], kernel: [3, 3], strides: [1, 1], padding: 'same', outChannels: 16, note: 'residual variant' },
  { name: 'cnn-bn-res conv1', image: [28, 28, 1], kernel: [3, 3], strides: [1, 1], padding: 'same', outChannels: 16, note: 'CNN variant' },
  { name: 'cnn-bn-res res', image: [14, 14, 16], kernel: [3, 3], strides: [1, 1], padding: 'same', outChannels: 16, note: 'CNN variant' },
];

type Engine = 'wasm' | 'native';

const KERNELS = ['forward', 'forward+bias+relu', 'input gradient', 'filter gradient'] as const;
type KernelName = (typeof KERNELS)[number];
/** The op whose kernel the session must run for each (the fused one for forward+bias+relu). */
const EXPECTED_OP: Record<KernelName, string> = {
  forward: 'conv2d',
  'forward+bias+relu': 'conv2dBiasRelu',
  'input gradient': 'conv2dBackpropInput',
  'filter gradient': 'conv2dBackpropFilter',
};

interface Timing {
  threads: number;
  /** Median over samples of milliseconds per run, and what it gives. */
  ms: number;
  gflops: number;
  percentOfPeak: number;
  /** The fastest sample. */
  bestMs: number;
  bestPercentOfPeak: number;
  /** Runs timed per sample. */
  runsPerSample: number;
  /** Process CPU time over wall time in the timed samples: about the thread count when the threads had their cores. */
  cpuShare: number;
  /** Share of the timed kernel calls in which a helper thread took part (0 on one thread). */
  helperShare: number;
}

interface Row {
  /** Whose kernels ran: the wasm backend's own, or the native ones in their place. */
  engine: Engine;
  layer: string;
  batch: number;
  kernel: KernelName;
  /** x [N, H, W, Cin] → y [N, Ho, Wo, Cout] */
  x: number[];
  y: number[];
  filter: number[];
  strides: [number, number];
  padding: Padding;
  multiplyAdds: number;
  flops: number;
  check: {
    maxAbsDifference: number;
    referenceMaxMagnitude: number;
    relative: number;
    passed: boolean;
    sameBitsAcrossThreads: boolean | null;
    /** For a failed check: both kernels against float64 sums of the same float32 values (relative to the largest magnitude). */
    float64?: { wasmRelative: number; jsRelative: number };
  };
  timings: Timing[];
  note?: string;
}

/** Feeds of `length` floats: an ordinary array, or (`--resident`) a tensor block of kernel memory. */
function feedArray(values: Float32Array): Float32Array {
  if (!RESIDENT) return values;
  const array = backendByName('wasm').allocate('float32', values.length) as Float32Array;
  array.set(values);
  return array;
}

function maxMagnitude(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    // NaN counts as a failure.
    d = e > d || Number.isNaN(e) ? (Number.isNaN(e) ? Number.POSITIVE_INFINITY : e) : d;
  }
  return d;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false;
  return true;
}

function helperCalls(): number {
  return wasmKernels()?.stats().callsWithHelpers ?? 0;
}

/** Machine-wide CPU ticks stolen by the hypervisor (other guests) and all ticks so far (Linux /proc/stat); null elsewhere. */
function stealTicks(): { steal: number; total: number } | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { steal: fields[7] ?? 0, total: fields.reduce((a, b) => a + b, 0) };
  } catch {
    return null;
  }
}

/** A timed sample: `runs` runs of `run`, wall and process CPU milliseconds, and the kernel calls helpers took part in. */
function sample(run: () => void, runs: number): { wallMs: number; cpuMs: number; helperCalls: number } {
  const helpers = helperCalls();
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < runs; i++) run();
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000, helperCalls: helperCalls() - helpers };
}

/**
 * Times several runs at once, taking turns sample by sample (so a burst of
 * load from other processes hits all of them alike). Each sample of run i
 * repeats it enough times to do about SAMPLE_FLOPS.
 */
function timeInTurns(runs: Array<() => void>, flops: number, threads: number): Omit<Timing, 'threads'>[] {
  const runsPerSample = Math.max(1, Math.round(SAMPLE_FLOPS / flops));
  for (let s = 0; s < WARMUP_SAMPLES; s++) for (const run of runs) sample(run, runsPerSample);
  const samples = runs.map(() => [] as Array<ReturnType<typeof sample>>);
  for (let s = 0; s < SAMPLES; s++) runs.forEach((run, i) => samples[i].push(sample(run, runsPerSample)));
  return samples.map((list) => {
    const ms = median(list.map((x) => x.wallMs)) / runsPerSample;
    const bestMs = Math.min(...list.map((x) => x.wallMs)) / runsPerSample;
    const percent = (t: number) => (100 * (flops / t / 1e6)) / (PEAK_GFLOPS_PER_CORE * threads);
    const wall = list.reduce((a, x) => a + x.wallMs, 0);
    const cpu = list.reduce((a, x) => a + x.cpuMs, 0);
    // Each run is one kernel call (the filter gradient's partial sums are added in the same call).
    const helperShare = list.reduce((a, x) => a + x.helperCalls, 0) / (list.length * runsPerSample);
    return {
      ms,
      gflops: flops / ms / 1e6,
      percentOfPeak: percent(ms),
      bestMs,
      bestPercentOfPeak: percent(bestMs),
      runsPerSample,
      cpuShare: round2(cpu / wall),
      helperShare: round2(helperShare),
    };
  });
}

/**
 * float64 sums of the same float32 values, for the diagnosis of a failed
 * check (whose float32 rounding is further off). Null for more than
 * FLOAT64_ORACLE_MAX_MULTIPLY_ADDS multiply-adds.
 */
function float64Reference(kernel: KernelName, g: ConvGeometry, co: number, data: LayerData): Float64Array | null {
  if (g.batch * g.outHeight * g.outWidth * g.kernelHeight * g.kernelWidth * g.channels * co > FLOAT64_ORACLE_MAX_MULTIPLY_ADDS) return null;
  const { x, filter, bias, dy } = data;
  const C = g.channels;
  const out = new Float64Array(kernel === 'input gradient' ? x.length : kernel === 'filter gradient' ? filter.length : dy.length);
  for (let n = 0; n < g.batch; n++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++) {
        const p = (n * g.outHeight + oh) * g.outWidth + ow;
        for (let ki = 0; ki < g.kernelHeight; ki++) {
          const ih = oh * g.strideHeight - g.padTop + ki;
          if (ih < 0 || ih >= g.inHeight) continue;
          for (let kj = 0; kj < g.kernelWidth; kj++) {
            const iw = ow * g.strideWidth - g.padLeft + kj;
            if (iw < 0 || iw >= g.inWidth) continue;
            const xp = ((n * g.inHeight + ih) * g.inWidth + iw) * C;
            const fp = (ki * g.kernelWidth + kj) * C * co;
            for (let ci = 0; ci < C; ci++) {
              for (let o = 0; o < co; o++) {
                const f = fp + ci * co + o;
                if (kernel === 'input gradient') out[xp + ci] += dy[p * co + o] * filter[f];
                else if (kernel === 'filter gradient') out[f] += x[xp + ci] * dy[p * co + o];
                else out[p * co + o] += x[xp + ci] * filter[f];
              }
            }
          }
        }
      }
    }
  }
  if (kernel === 'forward+bias+relu') for (let i = 0; i < out.length; i++) out[i] = Math.max(0, out[i] + bias[i % co]);
  return out;
}

/** A layer's operands. */
interface LayerData {
  x: Float32Array;
  filter: Float32Array;
  bias: Float32Array;
  dy: Float32Array;
}

/** The graph of one layer at one batch size: a fetch per kernel, and the feeds. */
function buildLayer(layer: Layer, batch: number, seed: number) {
  const shape: ConvShape = {
    name: layer.name,
    shape: [batch, ...layer.image],
    kernel: layer.kernel,
    strides: layer.strides,
    padding: layer.padding,
    outChannels: layer.outChannels,
  };
  const geometry = convShapeGeometry(shape);
  const [kh, kw] = layer.kernel;
  const cin = layer.image[2];
  const co = layer.outChannels;
  const xShape = shape.shape.slice();
  const yShape = [batch, geometry.outHeight, geometry.outWidth, co];
  const filterShape = [kh, kw, cin, co];
  const g = new Graph({ backend: 'wasm' });
  const x = g.placeholder('x', xShape);
  const filter = g.placeholder('filter', filterShape);
  const bias = g.placeholder('bias', [co]);
  const dy = g.placeholder('dy', yShape);
  const options = { strides: layer.strides, padding: layer.padding };
  const fetches: Record<KernelName, Node> = {
    forward: conv2d(x, filter, options),
    'forward+bias+relu': relu(biasAdd(conv2d(x, filter, options), bias)),
    'input gradient': conv2dBackpropInput(dy, filter, x, options),
    'filter gradient': conv2dBackpropFilter(dy, x, filter, options),
  };
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const data: LayerData = {
    x: feedArray(randomArray(size(xShape), seed)),
    filter: feedArray(randomArray(size(filterShape), seed + 1, 0.5)),
    bias: feedArray(randomArray(co, seed + 2, 0.5)),
    dy: feedArray(randomArray(size(yShape), seed + 3)),
  };
  const feeds = new Map<Node, Tensor>([
    [x, wrap(data.x, xShape)],
    [filter, wrap(data.filter, filterShape)],
    [bias, wrap(data.bias, [co])],
    [dy, wrap(data.dy, yShape)],
  ]);
  const multiplyAdds = batch * geometry.outHeight * geometry.outWidth * kh * kw * cin * co;
  return { g, fetches, feeds, data, geometry, xShape, yShape, filterShape, multiplyAdds };
}

/** Sets the thread count of the kernels an engine runs on (the native kernels have their own threads). */
function useThreads(engine: Engine, threads: number): void {
  enableWasmThreads(threads);
  if (engine === 'native') enableNativeKernels({ threads });
}

/**
 * A session on the wasm backend whose plans take the engine's kernels: each
 * fetch is planned (by one run) while those kernels are registered, and a
 * session keeps the kernels it planned with.
 */
function engineSession(g: Graph, engine: Engine, fetches: Node[], feeds: Map<Node, Tensor>): Session {
  if (engine === 'native') {
    if (!enableNativeKernels({ threads: THREADS[0] })) throw new Error(`--native: the native kernels are unavailable here (${nativeKernelsInfo().reason})`);
  } else disableNativeKernels();
  const session = new Session(g, { backend: 'wasm' });
  for (const fetch of fetches) session.run(fetch, feeds, { borrow: true });
  disableNativeKernels();
  return session;
}

/** Checks and times the four kernels of one layer at one batch size, on each engine. */
function runLayer(layer: Layer, batch: number, seed: number): Row[] {
  const { g, fetches, feeds, data, geometry, xShape, yShape, filterShape, multiplyAdds } = buildLayer(layer, batch, seed);
  const flops = 2 * multiplyAdds;
  const js = new Session(g, { backend: 'js' });
  const sessions = ENGINES.map((engine) => ({
    engine,
    session: engineSession(
      g,
      engine,
      KERNELS.map((k) => fetches[k]),
      feeds,
    ),
  }));
  const rows: Row[] = [];
  for (const { engine, session } of sessions) {
    // The check: the op's JavaScript kernel against this engine's (on each thread count: the same bits).
    const outputs = new Map<KernelName, Float32Array[]>(KERNELS.map((k) => [k, []]));
    for (const threads of THREADS) {
      useThreads(engine, threads);
      for (const kernel of KERNELS) {
        const ops: string[] = [];
        const value = session.run(fetches[kernel], feeds, { onTime: (_node, _ms, op) => ops.push(op.name) });
        if (ops.length !== 1 || ops[0] !== EXPECTED_OP[kernel])
          throw new Error(`${layer.name} ${kernel}: the session ran ${ops.join(', ')}, not ${EXPECTED_OP[kernel]}`);
        outputs.get(kernel)!.push((value.data as Float32Array).slice(value.offset, value.offset + value.size));
      }
    }
    for (const kernel of KERNELS) {
      const reference = toArray(js.run(fetches[kernel], feeds));
      const [got, ...others] = outputs.get(kernel)!;
      const sameBitsAcrossThreads = others.length ? others.every((o) => sameBits(got, o)) : null;
      const referenceMaxMagnitude = maxMagnitude(reference);
      const difference = maxAbsDifference(got, reference);
      const relative = difference / Math.max(referenceMaxMagnitude, Number.MIN_VALUE);
      let ok = relative <= TOLERANCE && sameBitsAcrossThreads !== false;
      let float64: { wasmRelative: number; jsRelative: number } | undefined;
      if (!ok) {
        const exact = float64Reference(kernel, geometry, layer.outChannels, data);
        if (exact) {
          const scale = Math.max(maxMagnitude(exact), Number.MIN_VALUE);
          float64 = { wasmRelative: maxAbsDifference(got, exact) / scale, jsRelative: maxAbsDifference(reference, exact) / scale };
        }
        // A long float32 sum in the JavaScript kernel can be the one that is off: then the float64 sums decide.
        const nearFloat64 = float64 !== undefined && float64.wasmRelative <= TOLERANCE && sameBitsAcrossThreads !== false;
        console.log(
          `  ${layer.name} batch ${batch} ${kernel} (${engine}): ${nearFloat64 ? 'off the JavaScript kernel' : 'CHECK FAILED'} (max |Δ| ${difference.toExponential(2)}, ${relative.toExponential(2)} of the largest magnitude; ` +
            `same bits across threads: ${sameBitsAcrossThreads}${float64 ? `; against float64 sums: ${engine} ${float64.wasmRelative.toExponential(2)}, js ${float64.jsRelative.toExponential(2)}` : ''})${nearFloat64 ? `; within ${TOLERANCE} of the float64 sums, reported` : '; not reported'}`,
        );
        ok = nearFloat64;
      }
      rows.push({
        engine,
        layer: layer.name,
        batch,
        kernel,
        x: xShape,
        y: yShape,
        filter: filterShape,
        strides: layer.strides,
        padding: layer.padding,
        multiplyAdds,
        flops,
        check: { maxAbsDifference: difference, referenceMaxMagnitude, relative, passed: ok, sameBitsAcrossThreads, ...(float64 ? { float64 } : {}) },
        timings: [],
        ...(layer.note ? { note: layer.note } : {}),
      });
    }
  }
  // Timing: thread count by thread count, every engine's kernels taking turns sample by sample.
  const timed = rows.filter((r) => r.check.passed);
  for (const threads of THREADS) {
    for (const engine of ENGINES) useThreads(engine, threads);
    const runs = timed.map((row) => {
      const node = fetches[row.kernel];
      const session = sessions.find((s) => s.engine === row.engine)!.session;
      return () => {
        session.run(node, feeds, { borrow: true });
      };
    });
    timeInTurns(runs, flops, threads).forEach((t, i) => timed[i].timings.push({ threads, ...t }));
  }
  js.dispose();
  for (const { session } of sessions) session.dispose();
  if (ENGINES.includes('native')) disableNativeKernels();
  return rows;
}

/** A few untimed runs of every kernel on LeNet-5's layers, so V8 has optimized the kernels (its wasm tier-up) before the first timing. */
function warmUp(): void {
  for (const layer of LAYERS.filter((l) => l.note)) {
    const { g, fetches, feeds } = buildLayer(layer, 64, 99);
    const s = new Session(g, { backend: 'wasm' });
    for (const threads of THREADS) {
      enableWasmThreads(threads);
      const until = performance.now() + 300;
      while (performance.now() < until) for (const kernel of KERNELS) s.run(fetches[kernel], feeds, { borrow: true });
    }
    s.dispose();
  }
}

function shapeLabel(r: Row): string {
  const [, h, w, c] = r.x;
  const [, ho, wo, co] = r.y;
  return `${r.layer} ${h}×${w}×${c}→${ho}×${wo}×${co}`;
}

function main(): void {
  const kernels = wasmKernels();
  if (!kernels) throw new Error('the WebAssembly kernels cannot run on this engine');
  if (THREADS.some((t) => t > 1) && !kernels.shared) throw new Error('threads need a shared WebAssembly memory, which this engine does not allow');
  const layers = LAYERS.filter((l) => !ONLY || ONLY.some((part) => l.name.includes(part)));
  const loadAtStart = loadAverage();
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  const stealBefore = stealTicks();
  console.log(
    `conv sweep${QUICK ? ' (quick)' : ''}: ${layers.length} layers × batches ${BATCHES.join(', ')} × ${KERNELS.length} kernels × ${ENGINES.join(' and ')}, threads ${THREADS.join(', ')}; ` +
      `feeds ${RESIDENT ? 'in kernel memory' : 'copied in every run'}; load average ${loadAtStart.join(' ')}`,
  );
  warmUp();
  const rows: Row[] = [];
  let seed = 1;
  for (const layer of layers) {
    for (const batch of BATCHES) {
      const started = performance.now();
      const layerRows = runLayer(layer, batch, seed);
      seed += 4;
      rows.push(...layerRows);
      const summary = layerRows
        .filter((r) => r.check.passed)
        .map((r) => `${r.kernel}${ENGINES.length > 1 ? ` ${r.engine}` : ''} ${r.timings.map((t) => t.gflops.toFixed(1)).join('/')}`)
        .join(', ');
      console.log(`  ${layer.name} batch ${batch}: ${summary} GFLOP/s (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    }
  }
  const cpuUsed = process.cpuUsage(cpuBefore);
  const wallMs = performance.now() - wallBefore;
  const cpuShare = (cpuUsed.user + cpuUsed.system) / 1000 / wallMs;
  const loadAtEnd = loadAverage();
  const stealAfter = stealTicks();
  const stealShare = stealBefore && stealAfter ? round2((stealAfter.steal - stealBefore.steal) / Math.max(1, stealAfter.total - stealBefore.total)) : null;

  const withEngines = ENGINES.length > 1;
  const header = [
    'shape',
    'batch',
    'kernel',
    ...(withEngines ? ['engine'] : []),
    ...THREADS.flatMap((t) => [`ms ${t}t`, `GFLOP/s ${t}t`, `% peak ${t}t`, `best ${t}t`, `CPU ${t}t`]),
    ...(THREADS.length > 1 ? [`${THREADS[1]}t/${THREADS[0]}t`] : []),
    ...(withEngines ? THREADS.map((t) => `native/wasm ${t}t`) : []),
  ];
  /** The wasm row of the same layer, batch and kernel as a native row. */
  const wasmRow = (r: Row) => rows.find((w) => w.engine === 'wasm' && w.layer === r.layer && w.batch === r.batch && w.kernel === r.kernel);
  const nativeOverWasm = (r: Row, ti: number) => {
    const w = wasmRow(r);
    return r.engine === 'native' && w?.timings[ti] && r.timings[ti] ? `${(w.timings[ti].ms / r.timings[ti].ms).toFixed(2)}×` : '';
  };
  const table = rows
    .filter((r) => r.check.passed)
    .map((r) => [
      shapeLabel(r),
      String(r.batch),
      r.kernel,
      ...(withEngines ? [r.engine] : []),
      ...r.timings.flatMap((t) => [
        t.ms < 1 ? t.ms.toFixed(3) : t.ms.toFixed(2),
        t.gflops.toFixed(1),
        `${t.percentOfPeak.toFixed(0)}%`,
        `${t.bestPercentOfPeak.toFixed(0)}%`,
        `${(100 * t.cpuShare).toFixed(0)}%`,
      ]),
      ...(r.timings.length > 1 ? [`${(r.timings[0].ms / r.timings[1].ms).toFixed(2)}×`] : []),
      ...(withEngines ? THREADS.map((_, ti) => nativeOverWasm(r, ti)) : []),
    ]);
  console.log();
  console.log(
    `GFLOP/s (2 per multiply-add) of the wasm conv kernels through Session.run (borrowed fetches; feeds ${RESIDENT ? 'in kernel memory' : 'copied in'}); ` +
      `% peak: of ${PEAK_GFLOPS_PER_CORE} GFLOP/s per thread; median of ${SAMPLES} samples of about ${SAMPLE_FLOPS / 1e9} GFLOP each ` +
      `(best: the fastest sample's % peak; CPU: process CPU time over wall time while timing)`,
  );
  console.log(formatTable(header, table, 3));

  // Best and worst % of peak per kernel and thread count.
  const extremes = ENGINES.flatMap((engine) =>
    KERNELS.flatMap((kernel) =>
      THREADS.map((threads, ti) => {
        const measured = rows.filter((r) => r.engine === engine && r.kernel === kernel && r.timings[ti]);
        const sorted = measured.slice().sort((a, b) => a.timings[ti].percentOfPeak - b.timings[ti].percentOfPeak);
        const worst = sorted[0];
        const best = sorted[sorted.length - 1];
        return { engine, kernel, threads, worst, best, medianPercent: median(measured.map((r) => r.timings[ti].percentOfPeak)) };
      }),
    ),
  ).filter((e) => e.best);
  console.log();
  console.log(
    formatTable(
      ['kernel', 'engine', 'threads', 'median % peak', 'best', 'worst'],
      extremes.map((e) => [
        e.kernel,
        e.engine,
        String(e.threads),
        `${e.medianPercent.toFixed(0)}%`,
        `${e.best.timings[THREADS.indexOf(e.threads)].percentOfPeak.toFixed(0)}% ${e.best.layer} b${e.best.batch}`,
        `${e.worst.timings[THREADS.indexOf(e.threads)].percentOfPeak.toFixed(0)}% ${e.worst.layer} b${e.worst.batch}`,
      ]),
      1,
    ),
  );
  const failed = rows.filter((r) => !r.check.passed);
  console.log(
    `checks: ${rows.length - failed.length} of ${rows.length} kernels within ${TOLERANCE} of the JavaScript kernels (${rows.filter((r) => r.check.passed && r.check.float64).length} of them of the float64 sums instead)${failed.length ? `; not reported: ${failed.map((r) => `${r.layer} b${r.batch} ${r.kernel}`).join(', ')}` : ''}`,
  );
  console.log(
    `load average (1, 5, 15 min): start ${loadAtStart.join(' ')}, end ${loadAtEnd.join(' ')}; CPU share ${(100 * cpuShare).toFixed(0)}%; ` +
      `${stealShare === null ? '' : `steal ${(100 * stealShare).toFixed(0)}% of the machine's CPU time; `}${(wallMs / 1000).toFixed(0)} s`,
  );

  const file = join(RESULTS_DIR, `conv-sweep${withEngines ? '-native' : ''}${QUICK ? '-quick' : ''}${RESIDENT ? '-resident' : ''}${ONLY ? '-only' : ''}.json`);
  writeJson(file, {
    date: new Date().toISOString(),
    settings: {
      batches: BATCHES,
      threads: THREADS,
      samples: SAMPLES,
      warmupSamples: WARMUP_SAMPLES,
      sampleFlops: SAMPLE_FLOPS,
      tolerance: TOLERANCE,
      quick: QUICK,
      engines: ENGINES,
      ...(withEngines ? { native: nativeKernelsInfo() } : {}),
      feeds: RESIDENT ? 'tensor blocks in kernel memory' : 'ordinary arrays, copied into kernel memory every run',
      timed: 'Session.run of a one-op graph on the wasm backend, borrowed fetch (kernel call plus the session’s per-run work and the copies in)',
      peakGflopsPerCore: PEAK_GFLOPS_PER_CORE,
      flops: '2 per multiply-add, N·Ho·Wo·kh·kw·Cin·Cout multiply-adds for every kernel; bias and relu not counted',
    },
    machine: machineInfo(),
    code: codeVersion(argValue('note')),
    loadAverage: { start: loadAtStart, end: loadAtEnd },
    cpuShare: round2(cpuShare),
    /** Share of the machine's CPU time the hypervisor gave to other guests while this ran (Linux; null elsewhere). */
    stealShare,
    wallSeconds: round2(wallMs / 1000),
    summary: extremes.map((e) => {
      const ti = THREADS.indexOf(e.threads);
      return {
        engine: e.engine,
        kernel: e.kernel,
        threads: e.threads,
        medianPercentOfPeak: round2(e.medianPercent),
        best: { layer: e.best.layer, batch: e.best.batch, percentOfPeak: round2(e.best.timings[ti].percentOfPeak) },
        worst: { layer: e.worst.layer, batch: e.worst.batch, percentOfPeak: round2(e.worst.timings[ti].percentOfPeak) },
      };
    }),
    results: rows,
  });
  console.log(`wrote ${file}`);
}

main();
