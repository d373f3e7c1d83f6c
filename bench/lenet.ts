/**
 * LeNet-5 on MNIST: ndgraph against TensorFlow.js (wasm and cpu backends),
 * PyTorch (CPU) and ONNX Runtime (onnxruntime-node, inference only).
 *
 *   npx tsx bench/lenet.ts                      # 3 runs per engine, every engine available, 1 and 2 threads
 *   npx tsx bench/lenet.ts --quick              # 1 short run per engine
 *   npx tsx bench/lenet.ts --repeats 5 --engines ndgraph,tfjs-wasm
 *   npx tsx bench/lenet.ts --note 'after the conv kernel rewrite'   # stored with the results
 *   npx tsx bench/lenet.ts --unfused            # tfjs with plain ops instead of tf.fused.*
 *   npx tsx bench/lenet.ts --engines ndgraph --threads 1   # ndgraph on 1 thread only (default --threads 1,2)
 *   npx tsx bench/lenet.ts --tsx                # engine processes under tsx instead of node on bundles
 *   npx tsx bench/lenet.ts --python PATH        # the Python that has torch (default /usr/bin/python3)
 *   npx tsx bench/lenet.ts --write-data FILE    # only write the data file (for running one engine alone: --data FILE)
 *
 * ndgraph, ndgraph-native, pytorch and onnxruntime run once per thread count
 * of --threads (labels `ndgraph`, `ndgraph-2t`, ...); the tfjs engines run on
 * one thread. `ndgraph-native` is ndgraph with its opt-in native kernels for
 * convolutions and products (bench/ndgraph.ts --native, under tsx);
 * `ndgraph-relaxed` with its opt-in relaxed-SIMD kernels (--relaxed). An engine
 * that is not installed (torch not importable by the Python, onnxruntime-node
 * not loadable, the native kernels not built) is skipped with a note,
 * recorded in the result's `skipped`.
 *
 * Every engine trains the same LeNet-5 (batch 64, momentum SGD 0.9, lr 0.01,
 * float32) on the same 8,000 embedded training digits, in the same batch
 * order, from the same initial weights, and runs inference on batches of 256
 * in eval mode. Each measurement is a separate process (`node` on a bundle
 * of bench/<engine>.ts, see bench/bundle.ts), run one after another, the engines taking turns
 * so that a burst of load on this shared machine hits all of them alike; the
 * table shows the median over runs. The first training losses of every engine
 * must agree with ndgraph's (the same model is being trained), or the run fails.
 *
 * Writes bench/results/lenet-<date>.json and bench/results/latest.json (a run
 * given --engines or --threads writes only the dated file)
 * (a quick run writes only bench/results/lenet-<date>-quick.json).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { bundleEngine } from './bundle.ts';
import {
  BENCH_DIR,
  RESULTS_DIR,
  LENET_WRITTEN_LIST,
  TMP_DIR,
  buildBenchData,
  codeVersion,
  fileStamp,
  formatTable,
  loadAverage,
  machineInfo,
  round2,
  writeBenchData,
  writeJson,
} from './common.ts';
import {
  DATA_ORDER_SEED,
  FAST_ENGINE_COUNTS,
  FAST_ENGINE_QUICK_COUNTS,
  INFERENCE_BATCH,
  LEARNING_RATE,
  MOMENTUM,
  SPLIT_SEED,
  TRAIN_BATCH,
  WEIGHT_SEED,
  type EngineResult,
  type StepCounts,
  LOGITS_TOLERANCE,
  argValue,
  hasFlag,
  median,
  numberArg,
} from './engine-common.ts';

const ENGINES = ['ndgraph', 'ndgraph-relaxed', 'ndgraph-native', 'tfjs-wasm', 'tfjs-cpu', 'pytorch', 'onnxruntime'] as const;
/** Engines that run once per thread count of `--threads`. */
const THREADED_ENGINES = ['ndgraph', 'ndgraph-relaxed', 'ndgraph-native', 'pytorch', 'onnxruntime'];
/** The ndgraph engines with an opt-in (bench/ndgraph.ts --relaxed, --native), compared with ndgraph, PyTorch and ONNX Runtime. */
const OPT_IN_ENGINES = ['ndgraph-relaxed', 'ndgraph-native'];
/** ndgraph with its opt-in native kernels (bench/ndgraph.ts --native), run under tsx: its addon is found next to the sources, not a bundle. */
const NATIVE_ADDON = join(BENCH_DIR, '..', 'packages', 'ops', 'native', 'build', 'ndgraph-native.node');
/** The Python with torch: Debian's python3-torch is visible to the system Python only. */
const PYTHON = argValue('python') ?? '/usr/bin/python3';

/** Below this CPU share (process CPU time / wall time) in the timed steps, the table warns that other work competed for the CPU. */
const CPU_SHARE_WARNING = 0.9;
/** Largest difference allowed between an engine's first training losses and ndgraph's. */
const LOSS_TOLERANCE = 1e-3;

interface EngineSummary {
  runs: EngineResult[];
  median: {
    trainImagesPerSecond: number;
    inferImagesPerSecond: number;
    peakRssMB: number;
    rssAfterDataMB: number;
    trainCpuShare: number;
    inferCpuShare: number;
    trainImagesPerCpuSecond: number;
    inferImagesPerCpuSecond: number;
  };
  min: { trainImagesPerSecond: number; inferImagesPerSecond: number; peakRssMB: number };
  max: { trainImagesPerSecond: number; inferImagesPerSecond: number; peakRssMB: number };
  /** Largest |loss − ndgraph's loss| over the first training steps (NaN without ndgraph runs, or for an inference-only engine). */
  lossDifferenceFromNdgraph: number;
  /** Largest |logit − ndgraph's logit| on the first inference batch over runs, for engines that check it (else NaN). */
  logitsDifferenceFromNdgraph: number;
}

/** An engine label's thread count: 1 unless it is `<engine>-Nt`. */
const threadsOf = (label: string): number => engineOfLabel(label).threads;

type Ratio = { train?: number; inference: number; peakRss: number; trainPerCpuSecond?: number; inferencePerCpuSecond: number };

/** a / b for each measure (no training ratio when b is inference-only). */
function ratioOf(a: EngineSummary['median'], b: EngineSummary['median']): Ratio {
  const trains = Number.isFinite(b.trainImagesPerSecond);
  return {
    ...(trains ? { train: a.trainImagesPerSecond / b.trainImagesPerSecond } : {}),
    inference: a.inferImagesPerSecond / b.inferImagesPerSecond,
    peakRss: a.peakRssMB / b.peakRssMB,
    ...(trains ? { trainPerCpuSecond: a.trainImagesPerCpuSecond / b.trainImagesPerCpuSecond } : {}),
    inferencePerCpuSecond: a.inferImagesPerCpuSecond / b.inferImagesPerCpuSecond,
  };
}

/**
 * The engines to run, as table labels, and those skipped because they are
 * not installed (engine → reason). ndgraph, pytorch and onnxruntime run once
 * per thread count of `--threads` (a list, default 1,2): label `ndgraph` on
 * one thread, `ndgraph-Nt` on N threads (ndgraph's kernels split work with
 * N − 1 helper threads; PyTorch's intra-op threads; ONNX Runtime's
 * intraOpNumThreads).
 */
function parseEngines(): { engines: string[]; skipped: Record<string, string> } {
  const list = (argValue('engines') ?? ENGINES.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const e of list)
    if (!(ENGINES as readonly string[]).includes(e)) throw new Error(`--engines: unknown engine '${e}'; expected some of ${ENGINES.join(', ')}`);
  const threads = (argValue('threads') ?? '1,2').split(',').map((s) => Number(s.trim()));
  for (const t of threads)
    if (!Number.isInteger(t) || t < 1) throw new Error(`--threads: expected a list of whole numbers ≥ 1, found '${argValue('threads')}'`);
  const skipped: Record<string, string> = {};
  const available = list.filter((e) => {
    const missing = unavailable(e);
    if (missing) skipped[e] = missing;
    return !missing;
  });
  return { engines: available.flatMap((e) => (THREADED_ENGINES.includes(e) ? threads.map((t) => engineLabel(e, t)) : [e])), skipped };
}

/** Why an engine cannot run here, or undefined when it can. */
function unavailable(engine: string): string | undefined {
  if (engine === 'pytorch') {
    const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
    if (probe.status !== 0) return `\`${PYTHON} -c 'import torch'\` failed${probe.error ? ` (${probe.error.message})` : `: ${tail(probe.stderr, 1)}`}`;
  }
  if (engine === 'onnxruntime') {
    const probe = spawnSync(process.execPath, ['-e', "require('onnxruntime-node')"], { encoding: 'utf8', cwd: BENCH_DIR });
    if (probe.status !== 0) return `onnxruntime-node does not load: ${tail(probe.stderr, 1)}`;
  }
  if (engine === 'ndgraph-native' && !existsSync(NATIVE_ADDON))
    return `the native kernels were not built (no ${relative(process.cwd(), NATIVE_ADDON)}: no C compiler at install?)`;
  return undefined;
}

const engineLabel = (engine: string, threads: number): string => (threads === 1 ? engine : `${engine}-${threads}t`);

/** The engine file and thread count behind a table label. */
function engineOfLabel(label: string): { file: string; threads: number } {
  const m = /^(.+)-(\d+)t$/.exec(label);
  return m && THREADED_ENGINES.includes(m[1]) ? { file: m[1], threads: Number(m[2]) } : { file: label, threads: 1 };
}

/** Engines run by the Python interpreter instead of node. */
const PYTHON_ENGINES: Record<string, string> = { pytorch: 'torch_lenet.py' };

/**
 * How each engine process starts: `node` on a bundle of its script (the
 * default; see bench/bundle.ts), or `npx tsx` on the TypeScript source.
 */
type Runner = { kind: 'node'; bundles: Map<string, string> } | { kind: 'tsx' };

/** Runs one engine process and returns its JSON result; exits loudly when the process fails. */
function runEngine(engine: string, dataFile: string, quick: boolean, runner: Runner): EngineResult {
  const unfused = engine.startsWith('tfjs') && hasFlag('unfused') ? ['--unfused'] : [];
  const { file, threads } = engineOfLabel(engine);
  const threadArgs = THREADED_ENGINES.includes(file) ? ['--threads', String(threads)] : [];
  const engineArgs = ['--json', '--data', dataFile, ...(quick ? ['--quick'] : []), ...unfused, ...threadArgs];
  const python = PYTHON_ENGINES[file];
  const [command, args] = python
    ? [PYTHON, [join(relative(process.cwd(), BENCH_DIR) || '.', python), ...engineArgs, ...countArgs(quick ? FAST_ENGINE_QUICK_COUNTS : FAST_ENGINE_COUNTS)]]
    : file === 'ndgraph-native'
      ? ['npx', ['tsx', join(relative(process.cwd(), BENCH_DIR) || '.', 'ndgraph.ts'), '--native', ...engineArgs]]
      : file === 'ndgraph-relaxed'
        ? runner.kind === 'node'
          ? [process.execPath, [runner.bundles.get('ndgraph')!, '--relaxed', ...engineArgs]]
          : ['npx', ['tsx', join(relative(process.cwd(), BENCH_DIR) || '.', 'ndgraph.ts'), '--relaxed', ...engineArgs]]
        : runner.kind === 'node'
          ? [process.execPath, [runner.bundles.get(file)!, ...engineArgs]]
          : ['npx', ['tsx', join(relative(process.cwd(), BENCH_DIR) || '.', `${file}.ts`), ...engineArgs]];
  const child = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const lines = (child.stdout ?? '').trim().split('\n');
  if (child.status !== 0 || child.error) {
    console.error(`\n${engine} FAILED (${command} ${args.join(' ')}, exit code ${child.status}${child.error ? `, ${child.error.message}` : ''}):`);
    console.error(tail(child.stdout));
    console.error(tail(child.stderr));
    process.exit(1);
  }
  try {
    const result = JSON.parse(lines[lines.length - 1]) as EngineResult;
    // JSON has no NaN: an inference-only engine's training numbers arrive as null.
    if (result.inferenceOnly) {
      result.trainImagesPerSecond = result.trainCpuShare = result.trainImagesPerCpuSecond = Number.NaN;
      result.lastLoss = Number.NaN;
    }
    return result;
  } catch {
    console.error(`${engine}: expected a JSON line at the end of its output, found:\n${child.stdout}\n${child.stderr}`);
    process.exit(1);
  }
}

/** The step counts as command-line options (what the Python engine is told, so that bench/engine-common.ts stays the one source). */
function countArgs(counts: StepCounts): string[] {
  return [
    ['--train-warmup', counts.trainWarmup],
    ['--train-steps', counts.trainSteps],
    ['--infer-warmup', counts.inferWarmup],
    ['--infer-batches', counts.inferBatches],
    ['--windows', counts.windows],
  ].flatMap(([name, n]) => [String(name), String(n)]);
}

/** The last lines of a process's output, each cut to a readable length. */
function tail(text: string | null, lines = 40): string {
  return (text ?? '')
    .trimEnd()
    .split('\n')
    .slice(-lines)
    .map((l) => (l.length > 300 ? `${l.slice(0, 300)} …` : l))
    .join('\n');
}

function summarize(runs: EngineResult[], reference: EngineResult[] | undefined): EngineSummary {
  const pick = (f: (r: EngineResult) => number) => runs.map(f);
  const train = pick((r) => r.trainImagesPerSecond);
  const infer = pick((r) => r.inferImagesPerSecond);
  const peak = pick((r) => r.memory.peakRssMB);
  const trains = !runs[0]?.inferenceOnly;
  let lossDifferenceFromNdgraph = reference?.length && trains ? 0 : NaN;
  if (reference?.length && trains) {
    const expected = reference[0].firstLosses;
    for (const r of runs) {
      const n = Math.min(expected.length, r.firstLosses.length);
      for (let i = 0; i < n; i++) lossDifferenceFromNdgraph = Math.max(lossDifferenceFromNdgraph, Math.abs(r.firstLosses[i] - expected[i]));
      if (n === 0) lossDifferenceFromNdgraph = Infinity;
    }
  }
  return {
    runs,
    median: {
      trainImagesPerSecond: median(train),
      inferImagesPerSecond: median(infer),
      peakRssMB: median(peak),
      rssAfterDataMB: median(pick((r) => r.memory.rssAfterDataMB)),
      trainCpuShare: median(pick((r) => r.trainCpuShare)),
      inferCpuShare: median(pick((r) => r.inferCpuShare)),
      trainImagesPerCpuSecond: median(pick((r) => r.trainImagesPerCpuSecond)),
      inferImagesPerCpuSecond: median(pick((r) => r.inferImagesPerCpuSecond)),
    },
    min: { trainImagesPerSecond: Math.min(...train), inferImagesPerSecond: Math.min(...infer), peakRssMB: Math.min(...peak) },
    max: { trainImagesPerSecond: Math.max(...train), inferImagesPerSecond: Math.max(...infer), peakRssMB: Math.max(...peak) },
    lossDifferenceFromNdgraph,
    logitsDifferenceFromNdgraph: runs.some((r) => r.logitsCheck) ? Math.max(...runs.map((r) => r.logitsCheck?.maxAbsDifference ?? Infinity)) : NaN,
  };
}

async function main(): Promise<void> {
  const dataOnly = argValue('write-data');
  if (dataOnly) {
    writeBenchData(dataOnly, buildBenchData());
    console.log(`wrote ${dataOnly}`);
    return;
  }
  const quick = hasFlag('quick');
  const repeats = Math.max(1, numberArg('repeats', quick ? 1 : 3));
  const { engines, skipped } = parseEngines();
  const machine = machineInfo();
  const loadAtStart = loadAverage();
  const started = new Date();
  console.log(`LeNet-5 benchmark${quick ? ' (quick)' : ''}: ${engines.join(', ')}; ${repeats} run(s) each`);
  console.log(`machine: ${machine.cpuModel}, ${machine.cores} cores, node ${machine.node}; load average ${loadAtStart.join(' ')}`);
  for (const [engine, reason] of Object.entries(skipped)) console.log(`skipping ${engine}: ${reason}`);
  if (engines.length === 0) throw new Error('no engine to run');

  // The data and initial weights every engine uses, written once.
  const dataFile = join(TMP_DIR, 'lenet-bench-data.safetensors');
  writeBenchData(dataFile, buildBenchData());
  const runner: Runner = hasFlag('tsx')
    ? { kind: 'tsx' }
    : {
        kind: 'node',
        bundles: new Map(
          await Promise.all(
            [...new Set(engines.map((e) => engineOfLabel(e).file).map((file) => (file === 'ndgraph-relaxed' ? 'ndgraph' : file)))]
              .filter((file) => !PYTHON_ENGINES[file] && file !== 'ndgraph-native')
              .map(async (file) => [file, await bundleEngine(file)] as const),
          ),
        ),
      };
  console.log(
    runner.kind === 'node' ? 'engine processes: node on bundled JavaScript (bench/bundle.ts)' : 'engine processes: npx tsx on the TypeScript sources',
  );

  const runs = new Map<string, EngineResult[]>(engines.map((e) => [e, []]));
  const loadPerRun: { engine: string; run: number; loadAverage1m: number }[] = [];
  for (let run = 1; run <= repeats; run++) {
    for (const engine of engines) {
      const load1m = loadAverage()[0];
      loadPerRun.push({ engine, run, loadAverage1m: load1m });
      const result = runEngine(engine, dataFile, quick, runner);
      runs.get(engine)!.push(result);
      const train = result.inferenceOnly ? '      —' : result.trainImagesPerSecond.toFixed(1).padStart(7);
      console.log(
        `  run ${run}/${repeats} ${engine.padEnd(14)}  train ${train} img/s  inference ${result.inferImagesPerSecond.toFixed(1).padStart(8)} img/s  ` +
          `peak RSS ${result.memory.peakRssMB.toFixed(0).padStart(4)} MB  (load ${load1m.toFixed(2)}, ${result.seconds.toFixed(1)} s)`,
      );
    }
  }
  const loadAtEnd = loadAverage();
  rmSync(dataFile, { force: true });

  // The first ndgraph label (usually one thread) is the reference for the loss check.
  const reference = engines.find((e) => e.startsWith('ndgraph'));
  const ndgraphRuns = reference ? runs.get(reference) : undefined;
  const summaries: Record<string, EngineSummary> = {};
  for (const engine of engines) summaries[engine] = summarize(runs.get(engine)!, engine === reference ? undefined : ndgraphRuns);

  // Ratios ndgraph / other engine (> 1: ndgraph is faster, or uses more memory for RSS): one-thread ndgraph against
  // its own two-thread runs; ndgraph on N threads against an engine on N threads (pytorch-2t, onnxruntime-2t); and
  // every ndgraph label against an engine that runs on one thread only (tfjs). No training ratio for inference-only engines.
  const ratios: Record<string, Ratio> = {};
  const ndgraphLabels = engines.filter((e) => engineOfLabel(e).file === 'ndgraph');
  for (const other of engines) {
    const file = engineOfLabel(other).file;
    if (OPT_IN_ENGINES.includes(file)) continue; // their ratios follow
    const against =
      file === 'ndgraph'
        ? other === 'ndgraph'
          ? []
          : ndgraphLabels.filter((e) => e === 'ndgraph')
        : THREADED_ENGINES.includes(file)
          ? ndgraphLabels.filter((e) => threadsOf(e) === threadsOf(other))
          : ndgraphLabels;
    for (const label of against) ratios[`${label} / ${other}`] = ratioOf(summaries[label].median, summaries[other].median);
  }
  // The opt-in kernels (relaxed SIMD, native) against ndgraph's default kernels, PyTorch and ONNX Runtime, at the same thread count.
  for (const label of engines.filter((e) => OPT_IN_ENGINES.includes(engineOfLabel(e).file)))
    for (const other of engines.filter((e) => ['ndgraph', 'pytorch', 'onnxruntime'].includes(engineOfLabel(e).file) && threadsOf(e) === threadsOf(label)))
      ratios[`${label} / ${other}`] = ratioOf(summaries[label].median, summaries[other].median);

  const wasmDetails = summaries['tfjs-wasm']?.runs[0]?.details as
    | { addedKernels?: string[]; conv2dBackpropFilterCheck?: { relativeError: number }[] }
    | undefined;
  const filterCheckError = wasmDetails?.conv2dBackpropFilterCheck ? Math.max(...wasmDetails.conv2dBackpropFilterCheck.map((c) => c.relativeError)) : undefined;
  const filterShares = (summaries['tfjs-wasm']?.runs ?? [])
    .map((r) => (r.details as { addedConv2dBackpropFilterTime?: { shareOfStep: number } }).addedConv2dBackpropFilterTime?.shareOfStep)
    .filter((x): x is number => x !== undefined);
  const filterShare = filterShares.length ? ` It takes ${(100 * median(filterShares)).toFixed(0)}% of a tfjs-wasm training step (median over runs).` : '';
  const notes = [
    'Throughput is steady state: warm-up steps are not timed; each run reports the median of its timed windows, the table the median over runs.',
    'A training step: next batch (copied into the engine), forward, backward, momentum update, loss read back. Inference: batch of 256 in eval mode, logits read back.',
    'Peak RSS is the process high-water mark (VmHWM): engine code, the 8,000 training images (25 MB) and everything the engine allocated.',
    runner.kind === 'node'
      ? 'Each JavaScript engine process is plain node running a bundle of its script (bench/bundle.ts); PyTorch runs as a Python process. Under tsx (--tsx) every JavaScript process carries about 40 MB more RSS: the TypeScript loader runs in a thread of its own.'
      : 'Each JavaScript engine process ran under tsx (--tsx), whose TypeScript loader runs in a thread of its own and adds about 40 MB of RSS to every engine; PyTorch runs as a Python process.',
    'CPU share is process CPU time over wall time in the timed windows: about 100% for a single-threaded engine with a core to itself; lower means other work on the machine took the CPU (the numbers are then low and noisy); above 100% means several threads.',
    'Images per CPU-second divide by the process CPU time instead of wall time: for single-threaded engines on a busy machine, an estimate of their speed with a core to themselves (it does not remove cache and memory-bandwidth contention).',
  ];
  const filterKernelNote = wasmDetails?.addedKernels?.length
    ? `tfjs-wasm 4.22 has no Conv2DBackpropFilter kernel and cannot train a conv net as shipped; this benchmark registers one built from the backend's own ops (pad, transpose, conv2d), checked against the tfjs-cpu kernel before measuring (max relative error ${filterCheckError?.toExponential(1)}).${filterShare}`
    : undefined;
  if (filterKernelNote) notes.push(filterKernelNote);
  const tfjsModel = (summaries['tfjs-wasm'] ?? summaries['tfjs-cpu'])?.runs[0]?.details.model;
  if (typeof tfjsModel === 'string') notes.push(`tfjs model: ${tfjsModel}.`);
  const torchDetails = engines.map((e) => summaries[e].runs[0]?.details).find((d) => d && 'torch' in d);
  if (torchDetails)
    notes.push(
      `PyTorch ${torchDetails.torch} (CPU, ${PYTHON}): ${torchDetails.model}; ${torchDetails.flatten}. Threads: torch.set_num_threads(N), set_num_interop_threads(1).`,
    );
  const ortDetails = engines.map((e) => summaries[e].runs[0]?.details).find((d) => d && 'onnxruntime' in d);
  if (ortDetails)
    notes.push(
      `ONNX Runtime (onnxruntime-node ${(ortDetails.onnxruntime as { node?: string }).node}, CPU), inference only: ${ortDetails.model}; intraOpNumThreads N, interOpNumThreads 1, graph optimization 'all'. Its logits on the first batch are checked against ndgraph's (max |Δ| ≤ ${LOGITS_TOLERANCE}) before timing.`,
    );
  for (const [engine, reason] of Object.entries(skipped)) notes.push(`${engine} skipped: ${reason}.`);
  const ndgraphOps = summaries.ndgraph?.runs[0]?.details.ops;
  if (ndgraphOps)
    notes.push(
      `ndgraph training graph, ops (count): ${Object.entries(ndgraphOps as Record<string, number>)
        .map(([op, n]) => `${op} ${n}`)
        .join(', ')}.`,
    );

  // The table.
  const fmtRate = (s: EngineSummary, key: 'trainImagesPerSecond' | 'inferImagesPerSecond') =>
    !Number.isFinite(s.median[key])
      ? '—'
      : s.runs.length > 1
        ? `${s.median[key].toFixed(1)} (${s.min[key].toFixed(0)}–${s.max[key].toFixed(0)})`
        : s.median[key].toFixed(1);
  const fmt = (x: number | undefined, digits: number, unit = '') => (x === undefined || !Number.isFinite(x) ? '—' : `${x.toFixed(digits)}${unit}`);
  const rows = engines.map((engine) => {
    const s = summaries[engine];
    const lossCell =
      engine === reference
        ? 'reference'
        : !Number.isNaN(s.logitsDifferenceFromNdgraph) && Number.isNaN(s.lossDifferenceFromNdgraph)
          ? `logits agree (Δ ${s.logitsDifferenceFromNdgraph.toExponential(0)})`
          : Number.isNaN(s.lossDifferenceFromNdgraph)
            ? 'not compared'
            : s.lossDifferenceFromNdgraph <= LOSS_TOLERANCE
              ? `agree (Δ ${s.lossDifferenceFromNdgraph.toExponential(0)})`
              : `DIFFER (Δ ${s.lossDifferenceFromNdgraph.toExponential(1)})`;
    const cpu = `${fmt(100 * s.median.trainCpuShare, 0, '%')} / ${fmt(100 * s.median.inferCpuShare, 0, '%')}`;
    return [
      engine + (engine === 'tfjs-wasm' && filterKernelNote ? ' *' : ''),
      fmtRate(s, 'trainImagesPerSecond'),
      fmtRate(s, 'inferImagesPerSecond'),
      s.median.peakRssMB.toFixed(0),
      cpu,
      `${fmt(s.median.trainImagesPerCpuSecond, 1)} / ${fmt(s.median.inferImagesPerCpuSecond, 1)}`,
      lossCell,
    ];
  });
  for (const [name, r] of Object.entries(ratios)) {
    rows.push([
      name,
      fmt(r.train, 2, '×'),
      fmt(r.inference, 2, '×'),
      fmt(r.peakRss, 2, '×'),
      '',
      `${fmt(r.trainPerCpuSecond, 2, '×')} / ${fmt(r.inferencePerCpuSecond, 2, '×')}`,
      '',
    ]);
  }
  console.log(`\nLeNet-5 / MNIST, float32, train batch ${TRAIN_BATCH}, inference batch ${INFERENCE_BATCH}; median over ${repeats} run(s) (min–max)`);
  console.log(
    formatTable(
      ['engine', 'train img/s', 'inference img/s', 'peak RSS MB', 'CPU share train / infer', 'img per CPU-s train / infer', 'first losses vs ndgraph'],
      rows,
    ),
  );
  if (filterKernelNote) console.log(`* ${filterKernelNote}`);
  console.log(`load average (1, 5, 15 min): start ${loadAtStart.join(' ')}, end ${loadAtEnd.join(' ')}; ${machine.cores} cores`);
  const starved = engines.filter((e) =>
    [summaries[e].median.trainCpuShare, summaries[e].median.inferCpuShare].some((share) => Number.isFinite(share) && share < CPU_SHARE_WARNING),
  );
  if (starved.length) {
    console.log(
      `WARNING: CPU share below ${100 * CPU_SHARE_WARNING}% for ${starved.join(', ')}: other work on the machine took the CPU during the timed steps, so these numbers are low and noisy. Rerun when the machine is quieter.`,
    );
  }

  // Without ndgraph runs there is nothing to compare with (NaN): not a failure.
  const lossesAgree = Object.entries(summaries).every(
    ([e, s]) => e === reference || Number.isNaN(s.lossDifferenceFromNdgraph) || s.lossDifferenceFromNdgraph <= LOSS_TOLERANCE,
  );
  // The compact per-engine numbers (what scripts/bench-table.ts renders); `engineDetails` has every run.
  const compact: Record<string, { trainImgPerSec: number | null; inferImgPerSec: number; peakRssMiB: number }> = {};
  for (const engine of engines) {
    const m = summaries[engine].median;
    compact[engine] = {
      trainImgPerSec: Number.isFinite(m.trainImagesPerSecond) ? Math.round(m.trainImagesPerSecond) : null,
      inferImgPerSec: Math.round(m.inferImagesPerSecond),
      peakRssMiB: Math.round(m.peakRssMB * 10) / 10,
    };
  }
  const report = {
    benchmark: 'LeNet-5 on MNIST: ndgraph vs TensorFlow.js, PyTorch and ONNX Runtime',
    date: started.toISOString(),
    quick,
    repeats,
    settings: {
      model: "conv 5×5×6 'same' → relu → maxpool 2 → conv 5×5×16 'valid' → relu → maxpool 2 → dense 120 → relu → dense 84 → relu → dense 10",
      dtype: 'float32',
      trainBatch: TRAIN_BATCH,
      inferenceBatch: INFERENCE_BATCH,
      optimizer: { name: 'momentum', learningRate: LEARNING_RATE, momentum: MOMENTUM },
      data: `8,000 training digits of the embedded MNIST set (loadEmbeddedMnist, split seed ${SPLIT_SEED}); batch order seed ${DATA_ORDER_SEED}; initial weights: ndgraph He init, seed ${WEIGHT_SEED}, copied into every engine`,
      lossTolerance: LOSS_TOLERANCE,
    },
    machine,
    runner: runner.kind === 'node' ? 'node on an esbuild bundle of each engine script' : 'npx tsx',
    code: codeVersion(argValue('note')),
    loadAverage: { start: loadAtStart, end: loadAtEnd, beforeEachRun: loadPerRun },
    engines: compact,
    ratios,
    skipped,
    engineDetails: summaries,
    lossesAgree,
    cpuStarvedEngines: starved,
    notes,
    seconds: round2((Date.now() - started.getTime()) / 1000),
  };
  const stamp = fileStamp(started);
  // latest.json (the README table) only from a full run: a run of some engines or thread counts must not replace it.
  const partial = argValue('engines') !== undefined || argValue('threads') !== undefined;
  const files = quick
    ? [join(RESULTS_DIR, `lenet-${stamp}-quick.json`)]
    : [join(RESULTS_DIR, `lenet-${stamp}.json`), ...(partial ? [] : [join(RESULTS_DIR, 'latest.json')])];
  for (const f of files) writeJson(f, report);
  writeFileSync(LENET_WRITTEN_LIST, `${JSON.stringify(files)}\n`);
  console.log(`wrote ${files.map((f) => relative(process.cwd(), f)).join(', ')}`);
  if (!lossesAgree) {
    console.error(
      "\nFAILED: an engine's first training losses differ from ndgraph's, so the engines did not train the same model; the numbers above are not comparable.",
    );
    process.exit(1);
  }
}

await main();
