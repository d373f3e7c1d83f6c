/**
 * expandDims(x, axes): x viewed with size-1 dims inserted at the given output
 * positions (axes of the output, sorted, each in [0, rank(x) + axes.length)).
 * The other dims are x's own, read at run time, so unknown dims stay
 * unknown. The gradients of sum and mean use it to give the reduced dy back
 * its kept dims before broadcasting. A view of x's buffer (no copy).
 * Gradient: reshapeLike(dy, x).
 */
import { defineOp, ShapeError, formatShape, wrap, type Node } from '@ndgraph/graph';
import { expectFloat } from '../util.ts';
import { reshapeLike } from './reshape-like.ts';

export interface ExpandDimsAttrs {
  axes: number[];
}

export const expandDimsOp = defineOp<ExpandDimsAttrs>({
  name: 'expandDims',
  arity: 1,
  inferShape([x], { axes }) {
    const dtype = expectFloat(x, 'x');
    const rank = x.shape.length + axes.length;
    axes.forEach((a, i) => {
      if (!Number.isInteger(a) || a < 0 || a >= rank || (i > 0 && a <= axes[i - 1])) {
        throw new ShapeError(`expandDims: axes must be increasing integers in [0, ${rank}) for input ${formatShape(x.shape)}, found [${axes.join(',')}]`);
      }
    });
    const shape: number[] = [];
    let next = 0;
    for (let k = 0; k < rank; k++) shape.push(axes.includes(k) ? 1 : x.shape[next++]);
    return { shape, dtype };
  },
  forward([x], _attrs, ctx) {
    return wrap(x.data, ctx.outputSpec.shape, x.offset);
  },
  grad: (_ctx, dy, node) => [reshapeLike(dy, node.inputs[0])],
});

export const expandDims = (x: Node, axes: readonly number[], name?: string): Node => expandDimsOp([x], { axes: axes.slice() }, { name });
