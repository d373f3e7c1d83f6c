/**
 * reshape(x, shape): the values of x in row-major order, viewed with a new
 * shape of the same size. One entry of `shape` may be -1: it is inferred from
 * x's size, at run time when x has an unknown (batch) dim, so
 * reshape([-1,4,4,16] → [-1,256]) works for any batch.
 * The output is a view of x's buffer (no copy).
 * Gradient: dy reshaped back to x's shape (reshapeLike when x has unknown dims).
 */
import { defineOp, ShapeError, formatShape, shapeSize, wrap, type Node, type TensorSpec } from '@ndgraph/graph';
import { expectFloat } from '../util.ts';
import { reshapeLike } from './reshape-like.ts';

export interface ReshapeAttrs {
  shape: number[];
}

/** Checks the requested shape: integer dims ≥ 0, at most one -1. */
function checkTarget(target: readonly number[]): void {
  if (!Array.isArray(target)) throw new ShapeError(`reshape: expected the new shape as an array of dims, found ${typeof target}`);
  for (const d of target) {
    if (!Number.isInteger(d) || d < -1) throw new ShapeError(`reshape: dims must be integers ≥ 0, or -1 for one inferred dim, found ${formatShape(target)}`);
  }
  if (target.filter((d) => d === -1).length > 1) throw new ShapeError(`reshape: at most one dim may be -1 (inferred), found ${formatShape(target)}`);
}

/** The output shape for input shape `from`; the -1 stays -1 when `from` has unknown dims. */
export function reshapeTarget(from: readonly number[], target: readonly number[]): number[] {
  checkTarget(target);
  const inferAt = target.indexOf(-1);
  const fixed = shapeSize(target.filter((d) => d !== -1));
  const fromKnown = from.every((d) => d >= 0);
  if (!fromKnown) {
    // Only the known part of x can be checked now: the full size is a multiple of it.
    const knownPart = shapeSize(from.filter((d) => d >= 0));
    if (inferAt < 0 && knownPart > 0 && fixed % knownPart !== 0) {
      throw new ShapeError(
        `cannot reshape ${formatShape(from)} to ${formatShape(target)}: ${fixed} elements is not a multiple of the known dims' ${knownPart}`,
      );
    }
    return target.slice();
  }
  const size = shapeSize(from);
  if (inferAt < 0) {
    if (fixed !== size) throw new ShapeError(`cannot reshape ${formatShape(from)} (${size} elements) to ${formatShape(target)} (${fixed} elements)`);
    return target.slice();
  }
  if (fixed === 0 || size % fixed !== 0) {
    throw new ShapeError(
      `cannot reshape ${formatShape(from)} (${size} elements) to ${formatShape(target)}: ${size} is not divisible by the other dims' product ${fixed}`,
    );
  }
  const out = target.slice();
  out[inferAt] = size / fixed;
  return out;
}

export const reshapeOp = defineOp<ReshapeAttrs>({
  name: 'reshape',
  arity: 1,
  inferShape([x], { shape }): TensorSpec {
    const dtype = expectFloat(x, 'x');
    return { shape: reshapeTarget(x.shape, shape), dtype };
  },
  forward([x], _attrs, ctx) {
    return wrap(x.data, ctx.outputSpec.shape, x.offset);
  },
  grad(_ctx, dy, node) {
    const x = node.inputs[0];
    return [x.shape.every((d) => d >= 0) ? reshape(dy, x.shape) : reshapeLike(dy, x)];
  },
});

export const reshape = (x: Node, shape: readonly number[], name?: string): Node => reshapeOp([x], { shape: shape.slice() }, { name });
