/**
 * The workload the browser test runs on both sides, in Node and in Chromium:
 * LeNet-5 trained for one epoch on a small synthetic digit set, plus a float64
 * gradient check of conv2d. Everything here comes from the packages' main
 * (browser-safe) entries, and the same seeds give the same numbers anywhere.
 */
import { Rng, gradcheck, wrap } from '@ndgraph/graph';
import { conv2d } from '@ndgraph/ops';
import { wasmKernels } from '@ndgraph/ops/kernels';
import { Trainer, type Dataset } from '@ndgraph/nn';

export interface LenetStepsResult {
  /** The loss of every training step, in order. */
  losses: number[];
  testAccuracy: number;
  /** Whether the WebAssembly SIMD kernels ran (the JavaScript kernels are the fallback). */
  wasmKernels: boolean;
  /** Whether the kernels' memory is shared (it is not on a page that is not cross-origin isolated). */
  sharedMemory: boolean;
  conv2dGradcheckOk: boolean;
  /** Largest relative error of the float64 gradient check of conv2d. */
  conv2dGradcheckError: number;
}

/** `count` 28×28 images of a bright bar whose row (label 0 to 9) is the class, with noise. */
function barDigits(count: number, rng: Rng): Dataset {
  const pixels = new Float32Array(count * 28 * 28);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = i % 10;
    labels[i] = label;
    for (let p = 0; p < 784; p++) {
      const row = Math.floor(p / 28);
      const onBar = row >= 2 + 2 * label && row < 4 + 2 * label;
      pixels[i * 784 + p] = (onBar ? 0.8 : 0) + 0.2 * rng.uniform();
    }
  }
  return { images: wrap(pixels, [count, 28, 28, 1]), labels: wrap(labels, [count]) };
}

export function runLenetSteps(): LenetStepsResult {
  const rng = new Rng(5);
  const data = { train: barDigits(320, rng), test: barDigits(100, rng) };
  const trainer = new Trainer({ epochs: 1, batchSize: 32, optimizer: 'momentum', learningRate: 0.05, seed: 7 }, data);
  const losses: number[] = [];
  const epoch = trainer.trainEpoch((step) => losses.push(step.loss));
  const random = (shape: number[]) =>
    wrap(
      Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform() * 2 - 1),
      shape,
    );
  const check = gradcheck((x, filter) => conv2d(x, filter, { padding: 'same' }), [random([2, 6, 6, 2]), random([3, 3, 2, 3])]);
  const kernels = wasmKernels();
  return {
    losses,
    testAccuracy: epoch.testAccuracy,
    wasmKernels: kernels !== null,
    sharedMemory: kernels?.shared ?? false,
    conv2dGradcheckOk: check.ok,
    conv2dGradcheckError: check.maxRelError,
  };
}
