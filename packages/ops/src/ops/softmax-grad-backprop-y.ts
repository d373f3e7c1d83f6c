/**
 * softmaxGradBackpropY(g, dy, y): the gradient of softmaxGrad(dy, y) with
 * respect to y, given the upstream gradient g. From dx_i = y_i (dy_i − s) with
 * s = Σ_j dy_j y_j, row by row (rows = the last axis):
 *
 *   result_k = Σ_i g_i ∂dx_i/∂y_k = g_k (dy_k − s) − dy_k · Σ_i g_i y_i
 *
 * Shape: g, dy and y share one shape; so does the result.
 *
 * Gradient: none (third derivatives of softmax are not supported; asking for
 * one makes `gradients` throw, naming this op).
 */
import { defineOp, ShapeError, formatShape, shapeMatches, type Node, type TensorSpec } from '@ndgraph/graph';
import { expectSameFloat, mergeDim } from '../util.ts';

/** Shape rule shared by the softmax gradient ops: all inputs share one shape and float dtype. */
export function softmaxGradShape(specs: readonly TensorSpec[], names: readonly string[]): TensorSpec {
  const dtype = expectSameFloat(specs, names);
  const first = specs[0];
  if (first.shape.length < 1) throw new ShapeError(`${names[0]} needs at least one axis, found a scalar ${formatShape(first.shape)}`);
  let shape = first.shape.slice();
  specs.forEach((s, i) => {
    if (!shapeMatches(shape, s.shape)) {
      throw new ShapeError(`${names[i]} ${formatShape(s.shape)} must have the shape of ${names[0]} ${formatShape(first.shape)}`);
    }
    shape = shape.map((d, k) => mergeDim(d, s.shape[k]));
  });
  return { shape, dtype };
}

export const softmaxGradBackpropYOp = defineOp<Record<string, never>>({
  name: 'softmaxGradBackpropY',
  arity: 3,
  inferShape: (inputs) => softmaxGradShape(inputs, ['g', 'dy', 'y']),
  forward([g, dy, y], _attrs, ctx) {
    const out = ctx.output();
    const result = out.data;
    const gd = g.data,
      dyd = dy.data,
      yd = y.data;
    const classes = y.shape[y.shape.length - 1];
    const rows = classes === 0 ? 0 : y.size / classes;
    for (let r = 0; r < rows; r++) {
      const start = r * classes;
      const gStart = g.offset + start,
        dyStart = dy.offset + start,
        yStart = y.offset + start;
      let dyDotY = 0;
      let gDotY = 0;
      for (let c = 0; c < classes; c++) {
        dyDotY += dyd[dyStart + c] * yd[yStart + c];
        gDotY += gd[gStart + c] * yd[yStart + c];
      }
      for (let c = 0; c < classes; c++) result[start + c] = gd[gStart + c] * (dyd[dyStart + c] - dyDotY) - dyd[dyStart + c] * gDotY;
    }
    return out;
  },
});

export const softmaxGradBackpropY = (g: Node, dy: Node, y: Node, name?: string): Node => softmaxGradBackpropYOp([g, dy, y], {}, { name });
