/**
 * Backends and the kernel table.
 *
 * A **kernel** computes one node's value; it has the signature of
 * `OpDef.forward`, which is every op's JavaScript kernel (the reference).
 * A **backend** owns tensor memory and may have faster kernels of its own,
 * registered by op name in one table (`registerKernel`). Which kernel runs
 * for a node is decided once, when a session plans it: the session's backend
 * kernel for the node's dtype if there is one, else the op's `forward`.
 *
 * Backends register with a priority; `getBackend()` picks the best one that
 * starts on this engine, once. Users pick nothing: `new Graph()` and
 * `new Session(g)` use it. `setBackend('js')` (or the `backend` option of
 * Graph and Session) chooses another.
 */
import { type DType, newTypedArray, type TypedArray } from './dtype.ts';
import { GraphError } from './errors.ts';
import type { RunContext } from './graph.ts';
import type { Tensor } from './tensor.ts';

/** Computes a node's value from its inputs: the signature of `OpDef.forward`. */
// biome-ignore lint/suspicious/noExplicitAny: kernels of every op live in one table, whatever their attributes
export type Kernel<A = any> = (inputs: Tensor[], attrs: A, ctx: RunContext) => Tensor;

/** Where tensors live and which kernels run on them. */
export interface Backend {
  readonly name: string;
  /**
   * A zero-filled array of `length` elements in this backend's memory. Give it
   * back with `free`; one that is simply dropped is given back once it has
   * been garbage-collected (so never keep only a `subarray` of it).
   */
  allocate(dtype: DType, length: number): TypedArray;
  /** Gives an array from `allocate` back. Arrays the backend does not own are ignored. */
  free(array: TypedArray): void;
  /** True when `array` lives in this backend's own memory (not an ordinary JavaScript array). */
  owns(array: TypedArray): boolean;
  /** This backend's kernel for op (or named kernel) `name` on `dtype` values; undefined when it has none. */
  kernel<F = Kernel>(name: string, dtype: DType): F | undefined;
}

// ---- the kernel table ----

interface KernelEntry {
  kernel: unknown;
  dtypes: readonly DType[];
}

/** Kernels by op (or named kernel) and backend name. */
const kernelTable = new Map<string, Map<string, KernelEntry>>();

export interface RegisterKernelOptions {
  /** Value types the kernel handles (the node's output dtype). Default float32. */
  dtypes?: readonly DType[];
}

/**
 * Registers `kernel` as backend `backend`'s kernel for the op named `op` (or
 * for a named kernel that is not an op, such as an optimizer update). Built-in
 * backends register theirs the same way; a user's op or backend can too.
 *
 *   registerKernel('swish', 'wasm', swishWasm);
 */
export function registerKernel<F = Kernel>(op: string | { readonly name: string }, backend: string, kernel: F, options: RegisterKernelOptions = {}): void {
  const name = typeof op === 'string' ? op : op.name;
  if (typeof kernel !== 'function') throw new GraphError(`registerKernel(${name}, ${backend}): expected a kernel function, found ${typeof kernel}`);
  let byBackend = kernelTable.get(name);
  if (!byBackend) kernelTable.set(name, (byBackend = new Map()));
  byBackend.set(backend, { kernel, dtypes: options.dtypes ?? ['float32'] });
}

/** The kernel registered for `op` on `backend` for `dtype` values, if any. */
export function lookupKernel<F = Kernel>(op: string, backend: string, dtype: DType): F | undefined {
  const entry = kernelTable.get(op)?.get(backend);
  return entry?.dtypes.includes(dtype) ? (entry.kernel as F) : undefined;
}

/** The backends with a kernel of their own for `op` (the JavaScript kernel, `forward`, is always there). */
export function kernelBackends(op: string): string[] {
  return [...(kernelTable.get(op)?.keys() ?? [])];
}

// ---- memory given back when unreachable ----

/**
 * Gives backend memory back once the array holding it has been
 * garbage-collected. The held value is a closure over the address, not the
 * array, so the registry never keeps an array alive.
 */
const unreachable = new FinalizationRegistry<() => void>((release) => release());

/** Calls `release` once `array` has been garbage-collected, unless `forgetUnreachable(array)` ran first. */
export function releaseWhenUnreachable(array: object, release: () => void): void {
  unreachable.register(array, release, array);
}

/** Cancels `releaseWhenUnreachable` for `array` (it was given back explicitly). */
export function forgetUnreachable(array: object): void {
  unreachable.unregister(array);
}

// ---- the JavaScript backend ----

/** Ordinary typed arrays and the ops' own JavaScript kernels. Always available; float64 always runs here. */
export const jsBackend: Backend = {
  name: 'js',
  allocate: (dtype, length) => newTypedArray(dtype, length),
  free: () => {},
  owns: () => false,
  kernel: () => undefined,
};

// ---- choosing a backend ----

export interface BackendFactory {
  readonly name: string;
  /** Higher wins when the default is chosen. The JavaScript backend has 0. */
  readonly priority: number;
  /** The backend, or null when this engine cannot run it (no WebAssembly SIMD, say). */
  create(): Backend | null;
}

const factories = new Map<string, BackendFactory>([['js', { name: 'js', priority: 0, create: () => jsBackend }]]);
const started = new Map<string, Backend | null>();
let chosen: Backend | undefined;

/** Makes a backend available by name (and as the default when its priority is the highest). */
export function registerBackend(factory: BackendFactory): void {
  factories.set(factory.name, factory);
  started.delete(factory.name);
}

function start(name: string): Backend | null {
  if (!started.has(name)) {
    const factory = factories.get(name);
    let backend: Backend | null = null;
    try {
      backend = factory ? factory.create() : null;
    } catch {
      backend = null;
    }
    started.set(name, backend);
  }
  return started.get(name) ?? null;
}

/** The backend named `name`; throws naming the registered ones when it is unknown or cannot start here. */
export function backendByName(name: string): Backend {
  const backend = start(name);
  if (!backend) {
    const known = [...factories.keys()].join(', ');
    throw new GraphError(factories.has(name) ? `backend '${name}' cannot run on this engine` : `unknown backend '${name}'; registered: ${known}`);
  }
  return backend;
}

/** The default backend: the one set by `setBackend`, else the highest-priority one that starts (chosen once). */
export function getBackend(): Backend {
  if (!chosen) {
    const byPriority = [...factories.values()].sort((a, b) => b.priority - a.priority);
    for (const f of byPriority) {
      const backend = start(f.name);
      if (backend) {
        chosen = backend;
        break;
      }
    }
  }
  return chosen ?? jsBackend;
}

/** Sets the default backend for graphs and sessions made from now on. */
export function setBackend(name: string): Backend {
  chosen = backendByName(name);
  return chosen;
}

/** Names of the registered backends, best first. */
export function backendNames(): string[] {
  return [...factories.values()].sort((a, b) => b.priority - a.priority).map((f) => f.name);
}

/** The started backend whose memory holds `array`, or the JavaScript backend for an ordinary array. */
export function backendOwning(array: TypedArray): Backend {
  for (const backend of started.values()) if (backend?.owns(array)) return backend;
  return jsBackend;
}

/** `opts.backend` resolved: a Backend, a name, or the default. */
export function resolveBackend(backend: Backend | string | undefined): Backend {
  if (backend === undefined) return getBackend();
  return typeof backend === 'string' ? backendByName(backend) : backend;
}
