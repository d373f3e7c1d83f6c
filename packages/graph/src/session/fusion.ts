/**
 * Fusion, a rewrite pass of session planning. Users build the plain graph
 * (`conv2d → biasAdd → relu`); when a session plans a run, each rule may
 * compute a node with one fused op instead, absorbing nodes it depends on.
 * A node is absorbed only when nothing else needs its value: it is not
 * fetched, fed or hooked, and its only consumer in the run is the pattern
 * itself. The graph users see, inspect and export is never changed; only the
 * plan is. Rules come from the op packages (`registerFusionRule`).
 */
import { GraphError } from '../errors.ts';
import type { Node, OpDef } from '../graph.ts';

/** How one node is computed instead: `op` applied to `inputs` with `attrs`, absorbing `absorbs`. */
export interface Fusion {
  readonly op: OpDef;
  readonly attrs: unknown;
  readonly inputs: readonly Node[];
  readonly absorbs: readonly Node[];
}

export interface FusionRule {
  readonly name: string;
  /** The op name of the node a match starts from (the last node of the pattern). */
  readonly root: string;
  /** The op name a match computes the pattern with (for tables and docs). */
  readonly into: string;
  /** The fusion for `node` when the pattern matches, else null. Absorb only nodes for which `canAbsorb` is true. */
  match(node: Node, canAbsorb: (n: Node) => boolean): Fusion | null;
}

const rulesByRoot = new Map<string, FusionRule[]>();

/** Adds a fusion rule to every session planned from now on. */
export function registerFusionRule(rule: FusionRule): void {
  if (!rule || typeof rule.match !== 'function' || typeof rule.root !== 'string') throw new GraphError('registerFusionRule: expected { name, root, match }');
  const list = rulesByRoot.get(rule.root);
  if (list) list.push(rule);
  else rulesByRoot.set(rule.root, [rule]);
}

/** Every registered rule, for tables and docs. */
export function fusionRules(): FusionRule[] {
  return [...rulesByRoot.values()].flat();
}

/**
 * The fusions of a run's nodes (`order`, topological), by root node id.
 * `keep(n)` is true for nodes whose own value is wanted (fetched, fed, hooked).
 * Roots are tried from the last node back, so the longest pattern ending at
 * a node claims its nodes first.
 */
export function planFusions(order: readonly Node[], keep: (n: Node) => boolean): { fusions: Map<number, Fusion>; absorbed: Set<number> } {
  const fusions = new Map<number, Fusion>();
  const absorbed = new Set<number>();
  if (!rulesByRoot.size) return { fusions, absorbed };
  const inRun = new Set(order.map((n) => n.id));
  const uses = new Map<number, number>();
  for (const n of order) for (const x of n.inputs) uses.set(x.id, (uses.get(x.id) ?? 0) + 1);
  const canAbsorb = (n: Node) => inRun.has(n.id) && n.op.kind === undefined && !keep(n) && uses.get(n.id) === 1 && !absorbed.has(n.id) && !fusions.has(n.id);
  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i];
    if (absorbed.has(node.id) || node.op.kind !== undefined) continue;
    for (const rule of rulesByRoot.get(node.op.name) ?? []) {
      const fusion = rule.match(node, canAbsorb);
      if (!fusion) continue;
      for (const n of fusion.absorbs) {
        if (!canAbsorb(n)) throw new GraphError(`fusion rule ${rule.name} absorbed ${n.describe()}, which is needed elsewhere`);
        absorbed.add(n.id);
      }
      fusions.set(node.id, fusion);
      break;
    }
  }
  return { fusions, absorbed };
}
