/**
 * Node only: lets the WebAssembly kernels use more than one core, with
 * helper threads from `node:worker_threads` (see threads.ts for the
 * protocol). Import this module only from Node entry points; browsers load
 * the kernels without it and run them on one thread.
 *
 *   enableWasmThreads()      one helper per extra core (2 cores: 1 helper)
 *   enableWasmThreads(1)     back to one thread
 *   disableWasmThreads()     the same
 *
 * Helpers do not keep the process alive. Results do not depend on the
 * number of threads (see the kernels' notes on how they split work).
 *
 * Also here, opt-in: native kernels (C with AVX-512 / AVX2, built on install
 * when the machine has a C compiler) for conv2d, its gradients and matmul,
 * in place of the WebAssembly ones (see kernels/native/native-kernels.ts):
 *
 *   enableNativeKernels()    true when the addon is built and its kernels now run
 *   disableNativeKernels()   the WebAssembly kernels again
 *   nativeKernelsInfo()      whether it loaded (or why not), and what it was compiled for
 *
 * And opt-in: the WebAssembly kernels built with relaxed SIMD's fused
 * multiply-add, which change the last bits of results (before first use):
 *
 *   enableRelaxedSimd()      null when they will load, else why not
 *
 * @module @ndgraph/ops/node
 */
import { availableParallelism } from 'node:os';
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import { useRelaxedSimd, wasmKernels } from './runtime.ts';
import { DEFAULT_SPIN, HELPER_THREAD_SOURCE, MAX_HELPERS, SLOT_BYTES, SharedMemoryHelpers, helperSetup } from './threads.ts';

export interface WasmThreadOptions {
  /** How long (loop iterations) threads spin waiting for work before sleeping. Default 65536. */
  spin?: number;
  /** How long to wait for the helpers to start, in milliseconds. Default 10000. */
  startTimeoutMs?: number;
}

/**
 * Splits kernel work between `threads` threads (this one plus threads − 1
 * helpers; default: the number of cores). Returns the number of threads the
 * kernels now use: 1 when the kernels are unavailable or cannot share their
 * memory.
 */
export function enableWasmThreads(threads = availableParallelism(), options: WasmThreadOptions = {}): number {
  const kernels = wasmKernels();
  if (!kernels?.shared) return 1;
  kernels.setHelpers(null);
  const helpers = Math.max(0, Math.min(MAX_HELPERS, Math.floor(threads) - 1));
  if (helpers === 0) return 1;
  const spin = options.spin ?? DEFAULT_SPIN;
  const workers: Worker[] = [];
  for (let i = 0; i < helpers; i++) {
    const setup = helperSetup(kernels, i, spin);
    new Int32Array(kernels.memory.buffer, setup.slot, SLOT_BYTES / 4).fill(0);
    const worker = new Worker(`${HELPER_THREAD_SOURCE}\nrunHelper(require('node:worker_threads').workerData);`, { eval: true, workerData: setup });
    worker.unref();
    workers.push(worker);
  }
  const pool = new SharedMemoryHelpers(kernels, workers, spin);
  if (!pool.waitUntilReady(options.startTimeoutMs ?? 10000)) {
    pool.close();
    throw new Error('enableWasmThreads: the helper threads did not start');
  }
  kernels.setHelpers(pool);
  return kernels.threads;
}

/** Stops the helper threads: kernels run on the calling thread only. */
export function disableWasmThreads(): void {
  wasmKernels()?.setHelpers(null);
}

/**
 * Loads the kernels built with relaxed SIMD (see useRelaxedSimd in
 * runtime.ts): sets V8's flag for it, which Node 20 needs before the module
 * is compiled. Call before the first session runs. Returns null when the
 * relaxed kernels will be the ones loaded, else why not (nothing changes).
 */
export function enableRelaxedSimd(): string | null {
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  return useRelaxedSimd();
}

export {
  enableNativeKernels,
  disableNativeKernels,
  nativeKernelsInfo,
  nativeAddon,
  NATIVE_KERNEL_OPS,
  type NativeAddon,
  type NativeKernelOptions,
  type NativeKernelsInfo,
} from '../native/native-kernels.ts';
