/**
 * LeNet-5 written with tfjs-core ops, trained and timed the same way as the
 * ndgraph engine (bench/ndgraph.ts): same data, same batch order, same
 * initial weights (ndgraph's), momentum SGD, float32. The entry points are
 * bench/tfjs-wasm.ts and bench/tfjs-cpu.ts.
 *
 * Conv and dense layers use tfjs's fused ops (`tf.fused.conv2d`,
 * `tf.fused.matMul` with bias and relu), as tf.layers does. tfjs runs them
 * fused where it can: in inference; while recording gradients it runs the
 * plain ops instead (its fused ops have gradients only without an activation).
 * `--unfused` uses the plain ops (conv2d, add, relu, matMul) everywhere.
 * TensorFlow.js is loaded after the data, so the memory it takes shows as
 * growth over the common baseline.
 */
import type * as Tf from '@tensorflow/tfjs-core';
import {
  INFERENCE_BATCH,
  LEARNING_RATE,
  LENET_PARAMETERS,
  MB,
  MOMENTUM,
  RssSampler,
  TRAIN_BATCH,
  TrainingBatches,
  type StepCounts,
  engineResult,
  hasFlag,
  inferenceBatches,
  loadBenchData,
  reportEngineResult,
  stepCountsFromArgs,
  timeWindows,
} from './engine-common.ts';
import type { TfjsBackendName } from './tfjs-setup.ts';

type Weights = Record<string, Tf.Variable>;

/** Logits [N, 10] of LeNet-5 for images [N, 28, 28, 1]. */
function lenetForward(tf: typeof Tf, w: Weights, images: Tf.Tensor4D, fused: boolean): Tf.Tensor2D {
  const conv = (x: Tf.Tensor4D, scope: string, pad: 'same' | 'valid'): Tf.Tensor4D => {
    const filter = w[`lenet/${scope}/conv/w`] as Tf.Tensor4D;
    const bias = w[`lenet/${scope}/conv/b`];
    if (fused) return tf.fused.conv2d({ x, filter, strides: 1, pad, bias, activation: 'relu' });
    return tf.relu(tf.add(tf.conv2d(x, filter, 1, pad), bias));
  };
  const dense = (x: Tf.Tensor2D, name: string, relu: boolean): Tf.Tensor2D => {
    const weights = w[`${name}/w`] as Tf.Tensor2D;
    const bias = w[`${name}/b`];
    if (fused) return tf.fused.matMul({ a: x, b: weights, bias, activation: relu ? 'relu' : 'linear' }) as Tf.Tensor2D;
    const z: Tf.Tensor2D = tf.add(tf.matMul(x, weights), bias);
    return relu ? tf.relu(z) : z;
  };
  const pool = (x: Tf.Tensor4D): Tf.Tensor4D => tf.maxPool(x, 2, 2, 'valid');
  let h = pool(conv(images, 'conv1', 'same'));
  h = pool(conv(h, 'conv2', 'valid'));
  let flat: Tf.Tensor2D = tf.reshape(h, [h.shape[0], 5 * 5 * 16]);
  flat = dense(flat, 'lenet/fc1/dense', true);
  flat = dense(flat, 'lenet/fc2/dense', true);
  return dense(flat, 'lenet/logits', false);
}

export async function runTfjsEngine(backend: TfjsBackendName, normal: StepCounts, quick: StepCounts): Promise<void> {
  const started = performance.now();
  const counts = stepCountsFromArgs(normal, quick);
  const data = await loadBenchData();
  const rssAfterDataMB = process.memoryUsage.rss() / MB;
  const sampler = new RssSampler();

  const { tf, initTfjs, checkConv2DBackpropFilter, addedKernelTime } = await import('./tfjs-setup.ts');
  const tfjs = await initTfjs(backend);
  const fused = !hasFlag('unfused');
  const details: Record<string, unknown> = {
    ...tfjs,
    model: fused
      ? 'tfjs-core ops: tf.fused.conv2d and tf.fused.matMul with bias and relu (fused in inference; tfjs runs plain ops when recording gradients), maxPool; tf.losses.softmaxCrossEntropy, tf.train.momentum'
      : 'tfjs-core ops: conv2d, add, relu, maxPool, matMul (not fused); tf.losses.softmaxCrossEntropy, tf.train.momentum',
    fused,
  };
  if (backend === 'wasm') details.conv2dBackpropFilterCheck = await checkConv2DBackpropFilter();

  const weights: Weights = {};
  for (const { name, shape } of LENET_PARAMETERS) weights[name] = tf.variable(tf.tensor(data.initialWeights[name].data.slice(), shape, 'float32'), true, name);
  const variables = Object.values(weights);
  const optimizer = tf.train.momentum(LEARNING_RATE, MOMENTUM);

  // One training step: batch → tensors, forward, backward, momentum update; reads the loss back (as ndgraph's trainer does).
  const batches = new TrainingBatches(data);
  const losses: number[] = [];
  const trainStep = (): number => {
    const size = batches.next();
    const images = tf.tensor4d(batches.images, [TRAIN_BATCH, 28, 28, 1]);
    const labels = tf.tensor1d(batches.labels, 'int32');
    const oneHot = tf.oneHot(labels, 10);
    const cost = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(oneHot, lenetForward(tf, weights, images, fused)) as Tf.Scalar, true, variables);
    if (!cost) throw new Error('optimizer.minimize returned no cost');
    const loss = cost.dataSync()[0];
    tf.dispose([images, labels, oneHot, cost]);
    if (!Number.isFinite(loss)) throw new Error(`tfjs-${backend}: training diverged (loss ${loss}) at step ${losses.length + 1}`);
    losses.push(loss);
    return size;
  };
  for (let i = 0; i < counts.trainWarmup; i++) trainStep();
  addedKernelTime.calls = 0;
  addedKernelTime.ms = 0;
  const trainWindows = timeWindows(trainStep, 0, counts.trainSteps, counts.windows, sampler);
  const tensorsAfterTraining = tf.memory().numTensors;
  if (addedKernelTime.calls > 0) {
    // How much of a timed training step the benchmark's own Conv2DBackpropFilter takes.
    const timedSteps = Math.max(1, Math.floor(counts.trainSteps / counts.windows)) * counts.windows;
    const stepTimes = trainWindows.imagesPerSecond.map((rate) => (1000 * TRAIN_BATCH) / rate);
    const stepMs = stepTimes.reduce((a, b) => a + b, 0) / stepTimes.length;
    const msPerStep = addedKernelTime.ms / timedSteps;
    details.addedConv2dBackpropFilterTime = { callsPerStep: addedKernelTime.calls / timedSteps, msPerStep, shareOfStep: msPerStep / stepMs };
  }

  // Inference: batches of INFERENCE_BATCH images in eval mode (LeNet-5 has no dropout or batchnorm), logits read back.
  const inference = inferenceBatches(data);
  let next = 0;
  const inferStep = (): number => {
    const images = inference[next++ % inference.length];
    const logits = tf.tidy(() => lenetForward(tf, weights, tf.tensor4d(images, [INFERENCE_BATCH, 28, 28, 1]), fused));
    logits.dataSync();
    logits.dispose();
    return INFERENCE_BATCH;
  };
  const inferWindows = timeWindows(inferStep, counts.inferWarmup, counts.inferBatches, counts.windows, sampler);
  // Equal counts show that no tensor leaks per step.
  details.tensorsAlive = { afterTraining: tensorsAfterTraining, afterInference: tf.memory().numTensors };

  reportEngineResult(engineResult(`tfjs-${backend}`, details, counts, trainWindows, inferWindows, losses, rssAfterDataMB, sampler, started));
}
