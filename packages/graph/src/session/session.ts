/**
 * Runs a graph. Plans once per set of fetches and feeds (see plan.ts: the
 * needed subgraph, fusion, kernels, liveness), then on each run evaluates the
 * steps in order, taking buffers from a pool on the session's backend and
 * handing freed ones back, so steady-state steps reuse memory.
 *
 * Values returned by `run` belong to the caller: the pool never reuses them,
 * and a fetched variable is a copy (an optimizer step will not change it).
 */
import { type Backend, resolveBackend } from '../backend.ts';
import type { DType, TypedArray } from '../dtype.ts';
import { FeedError, GraphError, MemoryError, NdgraphError, ShapeError } from '../errors.ts';
import { checkOptionKeys, type Graph, locateError, type Node, type OpDef, type RunContext } from '../graph.ts';
import { Rng } from '../rng.ts';
import { copyTensor, dtypeOf, formatShape, isContiguous, shapeMatches, shapeSize, shapesEqual, type Tensor, type TensorSpec, wrap } from '../tensor.ts';
import { checkFinite } from './anomaly.ts';
import { BufferPool } from './buffer-pool.ts';
import { describeAny, type Feeds, isNode, normalizeFeeds } from './feeds.ts';
import { HookTable, type NodeHooks } from './hooks.ts';
import { buildPlan, type Plan, type Step } from './plan.ts';

export interface RunOptions {
  /** Training mode (dropout drops, batchnorm uses and updates batch statistics). Default false. */
  training?: boolean;
  /** Reseed the session's generator before this run, for a run that repeats exactly. */
  seed?: number;
  /** Called with each node's value right after it is computed (values of freed nodes are only valid during the call). Runs unfused, so every node is seen. */
  onValue?: (node: Node, value: Tensor) => void;
  /** Stop at the first node whose value has a NaN or Inf, naming it. Runs unfused, so the node named is the one that made it. */
  anomaly?: boolean;
  /** Called with each computed node's kernel time in milliseconds and the op whose kernel ran (a fused op when the planner fused the node), for profiles. */
  onTime?: (node: Node, milliseconds: number, op: OpDef) => void;
  /**
   * Lend fetched values instead of handing them over: they stay valid until the
   * next run of this session, which reuses their buffers (or until the session
   * is disposed or dropped). Saves one allocation per fetched tensor per step
   * in training loops. Default false.
   */
  borrow?: boolean;
}

const RUN_OPTION_KEYS = ['training', 'seed', 'onValue', 'anomaly', 'onTime', 'borrow'];

export interface SessionOptions {
  /** Seed of the run generator. Default: derived from the graph's seed. */
  seed?: number;
  /** The backend whose kernels and memory the session uses (a Backend or its name). Default: the graph's. */
  backend?: Backend | string;
  /** Let the planner fuse chains such as conv2d → biasAdd → relu into one kernel (never a fetched or hooked node). Default true. */
  fusion?: boolean;
}

/** Each session's pool, for the debug entry's statistics (not part of the Session API). */
export const poolOf = new WeakMap<Session, BufferPool>();

export class Session {
  readonly rng: Rng;
  readonly backend: Backend;
  private readonly plans = new Map<string, Plan>();
  private readonly pool: BufferPool;
  private readonly hooks = new HookTable();
  private readonly fusion: boolean;
  /** Buffers lent by the previous `borrow` run, returned to the pool when the next run starts. */
  private lent: TypedArray[] = [];
  private disposed = false;
  /** The eval-mode gradient warning is given once per session. */
  private warnedAboutMode = false;

  constructor(
    readonly graph: Graph,
    options: SessionOptions = {},
  ) {
    checkOptionKeys('Session', options, ['seed', 'backend', 'fusion']);
    this.backend = options.backend === undefined ? graph.backend : resolveBackend(options.backend);
    this.pool = new BufferPool(this.backend);
    poolOf.set(this, this.pool);
    this.fusion = options.fusion ?? true;
    this.rng = new Rng(options.seed ?? (graph.seed * 2654435761 + 1013904223) % 4294967296);
  }

  /**
   * Gives every buffer of the session's pool back to its backend and ends the
   * session: later runs throw. Values borrowed from its last run are no
   * longer valid. A session that is simply dropped gives its buffers back
   * once they have been garbage-collected.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
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
   * A hooked node is never fused away.
   *
   *   const stop = session.hook(w, { gradient: (g) => clipInPlace(g, 1) });
   */
  hook(node: Node, hooks: NodeHooks): () => void {
    if (!isNode(node) || node.graph !== this.graph) throw new GraphError(`hook: expected a node of this session's graph, found ${describeAny(node)}`);
    const remove = this.hooks.add(node, hooks);
    this.plans.clear(); // what may be fused has changed
    return () => {
      remove();
      this.plans.clear();
    };
  }

  private runList(fetches: Node[], feeds: Feeds | undefined, options: RunOptions): Tensor[] {
    if (this.disposed) throw new GraphError('run: this session has been disposed; make a new Session');
    checkOptionKeys('run', options, RUN_OPTION_KEYS);
    for (const f of fetches) {
      if (!isNode(f) || f.graph !== this.graph) throw new GraphError(`run: every fetch must be a node of this session's graph, found ${describeAny(f)}`);
    }
    const feedMap = normalizeFeeds(this.graph, feeds);
    // A value borrowed from the last run goes back to the pool now: a feed of it is copied first.
    if (this.lent.length) for (const [id, t] of feedMap) if (this.lent.includes(t.data)) feedMap.set(id, copyTensor(t));
    const plan = this.plan(fetches, feedMap, this.fusion && !options.anomaly && !options.onValue);
    if (!options.training && plan.modeDependentNodes.length && !this.warnedAboutMode) {
      this.warnedAboutMode = true;
      const names = plan.modeDependentNodes.map((n) => `${n.name} (${n.op.name})`).join(', ');
      console.warn(
        `ndgraph: this run computes gradients through ${names} without training: true, so they run in eval mode (no dropout, running batchnorm statistics); pass { training: true } to train. (Said once per session.)`,
      );
    }
    if (options.seed !== undefined) this.rng.reseed(options.seed);
    const values: (Tensor | undefined)[] = new Array(plan.steps.length);
    const pool = this.pool;
    const context = new StepContext(pool, options.training ?? false, this.rng);
    for (const buf of this.lent) pool.release(buf);
    this.lent = [];
    const onTime = options.onTime;
    const hooked = !this.hooks.empty;

    try {
      for (let i = 0; i < plan.steps.length; i++) {
        const step = plan.steps[i];
        const node = step.node;
        let value: Tensor;
        if (step.fed) {
          value = feedMap.get(node.id)!;
        } else if (step.kernel === null) {
          value = this.sourceValue(step, plan);
        } else {
          const inputs = step.inputs.map((k) => values[k]!);
          const started = onTime ? performance.now() : 0;
          value = this.compute(step, inputs, context);
          if (onTime) onTime(node, performance.now() - started, step.op);
          pool.retain(value.data);
        }
        values[i] = value;
        if (options.anomaly)
          checkFinite(
            node,
            value,
            step.inputs.map((k) => values[k]!),
          );
        if (hooked) this.hooks.call(node, value);
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
        if (!pool.owns(value.data)) return copyTensor(value);
        if (options.borrow) {
          pool.retain(value.data); // held until the next run starts
          this.lent.push(value.data);
          return value;
        }
        if (pool.mustCopyOut(value.data)) return copyTensor(value);
        pool.detach(value.data);
        return value;
      });
    } finally {
      // Whatever is still held (fetched values were detached above) goes back to the pool.
      for (const v of values) if (v) pool.release(v.data);
      pool.endRun();
    }
  }

  private sourceValue(step: Step, plan: Plan): Tensor {
    const node = step.node;
    if (node.op.kind !== 'placeholder') return node.graph.valueOf(node);
    const consumer = plan.steps.find((s) => s.inputs.includes(plan.position.get(node.id)!))?.node;
    throw new FeedError(`placeholder ${node.name} ${formatShape(node.shape)} ${node.dtype} was not fed${consumer ? ` (needed by ${consumer.name})` : ''}`);
  }

  private compute(step: Step, inputs: Tensor[], context: StepContext): Tensor {
    const { node, op } = step;
    const specs = inputs.map((t) => ({ shape: t.shape, dtype: dtypeOf(t) }));
    let spec: TensorSpec;
    try {
      spec = op.inferShape(specs, step.attrs);
    } catch (e) {
      throw locateError(e, node.name, op.name, specs);
    }
    if (!shapeMatches(node.shape, spec.shape) || spec.shape.some((d) => d < 0) || spec.dtype !== node.dtype) {
      throw new ShapeError(
        `${node.name} (op ${op.name}): at run time the output is ${formatShape(spec.shape)} ${spec.dtype}, but the graph was built for ${formatShape(node.shape)} ${node.dtype}`,
      );
    }
    context.begin(node, spec);
    let out: Tensor;
    try {
      out = step.kernel!(inputs, step.attrs, context);
    } catch (e) {
      context.end();
      throw locateError(e, node.name, op.name, specs);
    }
    context.end(out.data);
    if (!shapesEqual(out.shape, spec.shape) || dtypeOf(out) !== spec.dtype || !isContiguous(out)) {
      throw new ShapeError(
        `${node.name} (op ${op.name}): the kernel returned ${formatShape(out.shape)} ${dtypeOf(out)}${isContiguous(out) ? '' : ' (not contiguous)'}, but its shape rule says ${formatShape(spec.shape)} ${spec.dtype}`,
      );
    }
    return out;
  }

  private plan(fetches: Node[], feeds: Map<number, Tensor>, fuse: boolean): Plan {
    const fed = [...feeds.keys()].sort((a, b) => a - b);
    const key = `${fetches.map((f) => f.id).join(',')}|${fed.join(',')}|${fuse}`;
    let plan = this.plans.get(key);
    if (!plan) {
      plan = buildPlan(fetches, new Set(fed), { backend: this.backend, fuse, wanted: (n) => this.hooks.wants(n) });
      this.plans.set(key, plan);
    }
    return plan;
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
    let buf: TypedArray;
    try {
      buf = this.pool.acquire(dtype, shapeSize(shape));
    } catch (e) {
      if (e instanceof NdgraphError && !(e instanceof MemoryError)) throw e;
      const bytes = shapeSize(shape) * (dtype === 'float64' ? 8 : 4);
      throw new MemoryError(
        `cannot allocate ${formatShape(shape)} ${dtype} (${bytes} bytes) on backend '${this.pool.backend.name}': ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    this.allocated.push(buf);
    return wrap(buf, shape);
  }
}
