/**
 * sigmoidGrad(dy, y) = dy·y·(1 − y), where y = sigmoid(x): sigmoid's backward
 * pass in one kernel. Its own gradient keeps second derivatives working:
 *   ∂/∂dy = y·(1 − y)       → sigmoidGrad(g, y)
 *   ∂/∂y  = dy·(1 − 2y)     → g·dy·(1 − 2y)
 */
import { defineOp, onesLike, type Node } from '@ndgraph/graph';
import { elementwiseGradSpec } from '../util.ts';
import { mul } from './mul.ts';
import { scale } from './scale.ts';
import { sub } from './sub.ts';

export const sigmoidGradOp = defineOp<Record<string, never>>({
  name: 'sigmoidGrad',
  arity: 2,
  inferShape: ([dy, y]) => elementwiseGradSpec(dy, y),
  forward([dy, y], _attrs, ctx) {
    const out = ctx.output();
    const o = out.data,
      g = dy.data,
      v = y.data;
    for (let i = 0; i < out.size; i++) {
      const s = v[y.offset + i];
      o[i] = g[dy.offset + i] * s * (1 - s);
    }
    return out;
  },
  grad: (ctx, g, node) => {
    const [dy, y] = node.inputs;
    return [ctx.needsGrad(0) ? sigmoidGrad(g, y) : null, ctx.needsGrad(1) ? mul(mul(g, dy), sub(onesLike([y]), scale(y, 2))) : null];
  },
});

export const sigmoidGrad = (dy: Node, y: Node, name?: string): Node => sigmoidGradOp([dy, y], {}, { name });
