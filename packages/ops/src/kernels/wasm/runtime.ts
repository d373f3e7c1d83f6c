/**
 * The WebAssembly SIMD kernels (float32) and the memory they work in.
 *
 * The module (compiled from packages/ops/assembly/, shipped base64-encoded in
 * kernels.generated.ts) has no heap of its own: it imports its memory, and
 * this runtime decides what goes where:
 *
 *   [0, heapBase)          the module's static data
 *   thread control block   one slot per helper thread (see threads.ts)
 *   tensor blocks          float32 arrays handed out by `allocateFloat32` (the
 *                          wasm backend's `allocate`; block-allocator.ts), so
 *                          tensors can live in kernel memory and skip copies
 *   call frame             operands copied in for one kernel call, the output,
 *                          and each thread's workspace; released when the call
 *                          returns (`beginCall` / `endCall`)
 *
 * Where the engine allows shared memory (Node; browsers on cross-origin
 * isolated pages) the memory is a shared one: it can be handed to helper
 * threads, and growing it never invalidates arrays already handed out.
 * Elsewhere it is an ordinary memory, and tensor blocks are not offered (a
 * grow would detach them).
 *
 * The module is compiled synchronously on first use (Node, workers, and
 * Chrome ≥ 114 main threads up to 8 MB). When WebAssembly SIMD is missing or
 * compiling fails, `wasmKernels()` returns null and callers use their plain
 * JavaScript kernels.
 */
import { MemoryError } from '@ndgraph/graph';
import { BlockAllocator } from './block-allocator.ts';
import { WASM_KERNELS_BASE64, WASM_KERNELS_SHARED_BASE64, WASM_KERNELS_SHARED_MAXIMUM_PAGES, WASM_KERNELS_SHARED_RELAXED_BASE64 } from './kernels.generated.ts';

/**
 * What the AssemblyScript module exports. Addresses are byte offsets into the
 * memory; booleans are 0 or 1. Kernels a thread may run end with
 * (first, count, workspace): the share of the work (images, rows, columns or
 * elements) one call does.
 */
export interface KernelExports {
  heapBase(): number;
  gemmWorkspaceBytes(m: number, n: number, k: number): number;
  gemm(
    transA: number,
    transB: number,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    beta: number,
    c: number,
    ldc: number,
    bias: number,
    relu: number,
    byColumns: number,
    first: number,
    count: number,
    workspace: number,
  ): void;
  convForwardWorkspaceBytes(geometry: number): number;
  convForward(
    x: number,
    filter: number,
    bias: number,
    relu: number,
    y: number,
    geometry: number,
    firstImage: number,
    imageCount: number,
    workspace: number,
  ): void;
  convReluMaxPoolWorkspaceBytes(convGeometry: number): number;
  convReluMaxPool(
    x: number,
    filter: number,
    bias: number,
    y: number,
    convGeometry: number,
    poolGeometry: number,
    firstImage: number,
    imageCount: number,
    workspace: number,
  ): void;
  convBackpropFilterWorkspaceBytes(geometry: number): number;
  convBackpropFilter(
    x: number,
    dy: number,
    partials: number,
    imagesPerPartial: number,
    geometry: number,
    firstImage: number,
    imageCount: number,
    workspace: number,
  ): void;
  sumPartials(partials: number, count: number, size: number, out: number): void;
  convBackpropInputWorkspaceBytes(geometry: number): number;
  convBackpropInput(dy: number, filter: number, dx: number, geometry: number, firstImage: number, imageCount: number, workspace: number): void;
  maxPoolForward(x: number, geometry: number, y: number, firstImage: number, imageCount: number): void;
  maxPoolBackward(dy: number, x: number, geometry: number, dx: number, positiveOnly: number, firstImage: number, imageCount: number): void;
  avgPoolForward(x: number, geometry: number, y: number, firstImage: number, imageCount: number): void;
  avgPoolBackward(dy: number, geometry: number, dx: number, firstImage: number, imageCount: number): void;
  reluForward(x: number, y: number, first: number, count: number): void;
  reluBackward(dy: number, x: number, out: number, first: number, count: number): void;
  biasAddWorkspaceBytes(channels: number): number;
  biasAdd(x: number, bias: number, out: number, channels: number, relu: number, firstRow: number, rowCount: number, workspace: number): void;
  biasAddGradWorkspaceBytes(channels: number): number;
  biasAddGrad(dy: number, n: number, channels: number, out: number, workspace: number): void;
  momentumStep(w: number, grad: number, velocity: number, count: number, mu: number, lr: number, decay: number): void;
  sgdStep(w: number, grad: number, count: number, lr: number, decay: number): void;
  nesterovStep(w: number, grad: number, velocity: number, count: number, mu: number, lr: number, decay: number): void;
  rmspropStep(w: number, grad: number, meanSquare: number, count: number, rho: number, lr: number, epsilon: number, decay: number): void;
  adagradStep(w: number, grad: number, sumSquares: number, count: number, lr: number, epsilon: number, decay: number): void;
  adamStep(
    w: number,
    grad: number,
    m: number,
    v: number,
    count: number,
    beta1: number,
    beta2: number,
    lr: number,
    epsilon: number,
    correction1: number,
    correction2: number,
    coupledDecay: number,
    decoupledDecay: number,
  ): void;
  dropoutMaskDraw(mask: number, n: number, rate: number, kept: number, state: number): void;
  batchNormMoments(x: number, n: number, channels: number, mean: number, variance: number, firstChannel: number, channelCount: number): void;
  channelAffineF32(
    x: number,
    y: number,
    n: number,
    m: number,
    a: number,
    b: number,
    period: number,
    relu: number,
    firstBlock: number,
    blockCount: number,
  ): void;
  batchNormGradInputF32(
    dy: number,
    x: number,
    dx: number,
    n: number,
    m: number,
    a: number,
    k: number,
    c: number,
    period: number,
    firstBlock: number,
    blockCount: number,
  ): void;
  batchNormGradSums(
    dy: number,
    x: number,
    n: number,
    channels: number,
    mean: number,
    inverseStd: number,
    sumDy: number,
    sumDyXhat: number,
    firstChannel: number,
    channelCount: number,
  ): void;
  sumRowsF32(x: number, rows: number, channels: number, out: number): void;
  tanhForward(x: number, y: number, first: number, count: number): void;
  sigmoidForward(x: number, y: number, first: number, count: number): void;
  tanhBackward(dy: number, y: number, out: number, first: number, count: number): void;
  sigmoidBackward(dy: number, y: number, out: number, first: number, count: number): void;
  eluForward(x: number, y: number, alpha: number, first: number, count: number): void;
  eluBackward(dy: number, x: number, out: number, alpha: number, first: number, count: number): void;
  addSame(a: number, b: number, out: number, first: number, count: number): void;
  subSame(a: number, b: number, out: number, first: number, count: number): void;
  mulSame(a: number, b: number, out: number, first: number, count: number): void;
  scaleForward(x: number, y: number, factor: number, first: number, count: number): void;
  leakyReluForward(x: number, y: number, alpha: number, first: number, count: number): void;
}

/** The exports a helper thread can run, by index (the thread protocol sends the index). */
export const PARALLEL_KERNELS = [
  'gemm',
  'convForward',
  'convBackpropFilter',
  'convBackpropInput',
  'maxPoolForward',
  'maxPoolBackward',
  'avgPoolForward',
  'avgPoolBackward',
  'reluForward',
  'reluBackward',
  'biasAdd',
  'tanhForward',
  'sigmoidForward',
  'eluForward',
  'tanhBackward',
  'sigmoidBackward',
  'eluBackward',
  'addSame',
  'subSame',
  'mulSame',
  'scaleForward',
  'leakyReluForward',
  'batchNormMoments',
  'channelAffineF32',
  'batchNormGradInputF32',
  'batchNormGradSums',
  'convReluMaxPool',
] as const;
export type ParallelKernel = (typeof PARALLEL_KERNELS)[number];

/**
 * One kernel call cut into chunks: `kernel(...args, first, count, workspace)`
 * for first = 0, chunk, 2·chunk, … below `total`. Threads take chunks from a
 * shared counter until none are left, so a thread that runs slowly (another
 * process on its core) just takes fewer.
 */
export interface ChunkedCall {
  kernel: ParallelKernel;
  args: readonly number[];
  total: number;
  chunk: number;
  /** Byte address of the shared chunk counter (an i32, zero before the call). */
  counter: number;
}

/** Runs chunks of calls on helper threads (installed by a platform entry point, e.g. `enableWasmThreads` for Node). */
export interface HelperThreads {
  /** Number of helper threads (the calling thread is not counted). */
  readonly count: number;
  /** Asks the first `helpers` helpers to take chunks of `call`, helper i with workspace `workspaces[i]`; does not wait. */
  start(call: ChunkedCall, helpers: number, workspaces: readonly number[]): void;
  /**
   * Returns once no helper works on the call any more, with the number of
   * helpers that took part (the others had not woken up in time and were
   * withdrawn); throws if a chunk failed on a helper.
   */
  finish(): number;
  /** Stops the threads. */
  close(): void;
}

const PAGE_BYTES = 65536;
const ALIGNMENT = 16;
/** Bytes reserved after the static data for the helper threads' control block (the chunk counter, then one slot per helper). */
export const CONTROL_BLOCK_BYTES = 4096;
/** Where the slots of the helper threads start inside the control block. */
export const CONTROL_SLOTS_OFFSET = 64;
/** The shared memory's maximum, in pages (2 GiB); only address space is reserved up front. */
const SHARED_MAXIMUM_PAGES = Math.min(32768, WASM_KERNELS_SHARED_MAXIMUM_PAGES);
/**
 * When helpers miss this many calls in a row (woken too late: their cores are
 * busy with other processes), the next HELPER_PAUSE_CALLS calls run on the
 * calling thread alone, in one chunk, without waking them; then they are
 * asked again. Keeps threads from costing anything on a busy machine.
 * A missed call costs little (a wake-up and a withdrawn request), while a
 * pause gives up the second core for about ten LeNet steps: with 8, a
 * machine whose other core was only partly busy paused a fifth of all calls
 * and trained about 15% slower than with 32, which it never reached.
 */
const HELPER_MISSES_BEFORE_PAUSE = 32;
const HELPER_PAUSE_CALLS = 200;
/** While the helpers keep failing after each pause, the pause doubles, up to this many calls (a minute of a busy machine costs few retries). */
const HELPER_PAUSE_MAX_CALLS = 6400;
/**
 * A helper that takes chunks and is then descheduled (its core busy with
 * another process) keeps the calling thread waiting for it long after its
 * own share is done: a stall. After this many stalls in a row the helpers
 * are paused the same way. A stall is a wait longer than the calling
 * thread's own work on the call (on a quiet machine the wait is at most
 * about one chunk). Pausing only changes where chunks run, never the result.
 */
const HELPER_STALLS_BEFORE_PAUSE = 2;
/** Waits up to this long (milliseconds) never count as a stall: waking a thread takes some microseconds even on a quiet machine. */
const HELPER_STALL_MIN_MS = 0.1;
/** Geometry structs (13 i32) the kernels read; see assembly/geometry.ts. */
export const GEOMETRY_FIELDS = 13;

const alignUp = (bytes: number): number => Math.ceil(bytes / ALIGNMENT) * ALIGNMENT;

/**
 * The smallest module using SIMD: one function `() -> v128` whose body is
 * `i8x16.popcnt(i8x16.splat(i32.const 0))`. An engine without SIMD rejects it.
 */
const SIMD_PROBE = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00, // magic, version 1
  0x01,
  0x05,
  0x01,
  0x60,
  0x00,
  0x01,
  0x7b, // type section: () -> v128
  0x03,
  0x02,
  0x01,
  0x00, // function section: one function of type 0
  0x0a,
  0x0a,
  0x01,
  0x08,
  0x00, // code section: one body, no locals
  0x41,
  0x00,
  0xfd,
  0x0f,
  0xfd,
  0x62,
  0x0b, // i32.const 0; i8x16.splat; i8x16.popcnt; end
]);

let simdSupported: boolean | undefined;

/** True when this JavaScript engine supports WebAssembly with SIMD (checked once). */
export function wasmSimdSupported(): boolean {
  if (simdSupported === undefined) {
    try {
      simdSupported = typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
    } catch {
      simdSupported = false;
    }
  }
  return simdSupported;
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** True when this engine lets us create a shared WebAssembly memory. */
function sharedMemoryAllowed(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  return isolated !== false;
}

/** A kernel operand staged for one call: where it is in kernel memory, and where it goes back to. */
interface PendingCopy {
  target: Float32Array;
  targetOffset: number;
  address: number;
  length: number;
}

/** The module instance, its memory and the allocators over it. */
export class WasmKernels {
  readonly exports: KernelExports;
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
  readonly shared: boolean;
  /** True for the opt-in module with relaxed SIMD's fused multiply-add (useRelaxedSimd). */
  readonly relaxedSimd: boolean;
  /** Address of the helper threads' control block. */
  readonly controlBlock: number;
  private heap: Float32Array;
  private heapInt: Int32Array;
  /** Every ArrayBuffer the memory has had (a shared memory hands out a new one after each grow, all valid). */
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  /** The tensor blocks; the call frame starts at their top. */
  private readonly blocks: BlockAllocator;
  /** Bump pointer of the current call frame. */
  private frameTop: number;
  private inCall = false;
  private readonly pendingOut: PendingCopy[] = [];
  private helpers: HelperThreads | null = null;
  /** Calls in a row whose helpers were all withdrawn (their cores were busy elsewhere). */
  private helperMisses = 0;
  /** Calls left to run on this thread alone before the helpers are asked again. */
  private helperPause = 0;
  /** Calls in a row on which this thread waited for the helpers longer than it worked itself. */
  private helperStalls = 0;
  /** The next pause, in calls: doubles while the helpers keep failing, back to HELPER_PAUSE_CALLS once they do well. */
  private nextPause = HELPER_PAUSE_CALLS;
  /** Kernel calls in which at least one helper thread took part (for tests and benchmarks). */
  private callsWithHelpers = 0;

  constructor(shared: boolean, relaxedSimd = false) {
    this.shared = shared;
    this.relaxedSimd = relaxedSimd;
    const base64 = relaxedSimd ? WASM_KERNELS_SHARED_RELAXED_BASE64 : shared ? WASM_KERNELS_SHARED_BASE64 : WASM_KERNELS_BASE64;
    this.module = new WebAssembly.Module(decodeBase64(base64));
    this.memory = shared ? new WebAssembly.Memory({ initial: 32, maximum: SHARED_MAXIMUM_PAGES, shared: true }) : new WebAssembly.Memory({ initial: 32 });
    this.exports = new WebAssembly.Instance(this.module, { env: { memory: this.memory } }).exports as unknown as KernelExports;
    this.controlBlock = alignUp(this.exports.heapBase()); // its first i32 is the chunk counter
    this.blocks = new BlockAllocator(this.controlBlock + CONTROL_BLOCK_BYTES, (end) => this.ensure(end));
    this.frameTop = this.blocks.top;
    this.heap = new Float32Array(this.memory.buffer);
    this.heapInt = new Int32Array(this.memory.buffer);
    this.buffers.add(this.memory.buffer);
  }

  /** A float32 view of the whole memory (refreshed after the memory grows). */
  get f32(): Float32Array {
    if (this.heap.buffer !== this.memory.buffer) this.refreshViews();
    return this.heap;
  }

  /** An int32 view of the whole memory (refreshed after the memory grows). */
  get i32(): Int32Array {
    if (this.heapInt.buffer !== this.memory.buffer) this.refreshViews();
    return this.heapInt;
  }

  private refreshViews(): void {
    this.heap = new Float32Array(this.memory.buffer);
    this.heapInt = new Int32Array(this.memory.buffer);
    this.buffers.add(this.memory.buffer);
  }

  /** Grows the memory so that bytes [0, end) exist. */
  private ensure(end: number): void {
    const size = this.memory.buffer.byteLength;
    if (end <= size) return;
    try {
      this.memory.grow(Math.ceil((end - size) / PAGE_BYTES));
    } catch {
      throw new MemoryError(`WebAssembly kernels: cannot grow kernel memory from ${size} to ${end} bytes`);
    }
    this.refreshViews();
  }

  // ---- helper threads ----

  /** Installs (or, with null, removes) the helper threads kernels may split their work with. */
  setHelpers(helpers: HelperThreads | null): void {
    if (helpers && !this.shared) throw new Error('WebAssembly kernels: helper threads need a shared memory, which this engine does not allow');
    this.helpers?.close();
    this.helpers = helpers;
    this.helperMisses = 0;
    this.helperPause = 0;
    this.helperStalls = 0;
    this.nextPause = HELPER_PAUSE_CALLS;
  }

  /** Threads a kernel can split its work between: 1 + helpers. */
  get threads(): number {
    return 1 + (this.helpers?.count ?? 0);
  }

  /**
   * Runs `kernel(...args, first, count, workspace)` over [0, total) in chunks
   * of `chunk`, on this thread and the helpers, each thread with its own
   * workspace of `workspaceBytes` (reserved in the current call frame), on
   * at most `maxThreads` threads. Without helpers, or with one chunk, runs
   * every chunk here; with nothing to do (total 0) makes one call with
   * count 0, so a kernel can still write an empty result (a zero sum).
   * Which thread runs which chunk never changes the result: chunks write
   * disjoint parts of the output (or their own partial sums).
   */
  parallel(kernel: ParallelKernel, args: readonly number[], total: number, chunk: number, workspaceBytes = 0, maxThreads = Infinity): void {
    const chunks = Math.ceil(total / Math.max(1, chunk));
    let helpers = this.helpers;
    if (helpers && this.helperPause > 0) {
      // The helpers kept missing calls (another process holds their cores): leave them asleep for a while.
      this.helperPause--;
      helpers = null;
    }
    const threads = helpers ? Math.min(1 + helpers.count, chunks, maxThreads) : 1;
    const fn = this.exports[kernel] as (...a: number[]) => void;
    const callArgs = args.concat(0, 0, this.reserve(workspaceBytes));
    const n = args.length;
    if (total <= 0) {
      callArgs[n] = 0;
      callArgs[n + 1] = 0;
      fn.apply(null, callArgs);
      return;
    }
    if (threads <= 1 || !helpers) {
      for (let first = 0; first < total; first += chunk) {
        callArgs[n] = first;
        callArgs[n + 1] = Math.min(chunk, total - first);
        fn.apply(null, callArgs);
      }
      return;
    }
    const workspaces: number[] = [];
    for (let t = 1; t < threads; t++) workspaces.push(this.reserve(workspaceBytes));
    const control = this.i32;
    const counterIndex = this.controlBlock >>> 2;
    Atomics.store(control, counterIndex, 0);
    helpers.start({ kernel, args, total, chunk, counter: this.controlBlock }, threads - 1, workspaces);
    const started = performance.now();
    let failure: unknown = null;
    try {
      for (;;) {
        const first = Atomics.add(control, counterIndex, 1) * chunk;
        if (first >= total) break;
        callArgs[n] = first;
        callArgs[n + 1] = Math.min(chunk, total - first);
        fn.apply(null, callArgs);
      }
    } catch (e) {
      failure = e;
      Atomics.store(control, counterIndex, chunks); // no more chunks for anyone
    }
    const ownDone = performance.now();
    const joined = helpers.finish();
    if (failure) throw failure;
    if (joined > 0) {
      this.callsWithHelpers++;
      this.helperMisses = 0;
      const waited = performance.now() - ownDone;
      if (waited <= Math.max(ownDone - started, HELPER_STALL_MIN_MS)) {
        this.helperStalls = 0;
        this.nextPause = HELPER_PAUSE_CALLS;
      } else if (++this.helperStalls >= HELPER_STALLS_BEFORE_PAUSE) {
        this.pauseHelpers();
      }
    } else if (++this.helperMisses >= HELPER_MISSES_BEFORE_PAUSE) {
      this.pauseHelpers();
    }
  }

  /** Leaves the helpers asleep for the next calls (see HELPER_MISSES_BEFORE_PAUSE, HELPER_STALLS_BEFORE_PAUSE). */
  private pauseHelpers(): void {
    this.helperMisses = 0;
    this.helperStalls = 0;
    this.helperPause = this.nextPause;
    this.nextPause = Math.min(HELPER_PAUSE_MAX_CALLS, 2 * this.nextPause);
  }

  // ---- the call frame ----

  /** Starts a kernel call: everything reserved until `endCall` is released then. */
  beginCall(): void {
    if (this.inCall) throw new Error('WebAssembly kernels: a kernel call is already in progress');
    this.inCall = true;
    this.frameTop = this.blocks.top;
    this.pendingOut.length = 0;
  }

  /** Copies staged outputs back to their arrays (unless the call failed) and releases the frame. */
  endCall(copyOutputs = true): void {
    if (copyOutputs) {
      const heap = this.f32;
      for (const p of this.pendingOut) {
        const floats = p.address >>> 2;
        p.target.set(heap.subarray(floats, floats + p.length), p.targetOffset);
      }
    }
    this.pendingOut.length = 0;
    this.frameTop = this.blocks.top;
    this.inCall = false;
  }

  /** Reserves `bytes` in the call frame (contents undefined); returns the address. */
  reserve(bytes: number): number {
    const start = alignUp(this.frameTop);
    const end = start + Math.max(0, bytes);
    this.ensure(end);
    this.frameTop = end;
    return start;
  }

  /** True when `array` lives in this memory (a tensor block), so kernels can use it in place. */
  holds(array: Float32Array): boolean {
    const buffer = array.buffer;
    if (this.buffers.has(buffer)) return true;
    // The engine may hand out a new buffer object for the same memory (a shared memory after it grew elsewhere).
    if (buffer !== this.memory.buffer) return false;
    this.buffers.add(buffer);
    return true;
  }

  /** The address of `length` floats of `array` from `offset`, copied into the frame unless they already live here. */
  input(array: Float32Array, offset: number, length: number): number {
    if (this.holds(array)) return array.byteOffset + offset * 4;
    const address = this.reserve(length * 4);
    const floats = address >>> 2;
    const heap = this.f32;
    if (offset === 0 && length === array.length) heap.set(array, floats);
    else heap.set(array.subarray(offset, offset + length), floats);
    return address;
  }

  /**
   * The address where a kernel writes `length` floats that belong in `array`
   * from `offset`: the array itself when it lives here, otherwise room in the
   * frame that `endCall` copies back. With `initial`, the current contents
   * are copied in too (for kernels that read their output, e.g. beta ≠ 0).
   */
  output(array: Float32Array, offset: number, length: number, initial = false): number {
    if (this.holds(array)) return array.byteOffset + offset * 4;
    const address = initial ? this.input(array, offset, length) : this.reserve(length * 4);
    this.pendingOut.push({ target: array, targetOffset: offset, address, length });
    return address;
  }

  /** Writes a geometry struct (13 i32, see assembly/geometry.ts) into the frame; returns its address. */
  geometry(fields: readonly number[]): number {
    const address = this.reserve(GEOMETRY_FIELDS * 4);
    this.i32.set(fields, address >>> 2);
    return address;
  }

  // ---- tensor blocks ----

  /** True when tensors can live in kernel memory (a shared memory: growing it never detaches them). */
  get offersTensorBlocks(): boolean {
    return this.shared;
  }

  /**
   * A zero-filled Float32Array of `length` floats inside kernel memory:
   * kernels read and write it in place, without copies. Give it back with
   * `freeFloat32` when done. Only between kernel calls, and only with a
   * shared memory.
   */
  allocateFloat32(length: number): Float32Array {
    if (!this.shared) throw new Error('WebAssembly kernels: tensor blocks need a shared memory');
    if (this.inCall) throw new Error('WebAssembly kernels: cannot allocate a tensor block during a kernel call');
    const address = this.blocks.allocate(length * 4);
    this.frameTop = this.blocks.top;
    const array = new Float32Array(this.memory.buffer, address, length);
    array.fill(0);
    return array;
  }

  /** Returns a tensor block from `allocateFloat32` for reuse. */
  freeFloat32(array: Float32Array): void {
    const bytes = this.blocks.sizeOf(array.byteOffset);
    if (!this.holds(array) || bytes === undefined || bytes < array.byteLength)
      throw new Error('WebAssembly kernels: freeFloat32 got an array that is not a tensor block');
    this.freeBlock(array.byteOffset);
  }

  /** Returns the tensor block at `address` for reuse (its array must no longer be used). */
  freeBlock(address: number): void {
    if (this.inCall) throw new Error('WebAssembly kernels: cannot free a tensor block during a kernel call');
    this.blocks.release(address);
    this.frameTop = this.blocks.top;
  }

  /** Bytes of kernel memory and of tensor blocks, and the calls helper threads took part in, for tests and benchmarks. */
  stats(): { memoryBytes: number; tensorBytes: number; callsWithHelpers: number } {
    return { memoryBytes: this.memory.buffer.byteLength, tensorBytes: this.blocks.usedBytes, callsWithHelpers: this.callsWithHelpers };
  }
}

let instance: WasmKernels | null | undefined;
let relaxedSimdRequested = false;

/** The kernels, loaded on first use; null when this engine cannot run them (callers then use JavaScript). */
export function wasmKernels(): WasmKernels | null {
  if (instance === undefined) {
    instance = null;
    if (wasmSimdSupported()) {
      try {
        instance = new WasmKernels(sharedMemoryAllowed(), relaxedSimdRequested);
      } catch {
        instance = null;
      }
    }
  }
  return instance;
}

/**
 * Asks for the kernels built with relaxed SIMD's fused multiply-add in their
 * GEMM and convolution micro-kernels: faster where the engine fuses, with
 * results that differ from the default module's in the last bits (rounded
 * once instead of twice; not the same bits on every machine). Opt-in, and
 * only before the kernels are first used. Returns why not, or null when the
 * relaxed module will be the one loaded: it needs shared memory (Node,
 * cross-origin-isolated pages) and an engine that compiles relaxed SIMD
 * (Chromium does by default; Node 20 after enableRelaxedSimd() of
 * @ndgraph/ops/node sets V8's flag).
 */
export function useRelaxedSimd(): string | null {
  if (instance !== undefined && !instance?.relaxedSimd)
    return 'the WebAssembly kernels are already loaded: ask for relaxed SIMD before the first session runs or kernel is called';
  if (!sharedMemoryAllowed()) return 'the relaxed-SIMD kernels need shared memory (Node, or a cross-origin-isolated page)';
  if (!WebAssembly.validate(decodeBase64(WASM_KERNELS_SHARED_RELAXED_BASE64)))
    return 'this engine does not compile relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd, set before any module is compiled)';
  relaxedSimdRequested = true;
  return null;
}

/**
 * Runs `body` as one kernel call of `kernels`: operands staged with
 * `input`/`output` inside it are copied back and released when it returns.
 */
export function kernelCall<T>(kernels: WasmKernels, body: () => T): T {
  kernels.beginCall();
  let ok = false;
  try {
    const result = body();
    ok = true;
    return result;
  } finally {
    kernels.endCall(ok);
  }
}
