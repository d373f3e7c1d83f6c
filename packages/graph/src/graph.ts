import type { DType } from './dtype.ts';
import { DTypeError, GraphError, NdgraphError, ShapeError } from './errors.ts';
import { type Backend, resolveBackend } from './backend.ts';
import { Rng } from './rng.ts';
import { type Tensor, type TensorSpec, dtypeOf, formatShape, shapeMatches, copyTensor, isContiguous, tensor as makeTensor, wrap } from './tensor.ts';

/** What a kernel sees while it runs. */
export interface RunContext {
  /** True in training runs: dropout drops, batchnorm uses batch statistics. */
  readonly training: boolean;
  /** The run's seeded generator (draws happen in the plan's fixed order, so runs are reproducible). */
  readonly rng: Rng;
  /** The node being computed, for error messages. */
  readonly node: Node;
  /** The output's concrete spec, from the op's shape rule applied to the actual inputs. */
  readonly outputSpec: TensorSpec;
  /** A buffer for the output, shaped as `outputSpec`. Contents are undefined: write every element. */
  output(): Tensor;
  /** Like `output()`, filled with zeros (for kernels that accumulate). */
  outputZeros(): Tensor;
  /** Temporary buffer, returned to the pool when `forward` returns. Contents are undefined. */
  scratch(shape: readonly number[], dtype: DType): Tensor;
}

/** What a gradient rule sees while it builds gradient nodes. */
export interface GradContext {
  readonly graph: Graph;
  /** False when input `i` does not lead to anything asked for: its entry may be null. */
  needsGrad(i: number): boolean;
}

/**
 * The one extension point. Built-in ops and users' custom ops implement this.
 * - `inferShape` runs when the graph is built (dims may be -1) and again with
 *   concrete shapes before each kernel call. Throw `ShapeError` with what was
 *   expected and found; the engine adds the node's name, op and input shapes.
 * - `forward` computes the value, taking its output buffer from `ctx`.
 * - `grad` builds the vector-Jacobian product out of other nodes: one entry
 *   per input (null where there is no gradient).
 */
// biome-ignore lint/suspicious/noExplicitAny: a graph holds ops of every attribute type
export interface OpDef<A = any> {
  readonly name: string;
  inferShape(inputs: TensorSpec[], attrs: A): TensorSpec;
  /** The JavaScript kernel, the reference every backend's kernel is tested against. Source ops have none. */
  forward?(inputs: Tensor[], attrs: A, ctx: RunContext): Tensor;
  grad?(ctx: GradContext, dy: Node, node: Node<A>): (Node | null)[];
  /** Exact input count, checked when a node is built. */
  readonly arity?: number;
  /** True for ops that behave differently in training runs (dropout, batchnorm): a gradient run without `training: true` warns. */
  readonly dependsOnMode?: boolean;
  /**
   * Which input's dtype picks a backend's kernel (default: the node's own
   * dtype). For ops whose small value has another dtype than the tensors
   * they read: float64 statistics of float32 activations run float32 kernels.
   */
  readonly kernelDtypeInput?: number;
  /** Source ops (placeholder, variable, constant) hold no kernel work; the session takes their values from feeds or the graph. */
  readonly kind?: 'placeholder' | 'variable' | 'constant';
}

/** One op application in a graph. Immutable once built. */
// biome-ignore lint/suspicious/noExplicitAny: a graph holds nodes of every attribute type
export class Node<A = any> {
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly op: OpDef<A>,
    readonly inputs: readonly Node[],
    readonly attrs: A,
    readonly shape: readonly number[],
    readonly dtype: DType,
    /** Full name with scope path, e.g. `lenet/conv1/conv2d`. Unique in its graph. */
    readonly name: string,
  ) {}

  /** The scope path part of the name (`lenet/conv1` for `lenet/conv1/conv2d`). */
  get scope(): string {
    const i = this.name.lastIndexOf('/');
    return i < 0 ? '' : this.name.slice(0, i);
  }

  get rank(): number {
    return this.shape.length;
  }

  get spec(): TensorSpec {
    return { shape: this.shape.slice(), dtype: this.dtype };
  }

  /** `name (op) [shape] dtype`, used in every error message. */
  describe(): string {
    return `${this.name} (op ${this.op.name}, ${formatShape(this.shape)} ${this.dtype})`;
  }

  toString(): string {
    return this.describe();
  }
}

export interface BuildOptions {
  /** Node name inside the current scope (default: the op's name). */
  name?: string;
  /** The graph, needed only for ops without inputs. */
  graph?: Graph;
}

export interface GraphOptions {
  /** Seed of the graph's generator (initializers). Default 0. */
  seed?: number;
  /**
   * The backend whose memory holds the variables (a Backend or its name).
   * Default: `getBackend()`, the best one available. Sessions of this graph
   * use it too unless told otherwise.
   */
  backend?: Backend | string;
}

/**
 * What the gradient walk recorded about a node it built (see `Graph.gradientInfo`).
 * A gradient is an ordinary node; this is how inspection, hooks and anomaly
 * mode find which forward node it belongs to.
 */
export interface GradientInfo {
  /**
   * The forward nodes whose full (fan-in summed) gradient this node is. Usually
   * one; several when a grad rule passes its `dy` on unchanged (add, biasAdd).
   * Empty for an intermediate node of a grad rule.
   */
  readonly of: readonly Node[];
  /** The forward node whose grad rule (or fan-in sum, or seed) built this node. */
  readonly builtFor: Node;
}

export interface VariableOptions {
  /** Trainable variables are what optimizers update. Default true. */
  trainable?: boolean;
}

/**
 * Creates nodes, owns variable values, scopes and a seeded generator.
 * Append-only: nodes are never changed or merged.
 */
export class Graph {
  readonly nodes: Node[] = [];
  readonly rng: Rng;
  readonly seed: number;
  private readonly scopeStack: string[] = [];
  private readonly usedNames = new Set<string>();
  private readonly nextSuffix = new Map<string, number>();
  private readonly byName = new Map<string, Node>();
  /** Values of variables and constants, by node id. */
  private readonly values = new Map<number, Tensor>();
  private readonly trainable = new Set<number>();
  /** Gradient bookkeeping, by gradient node id (filled by the gradient walk). */
  private readonly gradientRecords = new Map<number, { of: Node[]; builtFor: Node }>();
  /** Gradient nodes of each forward node, by forward node id, oldest walk first. */
  private readonly gradientsByForward = new Map<number, Node[]>();

  /** Where variable values live, and the default backend of this graph's sessions. */
  readonly backend: Backend;

  constructor(options: GraphOptions = {}) {
    checkOptionKeys('Graph', options, ['seed', 'backend']);
    this.seed = options.seed ?? 0;
    this.rng = new Rng(this.seed);
    this.backend = resolveBackend(options.backend);
  }

  /** Runs `build` inside a name scope. Scope names are made unique: a second `dense` becomes `dense_1`. */
  scope<T>(name: string, build: () => T): T {
    checkName(name);
    const unique = this.uniqueName(this.qualify(name));
    const local = unique.slice(unique.lastIndexOf('/') + 1);
    this.scopeStack.push(local);
    try {
      return build();
    } finally {
      this.scopeStack.pop();
    }
  }

  /** Runs `build` with the scope path set to exactly `path` (not made unique). Used for gradient scopes. */
  withScopePath<T>(path: string, build: () => T): T {
    const saved = this.scopeStack.splice(0, this.scopeStack.length);
    if (path) this.scopeStack.push(path);
    try {
      return build();
    } finally {
      this.scopeStack.splice(0, this.scopeStack.length, ...saved);
    }
  }

  /** The current scope path, e.g. `lenet/conv1`. */
  get currentScope(): string {
    return this.scopeStack.join('/');
  }

  private qualify(name: string): string {
    const scope = this.currentScope;
    return scope ? `${scope}/${name}` : name;
  }

  private uniqueName(full: string): string {
    let candidate = full;
    // Resume numbering where this base name left off, so n equal names cost O(n), not O(n²).
    let k = this.nextSuffix.get(full) ?? 1;
    while (this.usedNames.has(candidate)) candidate = `${full}_${k++}`;
    this.nextSuffix.set(full, k);
    this.usedNames.add(candidate);
    return candidate;
  }

  /** Adds a node applying `op` to `inputs`. Op builders from `defineOp` call this. */
  addNode<A>(op: OpDef<A>, inputs: readonly Node[], attrs: A, name?: string): Node<A> {
    if (name !== undefined) checkName(name);
    const fullName = this.uniqueName(this.qualify(name ?? op.name));
    for (const [i, input] of inputs.entries()) {
      if (!(input instanceof Node)) throw new GraphError(`${fullName} (op ${op.name}): input ${i} is not a graph node, found ${typeof input}`);
      if (input.graph !== this) throw new GraphError(`${fullName} (op ${op.name}): input ${i} (${input.name}) belongs to another graph`);
    }
    if (op.arity !== undefined && inputs.length !== op.arity) {
      throw new GraphError(`${fullName} (op ${op.name}): expected ${op.arity} inputs, found ${inputs.length}`);
    }
    let spec: TensorSpec;
    try {
      spec = checkSpec(
        op.inferShape(
          inputs.map((n) => n.spec),
          attrs,
        ),
      );
    } catch (e) {
      throw locateError(
        e,
        fullName,
        op.name,
        inputs.map((n) => n.spec),
      );
    }
    const node = new Node<A>(this, this.nodes.length, op, inputs.slice(), attrs, spec.shape.slice(), spec.dtype, fullName);
    this.nodes.push(node);
    this.byName.set(fullName, node);
    return node;
  }

  /** A value fed at run time. Use -1 for dimensions unknown until then (the batch). */
  placeholder(name: string, shape: readonly number[], dtype: DType = 'float32'): Node {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < -1)
        throw new ShapeError(`placeholder ${this.qualify(name)}: dimensions must be integers ≥ 0 or -1 (unknown), found ${formatShape(shape)}`);
    }
    return this.addNode(placeholderOp, [], { shape: shape.slice(), dtype }, name);
  }

  /** A variable holding `initial` (copied). Its value persists across runs; optimizers update it. */
  variable(name: string, initial: Tensor, options: VariableOptions = {}): Node {
    const value = copyInto(initial, this.backend);
    const node = this.addNode(variableOp, [], { shape: value.shape.slice(), dtype: dtypeOf(value) }, name);
    this.values.set(node.id, value);
    if (options.trainable ?? true) this.trainable.add(node.id);
    return node;
  }

  /** A constant tensor (copied) or scalar. */
  constant(value: Tensor | number, options: { name?: string; dtype?: DType } = {}): Node {
    const t = typeof value === 'number' ? makeTensor([value], [], options.dtype ?? 'float32') : copyTensor(value, options.dtype ?? dtypeOf(value));
    const node = this.addNode(constantOp, [], { shape: t.shape.slice(), dtype: dtypeOf(t) }, options.name ?? 'constant');
    this.values.set(node.id, t);
    return node;
  }

  /** The stored value of a variable or constant (the live buffer, not a copy). */
  valueOf(node: Node): Tensor {
    const v = this.values.get(node.id);
    if (!v || node.graph !== this) throw new GraphError(`${node.describe()} is not a variable or constant of this graph`);
    return v;
  }

  /** Replaces a variable's value (copied), checking shape and dtype. */
  assign(node: Node, value: Tensor): void {
    if (node.op.kind !== 'variable') throw new GraphError(`assign: ${node.describe()} is not a variable`);
    if (!shapeMatches(node.shape, value.shape) || dtypeOf(value) !== node.dtype) {
      throw new ShapeError(`assign ${node.name}: expected ${formatShape(node.shape)} ${node.dtype}, found ${formatShape(value.shape)} ${dtypeOf(value)}`);
    }
    const target = this.valueOf(node);
    const src = isContiguous(value) ? value : copyTensor(value);
    target.data.set(src.data.subarray(src.offset, src.offset + src.size));
  }

  variables(): Node[] {
    return this.nodes.filter((n) => n.op.kind === 'variable');
  }

  trainableVariables(): Node[] {
    return this.nodes.filter((n) => this.trainable.has(n.id));
  }

  isTrainable(node: Node): boolean {
    return this.trainable.has(node.id);
  }

  /** The node with this full name. */
  node(name: string): Node {
    const n = this.byName.get(name);
    if (!n) throw new GraphError(`no node named '${name}' in this graph`);
    return n;
  }

  hasNode(name: string): boolean {
    return this.byName.has(name);
  }

  /**
   * Records that the nodes with ids `fromId` up to the newest were built by the
   * gradient walk for `forward` (its grad rule, fan-in sum or seed). Nodes
   * already recorded keep their first owner.
   */
  recordBackward(fromId: number, forward: Node): void {
    for (let id = fromId; id < this.nodes.length; id++) {
      if (!this.gradientRecords.has(id)) this.gradientRecords.set(id, { of: [], builtFor: forward });
    }
  }

  /** Records that `gradient` is the full gradient of the forward node `of` (called by the gradient walk). */
  recordGradient(gradient: Node, of: Node): void {
    let record = this.gradientRecords.get(gradient.id);
    if (!record) this.gradientRecords.set(gradient.id, (record = { of: [], builtFor: of }));
    if (!record.of.includes(of)) record.of.push(of);
    const list = this.gradientsByForward.get(of.id);
    if (!list) this.gradientsByForward.set(of.id, [gradient]);
    else if (!list.includes(gradient)) list.push(gradient);
  }

  /** What the gradient walk recorded about `node`; undefined for a node it did not build. */
  gradientInfo(node: Node): GradientInfo | undefined {
    return this.gradientRecords.get(node.id);
  }

  /** The gradient nodes built for `forward` so far, one per gradient walk that reached it, oldest first. */
  gradientNodesOf(forward: Node): readonly Node[] {
    return this.gradientsByForward.get(forward.id) ?? [];
  }
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.includes('/')) {
    throw new GraphError(`a node or scope name must be a non-empty string without '/', found '${String(name)}'`);
  }
}

/** Adds where an error happened: node name (with scope), op and input specs. */
export function locateError(e: unknown, nodeName: string, opName: string, inputs: TensorSpec[]): Error {
  if (located.has(e as object)) return e as Error;
  const shapes = inputs.map((s) => `${formatShape(s.shape)} ${s.dtype}`).join(', ');
  const where = `${nodeName} (op ${opName}, inputs ${shapes || 'none'})`;
  let error: Error;
  if (e instanceof NdgraphError) {
    const Ctor = e.constructor as new (m: string) => NdgraphError;
    error = new Ctor(`${where}: ${e.message}`);
  } else if (e instanceof Error && BUILT_IN_ERRORS.includes(e.constructor as ErrorConstructor)) {
    // A kernel's own TypeError or RangeError (a custom op's bug, say) keeps its class and gains the node.
    error = new (e.constructor as ErrorConstructor)(`${where}: ${e.message}`, { cause: e });
  } else {
    return e instanceof Error ? e : new Error(`${where}: ${String(e)}`);
  }
  located.add(error);
  return error;
}

const BUILT_IN_ERRORS: ErrorConstructor[] = [Error, TypeError, RangeError, ReferenceError, SyntaxError];
/** Errors that already say where they happened. */
const located = new WeakSet<object>();

/**
 * Runs a builder's option checks and node creation, so that an error thrown
 * before the node exists (an option that does not fit) names the node it
 * would have been: `net/pool (op maxPool): ksize must be ...`.
 */
export function buildingNode<T>(graph: Graph | undefined, op: string, name: string | undefined, build: () => T): T {
  try {
    return build();
  } catch (e) {
    if (!(e instanceof NdgraphError) || located.has(e)) throw e;
    const scope = graph instanceof Graph ? graph.currentScope : '';
    const Ctor = e.constructor as new (m: string) => NdgraphError;
    const error = new Ctor(`${scope ? `${scope}/` : ''}${name ?? op} (op ${op}): ${e.message}`);
    located.add(error);
    throw error;
  }
}

interface SourceAttrs {
  shape: number[];
  dtype: DType;
}

const sourceShape = (_: TensorSpec[], a: SourceAttrs): TensorSpec => ({ shape: a.shape.slice(), dtype: a.dtype });

// Source ops have no kernel: the session takes their values from the feeds or the graph.
const placeholderOp: OpDef<SourceAttrs> = { name: 'placeholder', kind: 'placeholder', arity: 0, inferShape: sourceShape };
const variableOp: OpDef<SourceAttrs> = { name: 'variable', kind: 'variable', arity: 0, inferShape: sourceShape };
const constantOp: OpDef<SourceAttrs> = { name: 'constant', kind: 'constant', arity: 0, inferShape: sourceShape };

export type OpBuilder<A> = ((inputs: readonly Node[], attrs?: A, options?: BuildOptions) => Node<A>) & { readonly def: OpDef<A> };

/**
 * Turns an op definition into a builder: `const swish = defineOp({...}); swish([x])`.
 * Built-in ops are made the same way.
 */
export function defineOp<A = Record<string, never>>(def: OpDef<A>): OpBuilder<A> {
  if (!def || typeof def.name !== 'string' || !def.name) throw new GraphError('defineOp: an op needs a non-empty name');
  if (typeof def.inferShape !== 'function' || typeof def.forward !== 'function') {
    throw new GraphError(`defineOp(${def.name}): inferShape and forward must be functions`);
  }
  definedOps.push(def);
  if (!firstByName.has(def.name)) firstByName.set(def.name, def);
  const build = (inputs: readonly Node[], attrs?: A, options: BuildOptions = {}): Node<A> => {
    if (!Array.isArray(inputs))
      throw new GraphError(
        `${def.name}: expected an array of input nodes, found ${inputs instanceof Node ? `the single node ${(inputs as Node).name} (wrap it in [ ])` : typeof inputs}`,
      );
    const graph = options.graph ?? inputs[0]?.graph;
    if (!graph) throw new GraphError(`${def.name}: an op without inputs needs options.graph`);
    return graph.addNode(def, inputs, (attrs ?? {}) as A, options.name);
  };
  return Object.assign(build, { def });
}

const definedOps: OpDef[] = [];
/** The first op defined under each name: kernels registered by name belong to it (a later op reusing the name gets none). */
const firstByName = new Map<string, OpDef>();

/** Every op made with `defineOp` so far, in definition order (for kernel tables and coverage tests). */
export function registeredOps(): readonly OpDef[] {
  return definedOps;
}

/** True when `op` is the op that kernels registered under its name belong to. */
export function ownsOpName(op: OpDef): boolean {
  return firstByName.get(op.name) === op;
}

/** A copy of `t` (row-major) in memory of `backend`. */
function copyInto(t: Tensor, backend: Backend): Tensor {
  const compact = isContiguous(t) ? t : copyTensor(t);
  const data = backend.allocate(dtypeOf(compact), compact.size);
  data.set(compact.data.subarray(compact.offset, compact.offset + compact.size));
  return wrap(data, compact.shape.slice());
}

/**
 * Throws a GraphError naming every key of `options` that is not in `known`:
 * a misspelled or unsupported option is an error, never silently ignored.
 */
export function checkOptionKeys(where: string, options: object | undefined, known: readonly string[]): void {
  if (options === undefined || options === null) return;
  if (typeof options !== 'object') throw new GraphError(`${where}: expected an options object, found ${typeof options}`);
  const unknown = Object.keys(options).filter((k) => !known.includes(k) && (options as Record<string, unknown>)[k] !== undefined);
  if (unknown.length) {
    throw new GraphError(
      `${where}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}; expected ${known.map((k) => `'${k}'`).join(', ')}`,
    );
  }
}

/** A shape rule's result, checked: integer dims ≥ 0 (or -1 for unknown) and a known dtype. */
function checkSpec(spec: TensorSpec): TensorSpec {
  if (!spec || !Array.isArray(spec.shape) || !spec.shape.every((d) => Number.isInteger(d) && d >= -1)) {
    throw new ShapeError(`the shape rule returned shape ${JSON.stringify(spec?.shape)}; expected integer dimensions ≥ 0 (or -1 for unknown)`);
  }
  if (!['float32', 'float64', 'int32'].includes(spec.dtype))
    throw new DTypeError(`the shape rule returned dtype ${JSON.stringify(spec.dtype)}; expected float32, float64 or int32`);
  return spec;
}
