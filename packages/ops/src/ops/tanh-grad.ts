/**
 * tanhGrad(dy, y) = dy·(1 − y²), where y = tanh(x): tanh's backward pass in
 * one kernel (one node and one pass over memory instead of four).
 * Its own gradient keeps second derivatives working:
 *   ∂/∂dy = (1 − y²)        → tanhGrad(g, y)
 *   ∂/∂y  = −2·y·dy         → g·(−2·y·dy)
 */
import { defineOp, type Node } from '@ndgraph/graph';
import { elementwiseGradSpec } from '../util.ts';
import { mul } from './mul.ts';
import { scale } from './scale.ts';

export const tanhGradOp = defineOp<Record<string, never>>({
  name: 'tanhGrad',
  arity: 2,
  inferShape: ([dy, y]) => elementwiseGradSpec(dy, y),
  forward([dy, y], _attrs, ctx) {
    const out = ctx.output();
    const o = out.data,
      g = dy.data,
      v = y.data;
    for (let i = 0; i < out.size; i++) {
      const t = v[y.offset + i];
      o[i] = g[dy.offset + i] * (1 - t * t);
    }
    return out;
  },
  grad: (ctx, g, node) => {
    const [dy, y] = node.inputs;
    return [ctx.needsGrad(0) ? tanhGrad(g, y) : null, ctx.needsGrad(1) ? mul(g, scale(mul(y, dy), -2)) : null];
  },
});

export const tanhGrad = (dy: Node, y: Node, name?: string): Node => tanhGradOp([dy, y], {}, { name });
