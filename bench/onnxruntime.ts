/**
 * ONNX Runtime (onnxruntime-node, CPU execution provider): the LeNet-5
 * benchmark's inference-only engine.
 *
 *   npx tsx bench/onnxruntime.ts [--json] [--quick] [--threads N]
 *
 * The model is exported from the benchmark's initial weights by
 * bench/onnx-export.ts (in this process, before the runtime is loaded) and
 * takes NHWC images [256, 28, 28, 1], as every engine is fed: the layout
 * change to NCHW is the graph's first node, so it is part of every timed run.
 * Session: `intraOpNumThreads` N (`--threads`, default 1),
 * `interOpNumThreads` 1, sequential execution, graph optimization level
 * 'all'. Before timing, its logits on the first inference batch must agree
 * with ndgraph's (from the data file) to LOGITS_TOLERANCE, or it refuses to
 * report. A timed step: a tensor over the batch (no copy), `session.run`,
 * the logits read back.
 */
import {
  FAST_ENGINE_COUNTS,
  FAST_ENGINE_QUICK_COUNTS,
  INFERENCE_BATCH,
  MB,
  NO_WINDOWS,
  RssSampler,
  checkLogits,
  engineResult,
  exitWithError,
  inferenceBatches,
  loadBenchData,
  numberArg,
  reportEngineResult,
  stepCountsFromArgs,
  timeWindowsAsync,
} from './engine-common.ts';
import { ONNX_INPUT, ONNX_OUTPUT, lenetOnnx } from './onnx-export.ts';

async function main(): Promise<void> {
  const started = performance.now();
  const counts = stepCountsFromArgs(FAST_ENGINE_COUNTS, FAST_ENGINE_QUICK_COUNTS);
  const data = await loadBenchData();
  const rssAfterDataMB = process.memoryUsage.rss() / MB;
  const sampler = new RssSampler();
  const threads = numberArg('threads', 1);
  if (threads < 1) throw new Error('--threads: expected a whole number >= 1');

  const model = lenetOnnx(data.initialWeights);
  const ort = await import('onnxruntime-node');
  const options = {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  } as const;
  const session = await ort.InferenceSession.create(model, options);

  const batches = inferenceBatches(data).map((images) => new ort.Tensor('float32', images, [INFERENCE_BATCH, 28, 28, 1]));
  const run = async (input: InstanceType<typeof ort.Tensor>): Promise<Float32Array> => {
    const out = await session.run({ [ONNX_INPUT]: input });
    const logits = out[ONNX_OUTPUT];
    const values = logits.data as Float32Array;
    logits.dispose();
    return values;
  };
  const logitsCheck = checkLogits('onnxruntime', await run(batches[0]), data);

  let next = 0;
  const inferStep = async (): Promise<number> => {
    await run(batches[next++ % batches.length]);
    return INFERENCE_BATCH;
  };
  const inferWindows = await timeWindowsAsync(inferStep, counts.inferWarmup, counts.inferBatches, counts.windows, sampler);

  const details = {
    onnxruntime: ort.env.versions,
    model: `LeNet-5 exported by bench/onnx-export.ts (${model.length} bytes, opset 13): NHWC input, Transpose to NCHW, Conv, Relu, MaxPool, Flatten, Gemm`,
    sessionOptions: options,
    threads,
  };
  const result = engineResult(
    'onnxruntime',
    details,
    { ...counts, trainWarmup: 0, trainSteps: 0 },
    NO_WINDOWS,
    inferWindows,
    [],
    rssAfterDataMB,
    sampler,
    started,
  );
  reportEngineResult({ ...result, inferenceOnly: true, logitsCheck });
}

await main().catch(exitWithError);
