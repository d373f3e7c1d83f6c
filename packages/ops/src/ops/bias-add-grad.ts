/**
 * biasAddGrad(dy): for dy [..., C], the sum over every leading axis, shape
 * [C]: the gradient of biasAdd with respect to its bias. float32 sums are
 * accumulated in float64.
 * Gradient: ddb [C] broadcast back to dy's shape (broadcastTo).
 */
import { defineOp, ShapeError, formatShape, type Node } from '@ndgraph/graph';
import { expectFloat } from '../util.ts';
import { broadcastTo } from './broadcast-to.ts';

export const biasAddGradOp = defineOp<Record<string, never>>({
  name: 'biasAddGrad',
  arity: 1,
  inferShape([dy]) {
    const dtype = expectFloat(dy, 'dy');
    if (dy.shape.length < 1) throw new ShapeError(`dy must have rank ≥ 1 (channels last), found ${formatShape(dy.shape)}`);
    return { shape: [dy.shape[dy.shape.length - 1]], dtype };
  },
  forward([dy], _attrs, ctx) {
    const out = ctx.output();
    const channels = out.size;
    const sums = ctx.scratch([channels], 'float64').data;
    sums.fill(0);
    const g = dy.data;
    for (let row = dy.offset, end = dy.offset + dy.size; row < end; row += channels) {
      for (let c = 0; c < channels; c++) sums[c] += g[row + c];
    }
    for (let c = 0; c < channels; c++) out.data[c] = sums[c];
    return out;
  },
  grad: (_ctx, ddb, node) => [broadcastTo(ddb, node.inputs[0])],
});

export const biasAddGrad = (dy: Node, name?: string): Node => biasAddGradOp([dy], {}, { name });
