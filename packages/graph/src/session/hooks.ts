/** The callbacks registered with `Session.hook`, by node, and how they are called. */
import { GraphError } from '../errors.ts';
import type { Node } from '../graph.ts';
import type { Tensor } from '../tensor.ts';

/**
 * Callbacks on one node, called during every run of the session that computes it
 * (see `Session.hook`). Each runs right after the value is computed and before
 * any consumer reads it, so a hook may change the tensor in place (clip,
 * rescale, zero out) and every downstream node and the fetched value then see
 * the changed numbers. A value that is a view of another (reshape, flatten)
 * shares its buffer, so changing it changes that one too. The tensor is only
 * valid during the call: copy it to keep it. A hooked node is never fused
 * away: the planner keeps it a node of its own.
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

export class HookTable {
  private readonly valueHooks = new Map<number, NodeHooks[]>();
  private readonly gradientHooks = new Map<number, NodeHooks[]>();

  /** True when no hook is registered (runs then skip hook work entirely). */
  get empty(): boolean {
    return this.valueHooks.size === 0 && this.gradientHooks.size === 0;
  }

  /** Registers `hooks` on `node`; returns the function that removes them. */
  add(node: Node, hooks: NodeHooks): () => void {
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

  /** True when a callback wants `node`'s value: its own value hook, or a gradient hook of a node it is the gradient of. */
  wants(node: Node): boolean {
    if (this.valueHooks.has(node.id)) return true;
    if (!this.gradientHooks.size) return false;
    return node.graph.gradientInfo(node)?.of.some((forward) => this.gradientHooks.has(forward.id)) ?? false;
  }

  /** Calls the value hooks of `node` and the gradient hooks of the forward nodes it is the gradient of. */
  call(node: Node, value: Tensor): void {
    const own = this.valueHooks.get(node.id);
    if (own) for (const h of own.slice()) h.value!(value, node);
    if (!this.gradientHooks.size) return;
    const info = node.graph.gradientInfo(node);
    if (!info) return;
    for (const forward of info.of) {
      const list = this.gradientHooks.get(forward.id);
      if (list) for (const h of list.slice()) h.gradient!(value, forward, node);
    }
  }
}
