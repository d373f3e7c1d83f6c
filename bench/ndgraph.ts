/**
 * ndgraph's LeNet-5 benchmark engine: one process, training and inference
 * throughput in steady state, and peak memory.
 *
 *   npx tsx bench/ndgraph.ts            # a summary line
 *   npx tsx bench/ndgraph.ts --json     # one JSON line (what bench/lenet.ts reads)
 *   npx tsx bench/ndgraph.ts --quick    # fewer steps
 *   npx tsx bench/ndgraph.ts --threads 2   # kernels split their work with a helper thread (default 1)
 *   npx tsx bench/ndgraph.ts --threads 2 --spin 1000   # helpers sleep sooner when idle
 *   npx tsx bench/ndgraph.ts --native   # the opt-in native kernels for conv2d and matmul (--threads N: theirs; the wasm kernels: --wasm-threads N, default 1)
 *   npx tsx bench/ndgraph.ts --relaxed  # the opt-in relaxed-SIMD WebAssembly kernels
 *
 * The steps are in bench/ndgraph-lenet.ts. ndgraph is loaded after the data,
 * so the memory it takes shows as growth over the common baseline.
 */
import {
  FAST_ENGINE_COUNTS,
  FAST_ENGINE_QUICK_COUNTS,
  MB,
  RssSampler,
  engineResult,
  hasFlag,
  loadBenchData,
  numberArg,
  reportEngineResult,
  stepCountsFromArgs,
  timeWindows,
} from './engine-common.ts';

const started = performance.now();
const counts = stepCountsFromArgs(FAST_ENGINE_COUNTS, FAST_ENGINE_QUICK_COUNTS);
const data = await loadBenchData();
const rssAfterDataMB = process.memoryUsage.rss() / MB;
const sampler = new RssSampler();

const { ndgraphLenet } = await import('./ndgraph-lenet.ts');
const { enableWasmThreads } = await import('@ndgraph/ops/node');
const { sessionMemory } = await import('@ndgraph/graph/debug');
// --relaxed: the kernels built with relaxed SIMD (opt-in), asked for before anything loads the kernels.
const relaxed = hasFlag('relaxed');
if (relaxed) {
  const { enableRelaxedSimd } = await import('@ndgraph/ops/node');
  const refused = enableRelaxedSimd();
  if (refused) throw new Error(`--relaxed: ${refused}`);
}
const requestedThreads = numberArg('threads', 1);
const native = hasFlag('native');
// With --native the convolutions and products run on the native kernels' own threads; the wasm kernels'
// helper (the elementwise ops) would spin on the same cores between them, so the wasm kernels take
// --wasm-threads (default 1; bench/README.md, "Native kernels").
const wasmThreads = native ? numberArg('wasm-threads', 1) : requestedThreads;
// --spin N: how long threads spin waiting for work before they sleep (default: the kernels' own).
const spin = numberArg('spin', Number.NaN);
if (enableWasmThreads(wasmThreads, Number.isNaN(spin) ? {} : { spin }) !== wasmThreads)
  throw new Error(`--threads ${wasmThreads}: the wasm kernels cannot use that many threads here`);
const threads = requestedThreads;
// --native: conv2d and matmul on the native kernels (before the model plans its sessions), on --threads threads.
if (native) {
  const { enableNativeKernels, nativeKernelsInfo } = await import('@ndgraph/ops/node');
  if (!enableNativeKernels({ threads })) throw new Error(`--native: the native kernels are unavailable here (${nativeKernelsInfo().reason})`);
}
const model = ndgraphLenet(data);
const trainWindows = timeWindows(() => model.trainStep(), counts.trainWarmup, counts.trainSteps, counts.windows, sampler);
const inferWindows = timeWindows(model.inferStep, counts.inferWarmup, counts.inferBatches, counts.windows, sampler);

const details = {
  training: "the Trainer's LeNet-5 graph, loss and gradients; session.run with borrowed fetches; momentum optimizer",
  ops: model.opCounts,
  bufferPoolMB: sessionMemory(model.trainer.session).bytes / MB,
  threads,
  wasmThreads,
  spin: Number.isNaN(spin) ? 'default' : spin,
  native,
  relaxedSimd: relaxed,
};
reportEngineResult(
  engineResult(
    native ? 'ndgraph-native' : relaxed ? 'ndgraph-relaxed' : 'ndgraph',
    details,
    counts,
    trainWindows,
    inferWindows,
    model.losses,
    rssAfterDataMB,
    sampler,
    started,
  ),
);
