/**
 * A model is a function of graph nodes: `(inputs: Node) => logits`. `Model`
 * is the small object around one that the training loop, `predict` and
 * `saveModel` take: a name, the builder, and — for models a spec can rebuild
 * (the sequential builder, the named built-ins) — a JSON architecture spec.
 *
 *   const net: Model = model('tiny', (x) => layers.dense(layers.flatten(x), 10));
 *   new Trainer(config, data, net);
 */
import { formatShape, GraphError, type Node } from '@ndgraph/graph';

export type ModelBuilder = (inputs: Node) => Node;

/** A JSON description of an architecture: `{ kind, ... }` that `modelFromSpec` rebuilds. */
export interface ModelSpec {
  readonly kind: string;
  readonly [key: string]: unknown;
}

export interface Model {
  readonly name: string;
  /** Adds the model's nodes to the inputs' graph and returns the logits [N, classes]. */
  build(inputs: Node): Node;
  /** The architecture as JSON, when a spec can rebuild it (saved with the weights). */
  readonly spec?: ModelSpec;
}

/** A Model around a builder function. */
export function model(name: string, build: ModelBuilder, spec?: ModelSpec): Model {
  if (typeof name !== 'string' || !name) throw new GraphError(`model: expected a non-empty name, found ${JSON.stringify(name)}`);
  if (typeof build !== 'function') throw new GraphError(`model ${name}: expected a builder (inputs: Node) => Node, found ${describe(build)}`);
  return spec ? { name, build, spec } : { name, build };
}

/** True for a Model object or a builder function. */
export function isModelLike(value: unknown): value is Model | ModelBuilder {
  return typeof value === 'function' || (typeof value === 'object' && value !== null && typeof (value as Model).build === 'function');
}

/** `value` as a Model (a builder function is wrapped); anything else is a GraphError naming `where`. */
export function asModel(value: unknown, where: string): Model {
  if (typeof value === 'function') return model(value.name || 'model', value as ModelBuilder);
  if (isModelLike(value)) {
    const m = value as Model;
    return model(typeof m.name === 'string' && m.name ? m.name : 'model', (x) => m.build(x), m.spec);
  }
  throw new GraphError(`${where}: expected a model — a builder (inputs: Node) => Node, or a Model { name, build(inputs) } — found ${describe(value)}`);
}

const specBuilders = new Map<string, (spec: ModelSpec) => Model>();

/** Lets `modelFromSpec` rebuild models of `kind` (the built-ins register themselves). */
export function registerModelKind(kind: string, fromSpec: (spec: ModelSpec) => Model): void {
  specBuilders.set(kind, fromSpec);
}

/**
 * The model an architecture spec describes, for kinds registered with
 * `registerModelKind` (import '@ndgraph/nn', or models/from-spec.ts, to have
 * the built-in kinds registered).
 */
export function modelFromRegisteredSpec(spec: unknown, where = 'model spec'): Model {
  if (typeof spec !== 'object' || spec === null || typeof (spec as ModelSpec).kind !== 'string') {
    throw new GraphError(`${where}: expected an architecture spec { kind, ... }, found ${describe(spec)}`);
  }
  const kind = (spec as ModelSpec).kind;
  const fromSpec = specBuilders.get(kind);
  if (!fromSpec) throw new GraphError(`${where}: unknown model kind '${kind}'; known: ${[...specBuilders.keys()].join(', ')}`);
  return fromSpec(spec as ModelSpec);
}

/** Checks what a builder returned: a node of the inputs' graph with shape [N, classes]. */
export function checkLogits(logits: unknown, inputs: Node, name: string, classes?: number): Node {
  const isNode = typeof logits === 'object' && logits !== null && 'op' in logits && 'graph' in logits;
  if (!isNode) throw new GraphError(`model ${name}: the builder must return the logits node, found ${describe(logits)}`);
  const node = logits as Node;
  if (node.graph !== inputs.graph) throw new GraphError(`model ${name}: the logits node ${node.name} belongs to another graph than the inputs`);
  if (node.rank !== 2) throw new GraphError(`model ${name}: expected logits of shape [N, classes], found ${node.name} ${formatShape(node.shape)}`);
  if (classes !== undefined && node.shape[1] >= 0 && node.shape[1] < classes) {
    throw new GraphError(`model ${name}: the logits ${node.name} have ${node.shape[1]} classes, but the labels go up to ${classes - 1}`);
  }
  return node;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (Array.isArray(x)) return `an array of ${x.length}`;
  if (typeof x === 'object') return `an object with keys ${JSON.stringify(Object.keys(x))}`;
  return `${typeof x} ${String(x).slice(0, 40)}`;
}
