/**
 * Planning a run: once per set of fetches and feeds, the session finds the
 * nodes the fetches need (iterative topological sort), lets the fusion rules
 * rewrite them, chooses each step's kernel on the session's backend, and
 * works out liveness, so a buffer goes back to the pool right after its last
 * consumer.
 */
import type { Backend, Kernel } from '../backend.ts';
import { GraphError } from '../errors.ts';
import { type Node, type OpDef, ownsOpName } from '../graph.ts';
import { type Fusion, planFusions } from './fusion.ts';

/** One step of a plan: computes `node`'s value, running `kernel` of `op` (the node's own op, or a fused one). */
export interface Step {
  readonly node: Node;
  readonly op: OpDef;
  readonly attrs: unknown;
  /** Null for fed nodes and source ops (their values come from the feeds or the graph). */
  readonly kernel: Kernel | null;
  /** Plan indices of the step's inputs. */
  readonly inputs: readonly number[];
  readonly fed: boolean;
}

export interface Plan {
  readonly steps: readonly Step[];
  /** Plan index of each node id computed by a step. */
  readonly position: ReadonlyMap<number, number>;
  /** Steps after which a value is no longer needed: releaseAfter[step] = plan indices. */
  readonly releaseAfter: readonly (readonly number[])[];
  /** When the run computes gradients through ops that depend on the mode: their nodes (for the warning of an eval-mode gradient run). */
  readonly modeDependentNodes: readonly Node[];
}

export interface PlanOptions {
  backend: Backend;
  /** Let the fusion rules rewrite the run. */
  fuse: boolean;
  /** True for nodes whose own value is wanted beyond the fetches (hooked). */
  wanted: (n: Node) => boolean;
}

/** Topological order of what `targets` need (iterative DFS, so deep chains do not overflow the stack). */
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

export function buildPlan(fetches: readonly Node[], fed: ReadonlySet<number>, options: PlanOptions): Plan {
  const order = topologicalOrder(fetches, fed);
  const fetched = new Set(fetches.map((f) => f.id));
  const keep = (n: Node) => fetched.has(n.id) || fed.has(n.id) || options.wanted(n);
  const { fusions, absorbed } = options.fuse ? planFusions(order, keep) : { fusions: new Map<number, Fusion>(), absorbed: new Set<number>() };

  const position = new Map<number, number>();
  const steps: Step[] = [];
  for (const node of order) {
    if (absorbed.has(node.id)) continue;
    const fusion = fusions.get(node.id);
    const op = fusion?.op ?? node.op;
    const inputs = fed.has(node.id) ? [] : (fusion?.inputs ?? node.inputs).map((x: Node) => position.get(x.id)!);
    const kernel = fed.has(node.id) || op.kind !== undefined ? null : chooseKernel(op, node, options.backend);
    position.set(node.id, steps.length);
    steps.push({ node, op, attrs: fusion ? fusion.attrs : node.attrs, kernel, inputs, fed: fed.has(node.id) });
  }

  const lastUse = new Array<number>(steps.length).fill(-1);
  steps.forEach((s, i) => s.inputs.forEach((k) => (lastUse[k] = i)));
  const releaseAfter: number[][] = steps.map(() => []);
  lastUse.forEach((step, k) => {
    if (step >= 0 && !fetched.has(steps[k].node.id)) releaseAfter[step].push(k);
  });
  const computesGradients = steps.some((s) => s.node.graph.gradientInfo(s.node) !== undefined);
  const modeDependentNodes = computesGradients ? steps.filter((s) => s.op.dependsOnMode).map((s) => s.node) : [];
  return { steps, position, releaseAfter, modeDependentNodes };
}

/**
 * The kernel that runs `op` for `node` on `backend`: the backend's own for the
 * node's dtype (or its `kernelDtypeInput`'s) when it has one, else the op's
 * JavaScript kernel. Kernels
 * registered by name belong to the first op defined with that name, so a
 * user's op that reuses a built-in name never runs the built-in's kernel.
 */
export function chooseKernel(op: OpDef, node: Node, backend: Backend): Kernel {
  const dtype = op.kernelDtypeInput === undefined ? node.dtype : node.inputs[op.kernelDtypeInput].dtype;
  const own = ownsOpName(op) ? backend.kernel<Kernel>(op.name, dtype) : undefined;
  if (own) return own;
  if (!op.forward) throw new GraphError(`${node.describe()}: op ${op.name} has no kernel`);
  return op.forward;
}
