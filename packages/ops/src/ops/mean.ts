/**
 * mean(x, { axes, keepDims }): sum over `axes` divided by n, the number of
 * elements reduced (∏ x.shape[a]); n is read at run time, so a mean over an
 * unknown batch dim divides by the actual batch size. Axes and keepDims as
 * in sum.
 * Gradient: dy/n broadcast back to x's shape (n a constant factor when every
 * reduced dim is known when the graph is built, else divByCount at run time).
 */
import { buildingNode, defineOp, type Node } from '@ndgraph/graph';
import { divByCount } from './div-by-count.ts';
import { scale } from './scale.ts';
import { broadcastReduced, normalizeReduceAxes, reduceAttrs, reduceShapeRule, sumOverAxes, type ReduceAttrs, type ReduceOptions } from './sum.ts';

export const meanOp = defineOp<ReduceAttrs>({
  name: 'mean',
  arity: 1,
  inferShape: reduceShapeRule,
  forward([x], attrs, ctx) {
    const axes = normalizeReduceAxes(attrs.axes, x.shape.length);
    let count = 1;
    for (const a of axes) count *= x.shape[a];
    const out = ctx.output();
    sumOverAxes(x, axes, out, ctx, count); // an empty reduction (count 0) gives NaN, as 0/0 should
    return out;
  },
  grad(_ctx, dy, node) {
    const x = node.inputs[0];
    const axes = normalizeReduceAxes(node.attrs.axes, x.rank);
    const dims = axes.map((a) => x.shape[a]);
    const scaled = dims.every((d) => d >= 0) ? scale(dy, 1 / dims.reduce((p, d) => p * d, 1)) : divByCount(dy, x, axes);
    return [broadcastReduced(scaled, x, node.attrs)];
  },
});

export const mean = (x: Node, options: ReduceOptions = {}, name?: string): Node =>
  buildingNode(x?.graph, 'mean', name, () => meanOp([x], reduceAttrs(options, 'mean'), { name }));
