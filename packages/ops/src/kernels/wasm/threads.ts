/**
 * Helper threads for the WebAssembly kernels: the protocol, without any
 * platform API. A platform entry point (node-threads.ts for Node's
 * worker_threads) starts the threads with `HELPER_THREAD_SOURCE` and hands
 * them to `SharedMemoryHelpers`.
 *
 * Every helper thread instantiates the same module over the same shared
 * memory and waits on its slot of the control block (runtime.ts reserves
 * it). A kernel call is cut into chunks (runtime.ts `parallel`): the calling
 * thread writes the call into the slots of the helpers it wants and marks
 * them REQUESTED; each helper that wakes in time marks its slot RUNNING,
 * takes chunks from the shared counter until none are left, and marks it
 * IDLE again. The calling thread takes chunks too; when it runs out it
 * withdraws every request no helper has picked up yet (REQUESTED → IDLE), so
 * it never waits for a thread that is asleep or descheduled — only for
 * chunks already in progress. Waiting threads spin for a while before
 * sleeping (Atomics.wait): in a training step the next call usually follows
 * within microseconds, and waking a sleeping thread takes tens of them.
 *
 * Slot layout (bytes from the slot's start):
 *   0  state (i32): IDLE, REQUESTED, RUNNING, or EXIT (the helper returns)
 *   4  kernel index into PARALLEL_KERNELS (i32)
 *   8  number of fixed arguments (i32)
 *   12 total (i32) and 16 chunk (i32): the call covers [0, total) in chunks
 *   20 byte address of the shared chunk counter (i32)
 *   24 workspace address for this helper (i32)
 *   28 status of the last call: 0 done, 1 a chunk failed (i32)
 *   32 ready flag: 1 once the helper has instantiated the module (i32)
 *   64 fixed arguments (up to MAX_ARGS f64)
 */
import { CONTROL_BLOCK_BYTES, CONTROL_SLOTS_OFFSET, PARALLEL_KERNELS, type ChunkedCall, type HelperThreads, type WasmKernels } from './runtime.ts';

export const SLOT_BYTES = 256;
const IDLE = 0;
const REQUESTED = 1;
const RUNNING = 2;
const EXIT = 3;
// i32 indexes inside a slot
const STATE = 0;
const KERNEL = 1;
const ARG_COUNT = 2;
const TOTAL = 3;
const CHUNK = 4;
const COUNTER = 5;
const WORKSPACE = 6;
const STATUS = 7;
const READY = 8;
const ARGS_BYTE_OFFSET = 64;
const MAX_ARGS = 24;
/** The most helper threads the control block has slots for. */
export const MAX_HELPERS = Math.floor((CONTROL_BLOCK_BYTES - CONTROL_SLOTS_OFFSET) / SLOT_BYTES);

/** How long (loop iterations) a thread spins on a slot before it sleeps. */
export const DEFAULT_SPIN = 1 << 14;

/**
 * What a helper thread runs (plain JavaScript, so any platform can start it
 * as a script). It expects `setup` = { module, memory, slot, kernels, spin }
 * from its platform's start-up data, e.g. Node's workerData.
 */
export const HELPER_THREAD_SOURCE = `
function runHelper(setup) {
  const { module, memory, slot, kernels, spin } = setup;
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const table = kernels.map((name) => exports[name]);
  const control = new Int32Array(memory.buffer, slot, ${ARGS_BYTE_OFFSET / 4});
  const fixed = new Float64Array(memory.buffer, slot + ${ARGS_BYTE_OFFSET}, ${MAX_ARGS});
  const args = new Array(${MAX_ARGS + 3}).fill(0);
  Atomics.store(control, ${READY}, 1);
  Atomics.notify(control, ${READY});
  for (;;) {
    let spins = 0;
    let state;
    while ((state = Atomics.load(control, ${STATE})) !== ${REQUESTED}) {
      if (state === ${EXIT}) return;
      if (++spins > spin) {
        Atomics.wait(control, ${STATE}, state);
        spins = 0;
      }
    }
    // Take the call, unless the caller has just withdrawn it.
    if (Atomics.compareExchange(control, ${STATE}, ${REQUESTED}, ${RUNNING}) !== ${REQUESTED}) continue;
    const fn = table[control[${KERNEL}]];
    const n = control[${ARG_COUNT}];
    const total = control[${TOTAL}];
    const chunk = control[${CHUNK}];
    const counter = new Int32Array(memory.buffer, control[${COUNTER}], 1);
    args.length = n + 3;
    for (let i = 0; i < n; i++) args[i] = fixed[i];
    args[n + 2] = control[${WORKSPACE}];
    let status = 0;
    try {
      for (;;) {
        const first = Atomics.add(counter, 0, 1) * chunk;
        if (first >= total) break;
        args[n] = first;
        args[n + 1] = Math.min(chunk, total - first);
        fn.apply(null, args);
      }
    } catch (error) {
      status = 1;
    }
    control[${STATUS}] = status;
    Atomics.store(control, ${STATE}, ${IDLE});
    Atomics.notify(control, ${STATE});
  }
}
`;

/** What `SharedMemoryHelpers` needs of a started thread. */
export interface StartedThread {
  terminate(): unknown;
}

/** Start-up data for helper `index` (what HELPER_THREAD_SOURCE's runHelper expects). */
export function helperSetup(
  kernels: WasmKernels,
  index: number,
  spin = DEFAULT_SPIN,
): { module: WebAssembly.Module; memory: WebAssembly.Memory; slot: number; kernels: string[]; spin: number } {
  if (index >= MAX_HELPERS) throw new RangeError(`at most ${MAX_HELPERS} helper threads, asked for helper ${index}`);
  return {
    module: kernels.module,
    memory: kernels.memory,
    slot: kernels.controlBlock + CONTROL_SLOTS_OFFSET + index * SLOT_BYTES,
    kernels: [...PARALLEL_KERNELS],
    spin,
  };
}

/** Waits until control[index] ≠ value, spinning first; returns false after `timeoutMs`. The main thread of a browser may only spin. */
function waitWhileEqual(control: Int32Array, index: number, value: number, spin: number, timeoutMs = Infinity): boolean {
  let spins = 0;
  const started = timeoutMs === Infinity ? 0 : performance.now();
  while (Atomics.load(control, index) === value) {
    if (++spins > spin) {
      spins = 0;
      try {
        Atomics.wait(control, index, value, 20);
      } catch {
        // Atomics.wait is not allowed on this thread: keep spinning.
      }
      if (timeoutMs !== Infinity && performance.now() - started > timeoutMs) return false;
    }
  }
  return true;
}

/** Helper threads driven through the control block of a shared kernel memory. */
export class SharedMemoryHelpers implements HelperThreads {
  private readonly controls: Int32Array[];
  private readonly fixedArgs: Float64Array[];
  private active = 0;
  private closed = false;

  constructor(
    kernels: WasmKernels,
    private readonly threads: readonly StartedThread[],
    private readonly spin = DEFAULT_SPIN,
  ) {
    if (!kernels.shared) throw new Error('helper threads need the shared kernel memory');
    if (threads.length > MAX_HELPERS) throw new RangeError(`at most ${MAX_HELPERS} helper threads, found ${threads.length}`);
    const slot = (i: number) => kernels.controlBlock + CONTROL_SLOTS_OFFSET + i * SLOT_BYTES;
    this.controls = threads.map((_, i) => new Int32Array(kernels.memory.buffer, slot(i), ARGS_BYTE_OFFSET / 4));
    this.fixedArgs = threads.map((_, i) => new Float64Array(kernels.memory.buffer, slot(i) + ARGS_BYTE_OFFSET, MAX_ARGS));
  }

  get count(): number {
    return this.threads.length;
  }

  /** Waits until every helper has instantiated the module; false if one did not within `timeoutMs`. */
  waitUntilReady(timeoutMs: number): boolean {
    return this.controls.every((control) => waitWhileEqual(control, READY, 0, this.spin, timeoutMs));
  }

  start(call: ChunkedCall, helpers: number, workspaces: readonly number[]): void {
    if (this.closed) throw new Error('helper threads are closed');
    const kernel = PARALLEL_KERNELS.indexOf(call.kernel);
    if (kernel < 0 || call.args.length > MAX_ARGS) throw new Error(`helper threads cannot run ${call.kernel} with ${call.args.length} arguments`);
    const count = Math.min(helpers, this.threads.length);
    for (let i = 0; i < count; i++) {
      const control = this.controls[i];
      const fixed = this.fixedArgs[i];
      for (let k = 0; k < call.args.length; k++) fixed[k] = call.args[k];
      control[KERNEL] = kernel;
      control[ARG_COUNT] = call.args.length;
      control[TOTAL] = call.total;
      control[CHUNK] = call.chunk;
      control[COUNTER] = call.counter;
      control[WORKSPACE] = workspaces[i];
      control[STATUS] = 0;
      Atomics.store(control, STATE, REQUESTED);
      Atomics.notify(control, STATE);
    }
    this.active = count;
  }

  finish(): number {
    let failed = -1;
    let joined = 0;
    for (let i = 0; i < this.active; i++) {
      const control = this.controls[i];
      // Withdraw the request if the helper has not taken it; otherwise wait for its chunks.
      if (Atomics.compareExchange(control, STATE, REQUESTED, IDLE) === REQUESTED) continue;
      joined++;
      waitWhileEqual(control, STATE, RUNNING, this.spin);
      if (control[STATUS] !== 0 && failed < 0) failed = i;
    }
    this.active = 0;
    if (failed >= 0) throw new Error(`WebAssembly kernels: a kernel failed on helper thread ${failed + 1}`);
    return joined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const control of this.controls) {
      Atomics.store(control, STATE, EXIT);
      Atomics.notify(control, STATE);
    }
    for (const thread of this.threads) thread.terminate();
  }
}
