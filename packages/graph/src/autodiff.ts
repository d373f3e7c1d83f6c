import { isFloatDType } from './dtype.ts';
import { GradientError, GraphError } from './errors.ts';
import type { GradContext, Node } from './graph.ts';
import { onesLike, sumAll, zerosLike } from './core-ops.ts';
import { topologicalOrder } from './session/plan.ts';
import { formatShape, shapeMatches, shapeSize } from './tensor.ts';

export interface GradientOptions {
  /** The gradient flowing into `y` (its shape). Default: ones, which needs a scalar `y`. */
  dy?: Node;
}

/**
 * Reverse-mode gradients of `y` with respect to each of `xs`, as graph nodes.
 * Any node can be an x: a variable, a placeholder or an intermediate. An x that
 * `y` does not depend on gets a zeros node.
 */
export function gradients(y: Node, xs: readonly Node[], options: GradientOptions = {}): Node[] {
  const all = buildGradients(y, xs, options);
  return xs.map((x) => {
    const known = all.get(x);
    if (known) return known;
    const zero = y.graph.withScopePath(`gradients/${x.name}`, () => zerosLike([x], {}, { name: 'unconnected' }));
    y.graph.recordGradient(zero, x);
    return zero;
  });
}

/**
 * Gradients of `y` with respect to every node on a path from a float placeholder
 * or trainable variable to `y`: the per-node view used for inspection.
 */
export function allGradients(y: Node, options: GradientOptions = {}): Map<Node, Node> {
  const sources = topologicalOrder([y]).filter(
    (n) => isFloatDType(n.dtype) && (n.op.kind === 'placeholder' || (n.op.kind === 'variable' && n.graph.isTrainable(n))),
  );
  return buildGradients(y, sources, options);
}

/** The core walk: returns the summed gradient node of every relevant node. */
function buildGradients(y: Node, xs: readonly Node[], options: GradientOptions): Map<Node, Node> {
  const graph = y.graph;
  // Nodes from here on are built by this walk; only they go in the graph's gradient registry
  // (a caller's `dy` stays what it was, say a constant).
  const walkStart = graph.nodes.length;
  for (const x of xs) {
    if (x.graph !== graph) throw new GraphError(`gradients: ${x.name} belongs to another graph than ${y.name}`);
  }
  let seed: Node;
  if (options.dy) {
    if (!shapeMatches(y.shape, options.dy.shape) || options.dy.dtype !== y.dtype) {
      throw new GradientError(
        `gradients: dy must match ${y.name} ${formatShape(y.shape)} ${y.dtype}, found ${formatShape(options.dy.shape)} ${options.dy.dtype}`,
      );
    }
    seed = options.dy;
  } else {
    if (y.shape.some((d) => d < 0) || shapeSize(y.shape) !== 1) {
      throw new GradientError(`gradients: ${y.name} must be a scalar (one element) to differentiate without dy, found shape ${formatShape(y.shape)}`);
    }
    if (!isFloatDType(y.dtype)) throw new GradientError(`gradients: ${y.name} is ${y.dtype}; only float tensors have gradients`);
    const firstNew = graph.nodes.length;
    seed = graph.withScopePath(`gradients/${y.name}`, () => onesLike([y], {}, { name: 'seed' }));
    graph.recordBackward(firstNew, y);
  }

  // Relevant nodes: ancestors of y (inclusive) that are reached from some x through float nodes.
  const order = topologicalOrder([y]);
  const wanted = new Set(xs.map((x) => x.id));
  const relevant = new Set<number>();
  for (const n of order) {
    if (!isFloatDType(n.dtype)) continue;
    if (wanted.has(n.id) || n.inputs.some((i) => relevant.has(i.id))) relevant.add(n.id);
  }

  const contributions = new Map<number, Node[]>();
  const result = new Map<Node, Node>();
  if (!relevant.has(y.id)) return result;
  contributions.set(y.id, [seed]);

  for (let k = order.length - 1; k >= 0; k--) {
    const node = order[k];
    const terms = contributions.get(node.id);
    if (!terms || !relevant.has(node.id)) continue;
    const scope = `gradients/${node.name}`;
    // Every node built from here to the next forward node belongs to this node's
    // backward pass: the registry lets hooks, anomaly mode and exports find it.
    const firstNew = graph.nodes.length;
    const dy = graph.withScopePath(scope, () => sumAll(terms));
    graph.recordBackward(firstNew, node);
    if (dy.id >= walkStart) graph.recordGradient(dy, node);
    result.set(node, dy);
    const needs = node.inputs.map((i) => relevant.has(i.id));
    if (!needs.some(Boolean)) continue;
    if (!node.op.grad) {
      throw new GradientError(
        `${node.name} (op ${node.op.name}) has no gradient rule, but the gradient of ${y.name} must flow through it (to ${node.inputs
          .filter((_, i) => needs[i])
          .map((n) => n.name)
          .join(', ')})`,
      );
    }
    const ctx: GradContext = { graph, needsGrad: (i) => needs[i] ?? false };
    const beforeRule = graph.nodes.length;
    const grads = graph.withScopePath(scope, () => node.op.grad!(ctx, dy, node));
    graph.recordBackward(beforeRule, node);
    checkGradRule(node, grads);
    grads.forEach((g, i) => {
      if (!g || !needs[i]) return;
      const input = node.inputs[i];
      const list = contributions.get(input.id);
      if (list) list.push(g);
      else contributions.set(input.id, [g]);
    });
  }
  return result;
}

function checkGradRule(node: Node, grads: unknown): asserts grads is (Node | null)[] {
  const where = `grad rule of ${node.name} (op ${node.op.name})`;
  if (!Array.isArray(grads) || grads.length !== node.inputs.length) {
    throw new GradientError(`${where}: expected one entry per input (${node.inputs.length}), found ${Array.isArray(grads) ? grads.length : typeof grads}`);
  }
  grads.forEach((g: Node | null, i) => {
    if (g === null || g === undefined) return;
    const input = node.inputs[i];
    if (typeof g !== 'object' || !('graph' in g) || g.graph !== node.graph) {
      throw new GradientError(`${where}: entry ${i} must be a node of the same graph or null`);
    }
    if (!shapeMatches(input.shape, g.shape) || g.dtype !== input.dtype) {
      throw new GradientError(
        `${where}: gradient for input ${i} (${input.name}) must be ${formatShape(input.shape)} ${input.dtype}, found ${formatShape(g.shape)} ${g.dtype} from ${g.name}`,
      );
    }
  });
}
