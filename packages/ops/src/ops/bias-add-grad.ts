/**
 * biasAddGrad(dy): for dy [..., C], the sum over every leading axis, shape
 * [C]: the gradient of biasAdd with respect to its bias. float32 sums are
 * accumulated in float64.
 * Gradient: ddb [C] broadcast back to dy's shape (broadcastTo).
 * Kernels: js (here), wasm (both sum in float64).
 */
import { defineOp, ShapeError, formatShape, type FloatArray, type Node } from '@ndgraph/graph';
import { biasAddGradKernel } from '../kernels/js/bias-relu.ts';
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
    biasAddGradKernel(dy.data as FloatArray, dy.offset, dy.size, out.size, out.data as FloatArray, out.offset);
    return out;
  },
  grad: (_ctx, ddb, node) => [broadcastTo(ddb, node.inputs[0])],
});

export const biasAddGrad = (dy: Node, name?: string): Node => biasAddGradOp([dy], {}, { name });
