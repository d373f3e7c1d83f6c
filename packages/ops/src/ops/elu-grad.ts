/**
 * eluGrad(dy, x, { alpha }) = dy for x > 0, dy·alpha·eˣ for x ≤ 0: the
 * backward kernel of elu (elu'(x) = alpha·eˣ = elu(x) + alpha left of 0;
 * convention: at x = 0 the left branch, alpha).
 * Gradient: for dy, eluGrad(ddy, x) (linear in dy); for x, ddy·dy·alpha·eˣ
 * where x ≤ 0 and 0 where x > 0, which is ddy·(eluGrad(dy, x) − reluGrad(dy, x)),
 * so every order of derivative is built from these same ops.
 */
import { defineOp, ShapeError, formatShape, type Node } from '@ndgraph/graph';
import { dimsAgree, expectSameFloat, mergeDim } from '../util.ts';
import { mul } from './mul.ts';
import { reluGrad } from './relu-grad.ts';
import { sub } from './sub.ts';

export interface EluAttrs {
  alpha: number;
}

export const eluGradOp = defineOp<EluAttrs>({
  name: 'eluGrad',
  arity: 2,
  inferShape([dy, x]) {
    const dtype = expectSameFloat([dy, x], ['dy', 'x']);
    if (dy.shape.length !== x.shape.length || !dy.shape.every((d, k) => dimsAgree(d, x.shape[k]))) {
      throw new ShapeError(`dy ${formatShape(dy.shape)} must have the shape of x ${formatShape(x.shape)}`);
    }
    return { shape: dy.shape.map((d, k) => mergeDim(d, x.shape[k])), dtype };
  },
  forward([dy, x], { alpha }, ctx) {
    const out = ctx.output();
    const g = dy.data,
      xs = x.data,
      o = out.data;
    for (let i = 0; i < out.size; i++) {
      const v = xs[x.offset + i];
      o[i] = v > 0 ? g[dy.offset + i] : g[dy.offset + i] * alpha * Math.exp(v);
    }
    return out;
  },
  grad(ctx, ddy, node) {
    const [dy, x] = node.inputs;
    return [ctx.needsGrad(0) ? eluGrad(ddy, x, node.attrs.alpha) : null, ctx.needsGrad(1) ? mul(ddy, sub(node, reluGrad(dy, x))) : null];
  },
});

export const eluGrad = (dy: Node, x: Node, alpha: number, name?: string): Node => eluGradOp([dy, x], { alpha }, { name });
