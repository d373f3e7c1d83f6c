/**
 * TensorFlow.js (tfjs-core 4.22) set up for the benchmarks under Node:
 *
 * - Gradients. tfjs-core's Node bundle registers no gradient functions; the
 *   union package `@tensorflow/tfjs` adds them with
 *   `import '@tensorflow/tfjs-core/dist/register_all_gradients'`. We load that
 *   same file. It is ES-module source inside a CommonJS package with
 *   extensionless imports, which plain Node does not resolve: the engine
 *   processes run from bundles (bench/bundle.ts), or under tsx. Its second copy
 *   of tfjs-core's modules shares the engine and registries with the first:
 *   tfjs keeps them on a global object for exactly this situation.
 * - The WebAssembly backend. Its `.wasm` files ship in the package's `dist`
 *   directory; `setWasmPaths` points there (a file path works under Node).
 *   Under Node it runs the SIMD build on one thread (no multithreading).
 * - Conv2DBackpropFilter. tfjs-backend-wasm 4.22 registers no kernel for the
 *   filter gradient of conv2d, so it cannot train a conv net as shipped. We
 *   register one built from the backend's own ops (pad, transpose, conv2d;
 *   stride 1 only) and check it against the cpu backend's kernel before use.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

export { tf };
export type TfjsBackendName = 'wasm' | 'cpu';

const require = createRequire(import.meta.url);
let gradientsRegistered = false;

/** `true` inside a bundle built by bench/bundle.ts (esbuild replaces the name); undeclared under tsx. */
declare const BENCH_BUNDLE: boolean;

async function registerGradients(): Promise<void> {
  if (gradientsRegistered) return;
  if (typeof BENCH_BUNDLE !== 'undefined') {
    // esbuild bundles this module and resolves its extensionless imports.
    // @ts-expect-error: a side-effect module the package's exports do not declare
    await import('@tensorflow/tfjs-core/dist/register_all_gradients');
  } else {
    // tsx's CommonJS hook compiles the ES-module source (Node's ES-module resolver rejects its imports).
    require('@tensorflow/tfjs-core/dist/register_all_gradients');
  }
  gradientsRegistered = true;
}

/** Facts about the tfjs setup, recorded with the results. */
export interface TfjsInfo {
  backend: TfjsBackendName;
  tfjsCoreVersion: string;
  backendVersion: string;
  wasmSimd?: boolean;
  wasmThreads?: boolean;
  prodMode: boolean;
  /** Kernels registered by this benchmark because the backend lacks them. */
  addedKernels: string[];
}

/**
 * Loads tfjs-core, its gradients and the named backend, makes that backend
 * the active one, and returns what was set up. For 'wasm' it also registers
 * the benchmark's Conv2DBackpropFilter kernel (and loads the cpu backend to
 * check it against, see `checkConv2DBackpropFilter`).
 */
export async function initTfjs(backend: TfjsBackendName): Promise<TfjsInfo> {
  await registerGradients();
  // tfjs's recommended setting for speed; in 4.22 it only silences warnings
  // (such as the cpu backend's banner suggesting tfjs-node).
  tf.enableProdMode();
  const cpu = await import('@tensorflow/tfjs-backend-cpu');
  const info: TfjsInfo = { backend, tfjsCoreVersion: tf.version_core, backendVersion: cpu.version_cpu, prodMode: true, addedKernels: [] };
  if (backend === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const distDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
    wasm.setWasmPaths(`${distDir}/`);
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs: could not initialize the wasm backend');
    info.backendVersion = wasm.version_wasm;
    info.wasmSimd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
    info.wasmThreads = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
    if (registerWasmConv2DBackpropFilter())
      info.addedKernels.push('Conv2DBackpropFilter (built from pad/transpose/conv2d, stride 1; checked against the cpu kernel)');
  } else if (!(await tf.setBackend('cpu'))) {
    throw new Error('tfjs: could not initialize the cpu backend');
  }
  await tf.ready();
  if (tf.getBackend() !== backend) throw new Error(`tfjs: expected backend '${backend}', found '${tf.getBackend()}'`);
  return info;
}

/**
 * dW for conv2d (NHWC, stride 1, no dilation) out of other ops:
 *
 *   dW[i, j, c, o] = Σ_{n, y, x} xPadded[n, y + i, x + j, c] · dy[n, y, x, o]
 *
 * which is a 'valid' convolution in which the input channels play the batch,
 * the batch plays the input channels, and dy is the filter:
 *   xPadded [N, Hp, Wp, C] → transpose → [C, Hp, Wp, N]
 *   dy      [N, OH, OW, O] → transpose → [OH, OW, N, O]
 *   conv2d(…, 'valid') → [C, Hp − OH + 1, Wp − OW + 1, O] = [C, KH, KW, O] → transpose → [KH, KW, C, O]
 */
export function conv2DBackpropFilterFromOps(x: tf.Tensor4D, dy: tf.Tensor4D, attrs: tf.Conv2DBackpropFilterAttrs): tf.Tensor4D {
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  if (dataFormat !== 'NHWC') throw new Error(`benchmark Conv2DBackpropFilter: only NHWC is supported, found ${dataFormat}`);
  const [strideH, strideW] = typeof strides === 'number' ? [strides, strides] : strides;
  if (strideH !== 1 || strideW !== 1) throw new Error(`benchmark Conv2DBackpropFilter: only stride 1 is supported, found [${strideH}, ${strideW}]`);
  const geometry = tf.backend_util.computeConv2DInfo(x.shape, filterShape, 1, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { top, bottom, left, right } = geometry.padInfo;
  const dw = tf.tidy(() => {
    const padded = tf.pad(x, [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ]);
    const channelsAsBatch = tf.transpose(padded, [3, 1, 2, 0]);
    const dyAsFilter = tf.transpose(dy, [1, 2, 0, 3]);
    const perChannel = tf.conv2d(channelsAsBatch as tf.Tensor4D, dyAsFilter as tf.Tensor4D, 1, 'valid');
    return tf.transpose(perChannel, [1, 2, 0, 3]) as tf.Tensor4D;
  });
  if (dw.shape.join(',') !== filterShape.join(',')) {
    dw.dispose();
    throw new Error(`benchmark Conv2DBackpropFilter: computed a [${dw.shape}] gradient, expected the filter shape [${filterShape}]`);
  }
  return dw;
}

/** Registers `conv2DBackpropFilterFromOps` as the wasm backend's Conv2DBackpropFilter; false when the backend already has one. */
function registerWasmConv2DBackpropFilter(): boolean {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) return false;
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    // The engine accepts a Tensor as a kernel's output; ops run inside a
    // kernel are not recorded on the gradient tape.
    kernelFunc: ({ inputs, attrs }) => {
      const started = performance.now();
      const dw = conv2DBackpropFilterFromOps(inputs.x as tf.Tensor4D, inputs.dy as tf.Tensor4D, attrs as unknown as tf.Conv2DBackpropFilterAttrs);
      addedKernelTime.calls++;
      addedKernelTime.ms += performance.now() - started;
      return dw;
    },
  });
  return true;
}

/** Calls of the added Conv2DBackpropFilter kernel and the time spent in them (the wasm backend runs synchronously). */
export const addedKernelTime = { calls: 0, ms: 0 };

/** One case of the Conv2DBackpropFilter check. */
interface FilterGradCase {
  name: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  pad: 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
}

export interface FilterGradCheck {
  name: string;
  maxAbsDifference: number;
  maxAbsValue: number;
  relativeError: number;
}

/**
 * Compares the wasm backend's Conv2DBackpropFilter (ours) with the cpu
 * backend's on random inputs, including LeNet-5's two layers and an
 * asymmetric 'same' padding; throws when any relative error exceeds 1e-4.
 * Leaves the wasm backend active.
 */
export async function checkConv2DBackpropFilter(): Promise<FilterGradCheck[]> {
  const cases: FilterGradCase[] = [
    { name: "LeNet conv1: 5×5 'same'", x: [4, 28, 28, 1], filter: [5, 5, 1, 6], pad: 'same' },
    { name: "LeNet conv2: 5×5 'valid'", x: [4, 14, 14, 6], filter: [5, 5, 6, 16], pad: 'valid' },
    { name: "4×3 'same' (uneven padding)", x: [3, 9, 7, 2], filter: [4, 3, 2, 5], pad: 'same' },
    {
      name: '3×3 explicit padding',
      x: [2, 6, 5, 3],
      filter: [3, 3, 3, 4],
      pad: [
        [0, 0],
        [2, 0],
        [1, 3],
        [0, 0],
      ],
    },
  ];
  const run = (c: FilterGradCase, xValues: Float32Array, dyShape: number[], dyValues: Float32Array): Float32Array =>
    tf.tidy(() => {
      const x = tf.tensor4d(xValues, c.x);
      const dy = tf.tensor4d(dyValues, dyShape as [number, number, number, number]);
      const attrs: tf.Conv2DBackpropFilterAttrs = { strides: 1, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter };
      const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
      return dw.dataSync() as Float32Array;
    });
  const results: FilterGradCheck[] = [];
  let seed = 12345;
  const random = (n: number): Float32Array => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      out[i] = seed / 4294967296 - 0.5;
    }
    return out;
  };
  for (const c of cases) {
    const out = tf.backend_util.computeConv2DInfo(c.x, c.filter, 1, 1, c.pad, undefined, false, 'channelsLast');
    const dyShape = [c.x[0], out.outHeight, out.outWidth, c.filter[3]];
    const xValues = random(c.x.reduce((a, b) => a * b, 1));
    const dyValues = random(dyShape.reduce((a, b) => a * b, 1));
    await tf.setBackend('cpu');
    const expected = run(c, xValues, dyShape, dyValues);
    await tf.setBackend('wasm');
    const found = run(c, xValues, dyShape, dyValues);
    if (found.length !== expected.length) throw new Error(`Conv2DBackpropFilter check '${c.name}': ${found.length} values, expected ${expected.length}`);
    let maxAbsDifference = 0;
    let maxAbsValue = 0;
    for (let i = 0; i < expected.length; i++) {
      maxAbsDifference = Math.max(maxAbsDifference, Math.abs(found[i] - expected[i]));
      maxAbsValue = Math.max(maxAbsValue, Math.abs(expected[i]));
    }
    const relativeError = maxAbsDifference / Math.max(maxAbsValue, 1e-30);
    results.push({ name: c.name, maxAbsDifference, maxAbsValue, relativeError });
    if (!(relativeError <= 1e-4)) {
      throw new Error(
        `Conv2DBackpropFilter check FAILED on '${c.name}': the wasm kernel differs from the cpu kernel by ${maxAbsDifference} (relative ${relativeError}); refusing to benchmark`,
      );
    }
  }
  if (tf.getBackend() !== 'wasm') await tf.setBackend('wasm');
  return results;
}
