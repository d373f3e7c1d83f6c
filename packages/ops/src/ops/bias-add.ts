/**
 * biasAdd(x, b): x [..., C] plus b [C] along the last (channel) axis, as in
 * dense (N, C) and NHWC conv (N, H, W, C) layers.
 * Gradient: dy for x; biasAddGrad(dy) (dy summed over every leading axis) for b.
 * Kernels: js (here), wasm.
 */
import { defineOp, ShapeError, formatShape, type FloatArray, type Node } from '@ndgraph/graph';
import { biasAddKernel } from '../kernels/js/bias-relu.ts';
import { dimsAgree, expectSameFloat, mergeDim } from '../util.ts';
import { biasAddGrad } from './bias-add-grad.ts';

export const biasAddOp = defineOp<Record<string, never>>({
  name: 'biasAdd',
  arity: 2,
  inferShape([x, b]) {
    const dtype = expectSameFloat([x, b], ['x', 'bias']);
    if (x.shape.length < 1) throw new ShapeError(`x must have rank ≥ 1 with channels last, found ${formatShape(x.shape)}`);
    const channels = x.shape[x.shape.length - 1];
    if (b.shape.length !== 1 || !dimsAgree(b.shape[0], channels)) {
      throw new ShapeError(`bias must have shape [${channels < 0 ? '?' : channels}] (x's last dim), found ${formatShape(b.shape)}`);
    }
    const shape = x.shape.slice();
    shape[shape.length - 1] = mergeDim(channels, b.shape[0]);
    return { shape, dtype };
  },
  forward([x, b], _attrs, ctx) {
    const out = ctx.output();
    biasAddKernel(x.data as FloatArray, x.offset, b.data as FloatArray, b.offset, false, out.data as FloatArray, out.offset, out.size, b.size);
    return out;
  },
  grad: (ctx, dy) => [ctx.needsGrad(0) ? dy : null, ctx.needsGrad(1) ? biasAddGrad(dy) : null],
});

export const biasAdd = (x: Node, b: Node, name?: string): Node => biasAddOp([x, b], {}, { name });
