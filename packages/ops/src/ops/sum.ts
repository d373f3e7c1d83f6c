/**
 * sum(x, { axes, keepDims }): sums x over `axes` (default: all; negative
 * axes count from the end). With keepDims the reduced dims stay as size 1,
 * otherwise they are dropped (summing everything gives a scalar []).
 * Gradient: dy broadcast back to x's shape: expandDims first restores the
 * dropped dims (its shape comes from dy at run time, so unknown batch dims
 * work), then broadcastTo x.
 */
import { buildingNode, checkOptionKeys, defineOp, ShapeError, wrap, type Node, type RunContext, type Tensor, type TensorSpec } from '@ndgraph/graph';
import { sumToShapeKernel } from '../kernels/js/broadcast.ts';
import { expectFloat } from '../util.ts';
import { broadcastTo } from './broadcast-to.ts';
import { expandDims } from './expand-dims.ts';

export interface ReduceOptions {
  /** Axes to reduce; default all. Negative axes count from the end. */
  axes?: readonly number[];
  /** Keep reduced dims as size 1. Default false. */
  keepDims?: boolean;
}

export interface ReduceAttrs {
  axes?: number[];
  keepDims?: boolean;
}

/** Reduction axes as sorted non-negative indices; throws on out-of-range or repeated axes. */
export function normalizeReduceAxes(axes: readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const seen = new Set<number>();
  for (const a of axes) {
    if (!Number.isInteger(a) || a < -rank || a >= rank) {
      throw new ShapeError(`axis ${a} is out of range for rank ${rank} (expected an integer in [${-rank}, ${rank - 1}])`);
    }
    const k = a < 0 ? a + rank : a;
    if (seen.has(k)) throw new ShapeError(`axis ${a} is repeated in axes [${axes.join(',')}] (rank ${rank})`);
    seen.add(k);
  }
  return [...seen].sort((p, q) => p - q);
}

/** The shape after reducing `axes` (normalized), with or without the kept size-1 dims. */
export function reducedShape(shape: readonly number[], axes: readonly number[], keepDims: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, k) => {
    if (!axes.includes(k)) out.push(d);
    else if (keepDims) out.push(1);
  });
  return out;
}

/**
 * Writes the sums of x over `axes`, divided by `divisor` (mean passes the
 * count), into `out` (any shape of the right size). float32 sums are
 * accumulated in a float64 scratch buffer and rounded once, so that long
 * reductions (a batch mean) do not lose precision.
 */
export function sumOverAxes(x: Tensor, axes: readonly number[], out: Tensor, ctx: RunContext, divisor = 1): void {
  const keptShape = reducedShape(x.shape, axes, true);
  // float64 outputs accumulate in place (the kernel below writes from index 0, so only at offset 0).
  const inPlace = out.data instanceof Float64Array && out.offset === 0;
  const accumulator = inPlace ? wrap(out.data, keptShape) : ctx.scratch(keptShape, 'float64');
  if (accumulator.size === 1) {
    // Everything goes into one sum: a plain loop.
    let s = 0;
    for (let i = 0; i < x.size; i++) s += x.data[x.offset + i];
    accumulator.data[accumulator.offset] = s;
  } else {
    sumToShapeKernel(x, accumulator); // sums x over the dims where keptShape is 1
  }
  for (let i = 0; i < out.size; i++) out.data[out.offset + i] = accumulator.data[accumulator.offset + i] / divisor;
}

/** The shape rule of sum and mean. */
export function reduceShapeRule([x]: TensorSpec[], attrs: ReduceAttrs): TensorSpec {
  const dtype = expectFloat(x, 'x');
  if (attrs.axes !== undefined && !Array.isArray(attrs.axes)) throw new ShapeError(`axes must be an array of integers, found ${typeof attrs.axes}`);
  const axes = normalizeReduceAxes(attrs.axes, x.shape.length);
  return { shape: reducedShape(x.shape, axes, attrs.keepDims ?? false), dtype };
}

/** Shared by sum and mean: dy (reduced shape) broadcast back to x's shape. */
export function broadcastReduced(dy: Node, x: Node, attrs: ReduceAttrs): Node {
  const axes = normalizeReduceAxes(attrs.axes, x.rank);
  const kept = attrs.keepDims || axes.length === 0 ? dy : expandDims(dy, axes);
  return broadcastTo(kept, x);
}

export const sumOp = defineOp<ReduceAttrs>({
  name: 'sum',
  arity: 1,
  inferShape: reduceShapeRule,
  forward([x], attrs, ctx) {
    const out = ctx.output();
    sumOverAxes(x, normalizeReduceAxes(attrs.axes, x.shape.length), out, ctx);
    return out;
  },
  grad: (_ctx, dy, node) => [broadcastReduced(dy, node.inputs[0], node.attrs)],
});

/** Attrs as stored on the node: only what was given, so exported graphs stay small. */
export function reduceAttrs(options: ReduceOptions, op = 'sum'): ReduceAttrs {
  checkOptionKeys(op, options, ['axes', 'keepDims']);
  const attrs: ReduceAttrs = {};
  if (options.axes !== undefined) attrs.axes = [...options.axes];
  if (options.keepDims !== undefined) attrs.keepDims = options.keepDims;
  return attrs;
}

export const sum = (x: Node, options: ReduceOptions = {}, name?: string): Node =>
  buildingNode(x?.graph, 'sum', name, () => sumOp([x], reduceAttrs(options), { name }));
