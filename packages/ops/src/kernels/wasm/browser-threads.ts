/**
 * Browsers: lets the WebAssembly kernels use more than one core, with helper
 * threads that are Web Workers (see threads.ts for the protocol). Threads
 * share the kernels' memory, which needs SharedArrayBuffer, which a page only
 * has when it is cross-origin isolated (served with
 * `Cross-Origin-Opener-Policy: same-origin` and
 * `Cross-Origin-Embedder-Policy: require-corp`). Elsewhere the kernels stay
 * on one thread and this resolves to 1.
 *
 *   await enableWasmThreadsInBrowser()     one helper per extra core
 *   await enableWasmThreadsInBrowser(1)    back to one thread
 *
 * It is async because a page's main thread may not block: it waits for the
 * workers to start with timers. Results do not depend on the number of threads.
 *
 * @module @ndgraph/ops/browser
 */
import { wasmKernels } from './runtime.ts';
import { DEFAULT_SPIN, HELPER_THREAD_SOURCE, MAX_HELPERS, SLOT_BYTES, SharedMemoryHelpers, helperSetup } from './threads.ts';

export interface BrowserThreadOptions {
  /** How long (loop iterations) threads spin waiting for work before sleeping. */
  spin?: number;
  /** How long to wait for the workers to start, in milliseconds. Default 10000. */
  startTimeoutMs?: number;
}

/**
 * Splits kernel work between `threads` threads (this one plus threads − 1
 * workers; default: `navigator.hardwareConcurrency`). Resolves to the number
 * of threads the kernels now use.
 */
export async function enableWasmThreadsInBrowser(
  threads = globalThis.navigator?.hardwareConcurrency ?? 1,
  options: BrowserThreadOptions = {},
): Promise<number> {
  const kernels = wasmKernels();
  if (!kernels?.shared) return 1;
  kernels.setHelpers(null);
  const helpers = Math.max(0, Math.min(MAX_HELPERS, Math.floor(threads) - 1));
  if (helpers === 0) return 1;
  const spin = options.spin ?? DEFAULT_SPIN;
  // The helper's source as a script of its own; its start-up data comes in the first message.
  const url = URL.createObjectURL(new Blob([`${HELPER_THREAD_SOURCE}\nonmessage = (event) => runHelper(event.data);`], { type: 'text/javascript' }));
  const workers: Worker[] = [];
  try {
    for (let i = 0; i < helpers; i++) {
      const setup = helperSetup(kernels, i, spin);
      new Int32Array(kernels.memory.buffer, setup.slot, SLOT_BYTES / 4).fill(0);
      const worker = new Worker(url);
      worker.postMessage(setup);
      workers.push(worker);
    }
    const pool = new SharedMemoryHelpers(kernels, workers, spin);
    const deadline = performance.now() + (options.startTimeoutMs ?? 10000);
    while (!pool.waitUntilReady(0)) {
      if (performance.now() > deadline) {
        pool.close();
        throw new Error('enableWasmThreadsInBrowser: the worker threads did not start');
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    kernels.setHelpers(pool);
    return kernels.threads;
  } finally {
    URL.revokeObjectURL(url);
  }
}
