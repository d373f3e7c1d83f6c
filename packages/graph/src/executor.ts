import { type DType, isFloatDType, newTypedArray, type TypedArray } from './dtype.ts';
import { AnomalyError, FeedError, GraphError, ShapeError } from './errors.ts';
import { type Graph, type Node, type RunContext, locateError } from './graph.ts';
import { Rng } from './rng.ts';
import { type Tensor, type TensorSpec, dtypeOf, formatShape, isContiguous, copyTensor, shapeMatches, shapesEqual, shapeSize, wrap } from './tensor.ts';
import { tensorStats, formatStats } from './stats.ts';

/** Feeds by node, or by node name. */
export type Feeds = Map<Node | string, Tensor> | ReadonlyArray<readonly [Node | string, Tensor]> | Record<string, Tensor>;

export interface RunOptions {
  /** Training mode (dropout drops, batchnorm uses and updates batch statistics). Default false. */
  training?: boolean;
  /** Reseed the session's generator before this run, for a run that repeats exactly. */
  seed?: number;
  /** Called with each node's value right after it is computed (values of freed nodes are only valid during the call). */
  onValue?: (node: Node, value: Tensor) => void;
  /** Stop at the first node whose value has a NaN or Inf, naming it. */
  anomaly?: boolean;
  /** Called with each computed node's kernel time in milliseconds (for profiles). */
  onTime?: (node: Node, milliseconds: number) => void;
  /**
   * Lend fetched values instead of handing them over: they stay valid until the
   * next run of this session, which reuses their buffers (or until the session
   * is disposed or dropped). Saves one allocation per fetched tensor per step
   * in training loops. Default false.
   */
  borrow?: boolean;
}

/**
 * Callbacks on one node, called during every run of the session that computes it
 * (see `Session.hook`). Each runs right after the value is computed and before
 * any consumer reads it, so a hook may change the tensor in place (clip,
 * rescale, zero out) and every downstream node and the fetched value then see
 * the changed numbers. A value that is a view of another (reshape, flatten)
 * shares its buffer, so changing it changes that one too. The tensor is only
 * valid during the call: copy it to keep it.
 */
export interface NodeHooks {
  /** The node's value. For a variable or constant this is the stored value itself: changing it changes the variable. */
  value?(value: Tensor, node: Node): void;
  /**
   * The node's gradient, whenever a gradient node of it (from any `gradients`
   * walk) is computed. `gradientNode` is that node; when it is also the gradient
   * of other nodes (a grad rule that passes `dy` on unchanged), changing it
   * changes theirs too.
   */
  gradient?(gradient: Tensor, node: Node, gradientNode: Node): void;
}

export interface SessionOptions {
  /** Seed of the run generator. Default: derived from the graph's seed. */
  seed?: number;
  /**
   * Where float32 intermediate buffers come from. Default: ordinary
   * Float32Arrays. Fast kernels can hand out arrays inside their WebAssembly
   * memory (see `wasmTensorAllocator` in @ndgraph/ops) so they need not copy
   * operands in and out. Such buffers stay in the pool: fetched values are
   * copied out of them unless the run borrows.
   */
  allocateFloat32?: (length: number) => Float32Array;
  /**
   * Gives a buffer from `allocateFloat32` back to its allocator (see
   * `freeWasmTensor` in @ndgraph/ops). Called for every such buffer when the
   * session is disposed, or after it has been garbage-collected: without it
   * they would stay taken for the life of the process.
   */
  freeFloat32?: (array: Float32Array) => void;
}

/**
 * Frees the outside-allocated buffers of sessions that were dropped without
 * `dispose()`. The held value is the pool, which does not refer back to its
 * session, so it does not keep the session alive.
 */
const droppedSessions = new FinalizationRegistry<BufferPool>((pool) => pool.freeAll());

interface Plan {
  order: Node[];
  /** Plan index of each node id in `order`. */
  position: Map<number, number>;
  /** Input plan indices for each step. */
  inputIndex: number[][];
  /** Steps after which a value is no longer needed: releaseAfter[step] = plan indices. */
  releaseAfter: number[][];
  fed: Set<number>;
  kept: Set<number>;
}

/**
 * Runs a graph. Plans once per set of fetches and feeds (iterative topological
 * sort over only the needed subgraph, plus liveness), then on each run
 * evaluates nodes in order and hands freed intermediate buffers back to a pool
 * keyed by dtype and size, so steady-state steps reuse memory.
 *
 * Values returned by `run` belong to the caller: the pool never reuses them,
 * and a fetched variable is a copy (an optimizer step will not change it).
 */
export class Session {
  readonly rng: Rng;
  private readonly plans = new Map<string, Plan>();
  private readonly pool: BufferPool;
  /** Buffers lent by the previous `borrow` run, returned to the pool when the next run starts. */
  private lent: TypedArray[] = [];
  /** Hooks by hooked node id; empty in the common case, so runs skip hook work entirely. */
  private readonly valueHooks = new Map<number, NodeHooks[]>();
  private readonly gradientHooks = new Map<number, NodeHooks[]>();

  private disposed = false;

  constructor(readonly graph: Graph, options: SessionOptions = {}) {
    this.pool = new BufferPool(options.allocateFloat32, options.freeFloat32);
    this.rng = new Rng(options.seed ?? (graph.seed * 2654435761 + 1013904223) % 4294967296);
    if (options.allocateFloat32 && options.freeFloat32) droppedSessions.register(this, this.pool, this);
  }

  /**
   * Gives every buffer of the session's pool back (outside-allocated ones to
   * their allocator) and ends the session: later runs throw. Values borrowed
   * from its last run are no longer valid. A session that is simply dropped
   * is cleaned up the same way once it has been garbage-collected.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    droppedSessions.unregister(this);
    this.lent = [];
    this.plans.clear();
    this.pool.freeAll();
  }

  run(fetch: Node, feeds?: Feeds, options?: RunOptions): Tensor;
  run(fetches: readonly Node[], feeds?: Feeds, options?: RunOptions): Tensor[];
  run<K extends string>(fetches: Record<K, Node>, feeds?: Feeds, options?: RunOptions): Record<K, Tensor>;
  run(fetches: Node | readonly Node[] | Record<string, Node>, feeds?: Feeds, options: RunOptions = {}): unknown {
    const list: Node[] = isNode(fetches) ? [fetches] : Array.isArray(fetches) ? (fetches as Node[]) : Object.values(fetches as Record<string, Node>);
    const values = this.runList(list, feeds, options);
    if (isNode(fetches)) return values[0];
    if (Array.isArray(fetches)) return values;
    const out: Record<string, Tensor> = {};
    Object.keys(fetches).forEach((k, i) => (out[k] = values[i]));
    return out;
  }

  /**
   * Registers callbacks on `node`'s value and/or gradient for every later run,
   * without changing the graph. Returns a function that unregisters them.
   *
   *   const stop = session.hook(w, { gradient: (g) => clipInPlace(g, 1) });
   */
  hook(node: Node, hooks: NodeHooks): () => void {
    if (!isNode(node) || node.graph !== this.graph) throw new GraphError(`hook: expected a node of this session's graph, found ${describeAny(node)}`);
    const added: [Map<number, NodeHooks[]>, NodeHooks][] = [];
    if (hooks.value) added.push([this.valueHooks, hooks]);
    if (hooks.gradient) added.push([this.gradientHooks, hooks]);
    if (!added.length) throw new GraphError(`hook on ${node.name}: give a value and/or gradient callback`);
    for (const [table, h] of added) {
      const list = table.get(node.id);
      if (list) list.push(h);
      else table.set(node.id, [h]);
    }
    return () => {
      for (const [table, h] of added) {
        const list = table.get(node.id);
        const at = list?.indexOf(h) ?? -1;
        if (list && at >= 0) list.splice(at, 1);
        if (list && !list.length) table.delete(node.id);
      }
    };
  }

  /** Calls the value hooks of `node` and the gradient hooks of the forward nodes it is the gradient of. */
  private callHooks(node: Node, value: Tensor): void {
    const own = this.valueHooks.get(node.id);
    if (own) for (const h of own.slice()) h.value!(value, node);
    if (!this.gradientHooks.size) return;
    const info = this.graph.gradientInfo(node);
    if (!info) return;
    for (const forward of info.of) {
      const list = this.gradientHooks.get(forward.id);
      if (list) for (const h of list.slice()) h.gradient!(value, forward, node);
    }
  }

  /** How many buffers the pool holds and how many bytes they take (for benchmarks). */
  poolStats(): { buffers: number; bytes: number } {
    return this.pool.stats();
  }

  private runList(fetches: Node[], feeds: Feeds | undefined, options: RunOptions): Tensor[] {
    if (this.disposed) throw new GraphError('run: this session has been disposed; make a new Session');
    for (const f of fetches) {
      if (!isNode(f) || f.graph !== this.graph) throw new GraphError(`run: every fetch must be a node of this session's graph, found ${describeAny(f)}`);
    }
    const feedMap = this.normalizeFeeds(feeds);
    const plan = this.plan(fetches, feedMap);
    if (options.seed !== undefined) this.rng.reseed(options.seed);
    const training = options.training ?? false;
    const values: (Tensor | undefined)[] = new Array(plan.order.length);
    const pool = this.pool;
    const step = new StepContext(pool, training, this.rng);
    for (const buf of this.lent) pool.release(buf);
    this.lent = [];
    const onTime = options.onTime;
    const hooked = this.valueHooks.size > 0 || this.gradientHooks.size > 0;

    try {
      for (let i = 0; i < plan.order.length; i++) {
        const node = plan.order[i];
        let value: Tensor;
        if (plan.fed.has(node.id)) {
          value = feedMap.get(node.id)!;
        } else if (node.op.kind === 'placeholder') {
          const consumer = plan.order.find((n) => n.inputs.includes(node));
          throw new FeedError(`placeholder ${node.name} ${formatShape(node.shape)} ${node.dtype} was not fed` + (consumer ? ` (needed by ${consumer.name})` : ''));
        } else {
          const inputs = plan.inputIndex[i].map((k) => values[k]!);
          const started = onTime ? performance.now() : 0;
          value = this.compute(node, inputs, step);
          if (onTime) onTime(node, performance.now() - started);
          pool.retain(value.data);
        }
        values[i] = value;
        if (options.anomaly) checkFinite(node, value, plan.inputIndex[i].map((k) => values[k]!));
        if (hooked) this.callHooks(node, value);
        options.onValue?.(node, value);
        for (const k of plan.releaseAfter[i]) {
          pool.release(values[k]!.data);
          values[k] = undefined;
        }
      }
      // Pooled buffers are handed over; values that live elsewhere (variables,
      // constants, feeds, or views of them) are copied, so later steps never change them.
      return fetches.map((f) => {
        const value = values[plan.position.get(f.id)!]!;
        if (pool.owns(value.data)) {
          if (options.borrow) {
            pool.retain(value.data); // held until the next run starts
            this.lent.push(value.data);
            return value;
          }
          if (pool.external && value.data instanceof Float32Array) return copyTensor(value); // kernel memory: keep it pooled
          pool.detach(value.data);
          return value;
        }
        return copyTensor(value);
      });
    } finally {
      // Whatever is still held (fetched values were detached above) goes back to the pool.
      for (const v of values) if (v) pool.release(v.data);
    }
  }

  private compute(node: Node, inputs: Tensor[], step: StepContext): Tensor {
    const op = node.op;
    if (op.kind === 'variable' || op.kind === 'constant') return node.graph.valueOf(node);
    const specs = inputs.map((t) => ({ shape: t.shape, dtype: dtypeOf(t) }));
    let spec: TensorSpec;
    try {
      spec = op.inferShape(specs, node.attrs);
    } catch (e) {
      throw locateError(e, node.name, op.name, specs);
    }
    if (!shapeMatches(node.shape, spec.shape) || spec.shape.some((d) => d < 0) || spec.dtype !== node.dtype) {
      throw new ShapeError(`${node.name} (op ${op.name}): at run time the output is ${formatShape(spec.shape)} ${spec.dtype}, but the graph was built for ${formatShape(node.shape)} ${node.dtype}`);
    }
    step.begin(node, spec);
    let out: Tensor;
    try {
      out = op.forward(inputs, node.attrs, step);
    } catch (e) {
      step.end();
      throw locateError(e, node.name, op.name, specs);
    }
    step.end(out.data);
    if (!shapesEqual(out.shape, spec.shape) || dtypeOf(out) !== spec.dtype || !isContiguous(out)) {
      throw new ShapeError(`${node.name} (op ${op.name}): the kernel returned ${formatShape(out.shape)} ${dtypeOf(out)}${isContiguous(out) ? '' : ' (not contiguous)'}, but its shape rule says ${formatShape(spec.shape)} ${spec.dtype}`);
    }
    return out;
  }

  private normalizeFeeds(feeds: Feeds | undefined): Map<number, Tensor> {
    const out = new Map<number, Tensor>();
    if (!feeds) return out;
    const entries: [Node | string, Tensor][] =
      feeds instanceof Map ? [...feeds.entries()] : Array.isArray(feeds) ? (feeds as [Node | string, Tensor][]) : Object.entries(feeds as Record<string, Tensor>);
    for (const [key, value] of entries) {
      let node: Node;
      if (typeof key === 'string') {
        if (!this.graph.hasNode(key)) throw new FeedError(`feed for '${key}': there is no node with that name in the graph`);
        node = this.graph.node(key);
      } else if (isNode(key) && key.graph === this.graph) {
        node = key;
      } else {
        throw new FeedError(`feed key must be a node of this graph or a node name, found ${describeAny(key)}`);
      }
      if (!value || typeof value !== 'object' || !('shape' in value) || !('data' in value)) {
        throw new FeedError(`feed for ${node.name}: expected an ndarray tensor, found ${describeAny(value)}`);
      }
      let dtype: DType;
      try {
        dtype = dtypeOf(value);
      } catch {
        throw new FeedError(`feed for ${node.name}: expected a ${node.dtype} tensor, found data of type ${Object.prototype.toString.call(value.data)}`);
      }
      if (dtype !== node.dtype || !shapeMatches(node.shape, value.shape)) {
        throw new FeedError(`feed for ${node.op.kind ?? 'node'} ${node.name}: expected ${formatShape(node.shape)} ${node.dtype}, found ${formatShape(value.shape)} ${dtype}`);
      }
      out.set(node.id, isContiguous(value) ? value : copyTensor(value));
    }
    return out;
  }

  private plan(fetches: Node[], feeds: Map<number, Tensor>): Plan {
    const fed = [...feeds.keys()].sort((a, b) => a - b);
    const key = `${fetches.map((f) => f.id).join(',')}|${fed.join(',')}`;
    let plan = this.plans.get(key);
    if (!plan) {
      plan = buildPlan(fetches, new Set(fed));
      this.plans.set(key, plan);
    }
    return plan;
  }
}

/** Topological order of what `fetches` need (iterative DFS, so deep chains do not overflow the stack). */
export function topologicalOrder(targets: readonly Node[], stopAt: ReadonlySet<number> = new Set()): Node[] {
  const order: Node[] = [];
  const state = new Map<number, 1 | 2>(); // 1 = on the stack, 2 = done
  const stack: { node: Node; next: number }[] = [];
  for (const t of targets) {
    if (state.get(t.id) === 2) continue;
    stack.push({ node: t, next: 0 });
    state.set(t.id, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const inputs = stopAt.has(top.node.id) ? [] : top.node.inputs;
      if (top.next < inputs.length) {
        const child = inputs[top.next++];
        const s = state.get(child.id);
        if (s === undefined) {
          state.set(child.id, 1);
          stack.push({ node: child, next: 0 });
        } else if (s === 1) {
          throw new GraphError(`cycle through ${child.name}`);
        }
      } else {
        stack.pop();
        state.set(top.node.id, 2);
        order.push(top.node);
      }
    }
  }
  return order;
}

function buildPlan(fetches: Node[], fed: Set<number>): Plan {
  const order = topologicalOrder(fetches, fed);
  const position = new Map<number, number>();
  order.forEach((n, i) => position.set(n.id, i));
  const inputIndex = order.map((n) => (fed.has(n.id) ? [] : n.inputs.map((x) => position.get(x.id)!)));
  const kept = new Set(fetches.map((f) => f.id));
  const lastUse = new Array<number>(order.length).fill(-1);
  inputIndex.forEach((ins, i) => ins.forEach((k) => (lastUse[k] = i)));
  const releaseAfter: number[][] = order.map(() => []);
  lastUse.forEach((step, k) => {
    if (step >= 0 && !kept.has(order[k].id)) releaseAfter[step].push(k);
  });
  return { order, position, inputIndex, releaseAfter, fed, kept };
}

/**
 * Buffers by dtype and length. A buffer is retained once per live value that
 * uses it (a view such as reshape shares its input's buffer), and goes back
 * to the free list when its count reaches zero. Buffers not from the pool
 * (variables, constants, feeds) are never tracked.
 */
class BufferPool {
  private readonly free = new Map<string, TypedArray[]>();
  private readonly refs = new Map<TypedArray, number>();
  /** Every buffer from `allocateFloat32`, for `freeAll`. */
  private readonly outside: Float32Array[] = [];

  constructor(
    private readonly allocateFloat32?: (length: number) => Float32Array,
    private readonly freeFloat32?: (array: Float32Array) => void,
  ) {}

  /** True when float32 buffers come from an outside allocator (never handed to callers). */
  get external(): boolean {
    return this.allocateFloat32 !== undefined;
  }

  acquire(dtype: DType, size: number): TypedArray {
    const list = this.free.get(`${dtype}:${size}`);
    let buf = list?.pop();
    if (buf === undefined) {
      if (dtype === 'float32' && this.allocateFloat32) {
        buf = this.allocateFloat32(size);
        this.outside.push(buf);
      } else {
        buf = newTypedArray(dtype, size);
      }
    }
    this.refs.set(buf, 0);
    return buf;
  }

  /** Forgets every buffer; outside-allocated ones go back to their allocator. */
  freeAll(): void {
    this.free.clear();
    this.refs.clear();
    const outside = this.outside.splice(0);
    if (this.freeFloat32) for (const buf of outside) this.freeFloat32(buf);
  }

  retain(buf: TypedArray): void {
    const r = this.refs.get(buf);
    if (r !== undefined) this.refs.set(buf, r + 1);
  }

  release(buf: TypedArray): void {
    const r = this.refs.get(buf);
    if (r === undefined) return;
    if (r <= 1) {
      this.refs.set(buf, 0);
      this.toFree(buf);
    } else {
      this.refs.set(buf, r - 1);
    }
  }

  /** Releases a buffer that no value holds (scratch, or an output the kernel did not return). */
  releaseIfUnheld(buf: TypedArray): void {
    if (this.refs.get(buf) === 0) this.toFree(buf);
  }

  owns(buf: TypedArray): boolean {
    return this.refs.has(buf);
  }

  /** Hands a buffer to the caller for good (never an outside-allocated one: those are copied out). */
  detach(buf: TypedArray): void {
    this.refs.delete(buf);
  }

  private toFree(buf: TypedArray): void {
    const key = `${dtypeOf({ data: buf } as Tensor)}:${buf.length}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    if (!list.includes(buf)) list.push(buf);
  }

  stats(): { buffers: number; bytes: number } {
    let buffers = 0;
    let bytes = 0;
    for (const buf of this.refs.keys()) {
      buffers++;
      bytes += buf.byteLength;
    }
    return { buffers, bytes };
  }
}

/** The RunContext handed to kernels; one object reused for every step of a run. */
class StepContext implements RunContext {
  node!: Node;
  outputSpec!: TensorSpec;
  private allocated: TypedArray[] = [];

  constructor(
    private readonly pool: BufferPool,
    readonly training: boolean,
    readonly rng: Rng,
  ) {}

  begin(node: Node, spec: TensorSpec): void {
    this.node = node;
    this.outputSpec = spec;
  }

  /** Returns every buffer taken in this step except the output's to the pool. */
  end(keep?: TypedArray): void {
    for (const buf of this.allocated) if (buf !== keep) this.pool.releaseIfUnheld(buf);
    this.allocated.length = 0;
  }

  output(): Tensor {
    return this.scratch(this.outputSpec.shape, this.outputSpec.dtype);
  }

  outputZeros(): Tensor {
    const t = this.output();
    t.data.fill(0);
    return t;
  }

  scratch(shape: readonly number[], dtype: DType): Tensor {
    const buf = this.pool.acquire(dtype, shapeSize(shape));
    this.allocated.push(buf);
    return wrap(buf, shape);
  }
}

/**
 * Anomaly mode: throws at the first NaN/Inf in a float value, naming the node,
 * its op and scope, and the stats of its inputs. For a node the gradient walk
 * built, it also names the forward node whose backward pass it belongs to and
 * the forward nodes whose gradient it is, since that is where to look.
 */
function checkFinite(node: Node, value: Tensor, inputs: Tensor[]): void {
  if (!isFloatDType(dtypeOf(value))) return;
  const d = value.data;
  for (let i = 0; i < value.size; i++) {
    const v = d[value.offset + i];
    if (v - v !== 0) throw new AnomalyError(describeAnomaly(node, value, inputs, i));
  }
}

function describeAnomaly(node: Node, value: Tensor, inputs: Tensor[], firstIndex: number): string {
  const stats = tensorStats(value);
  const where = (n: Node) => `${n.name} (op ${n.op.name}, scope '${n.scope}')`;
  const lines = [`${where(node)} produced ${stats.nan} NaN and ${stats.inf} Inf values out of ${value.size} (first at flat index ${firstIndex})`];
  const info = node.graph.gradientInfo(node);
  if (info) {
    lines.push(`  it belongs to the backward pass of forward node ${where(info.builtFor)}`);
    if (info.of.length) lines.push(`  it is the gradient with respect to ${info.of.map(where).join(', ')}`);
  }
  node.inputs.forEach((x, k) => {
    const t = inputs[k];
    if (t) lines.push(`  input ${k} ${x.name} (op ${x.op.name}) ${formatShape(t.shape)}: ${formatStats(tensorStats(t))}`);
  });
  return lines.join('\n');
}

function isNode(x: unknown): x is Node {
  return typeof x === 'object' && x !== null && 'op' in x && 'inputs' in x && 'graph' in x;
}

function describeAny(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (isNode(x)) return `node ${x.name} of another graph`;
  return typeof x === 'object' ? (x.constructor?.name ?? 'object') : `${typeof x} ${String(x)}`;
}
