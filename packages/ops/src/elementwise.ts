/**
 * Builders for elementwise ops, so each op file states only its formula and
 * its gradient. Binary ops broadcast (NumPy rules).
 */
import { defineOp, type GradContext, type Node, type OpBuilder } from '@ndgraph/graph';
import { broadcastBinary, type BinaryFn } from './kernels/js/broadcast.ts';
import { broadcastShapes, expectFloat, expectSameFloat, sameAs } from './util.ts';

export interface BinaryDef {
  name: string;
  fn: BinaryFn;
  /** Gradients for a and b at the output shape; the builder reduces them to each input's shape. */
  grad?: (ctx: GradContext, dy: Node, a: Node, b: Node, y: Node) => [Node | null, Node | null];
}

export function defineBinary(def: BinaryDef, reduce: (g: Node, like: Node) => Node): OpBuilder<Record<string, never>> {
  const { fn } = def;
  return defineOp<Record<string, never>>({
    name: def.name,
    arity: 2,
    inferShape([a, b]) {
      const dtype = expectSameFloat([a, b], ['a', 'b']);
      return { shape: broadcastShapes(a.shape, b.shape), dtype };
    },
    forward([a, b], _attrs, ctx) {
      const out = ctx.output();
      broadcastBinary(a, b, out, fn);
      return out;
    },
    grad: def.grad
      ? (ctx, dy, node) => {
          const [a, b] = node.inputs;
          const [ga, gb] = def.grad!(ctx, dy, a, b, node);
          return [ga && ctx.needsGrad(0) ? reduce(ga, a) : null, gb && ctx.needsGrad(1) ? reduce(gb, b) : null];
        }
      : undefined,
  });
}

export interface UnaryDef<A> {
  name: string;
  /** y = fn(x). Written as a loop so the kernel has no per-element call overhead where it matters. */
  forward: (x: ArrayLike<number>, xOffset: number, y: { [i: number]: number }, n: number, attrs: A) => void;
  grad?: (ctx: GradContext, dy: Node, x: Node, y: Node, attrs: A) => Node | null;
  /** Checks the attributes when a node is built; throw a GraphError saying what was expected and found. */
  checkAttrs?: (attrs: A) => void;
}

export function defineUnary<A = Record<string, never>>(def: UnaryDef<A>): OpBuilder<A> {
  return defineOp<A>({
    name: def.name,
    arity: 1,
    inferShape([x], attrs) {
      expectFloat(x, 'x');
      def.checkAttrs?.(attrs);
      return sameAs(x);
    },
    forward([x], attrs, ctx) {
      const out = ctx.output();
      def.forward(x.data, x.offset, out.data, out.size, attrs);
      return out;
    },
    grad: def.grad ? (ctx, dy, node) => [def.grad!(ctx, dy, node.inputs[0], node, node.attrs)] : undefined,
  });
}
