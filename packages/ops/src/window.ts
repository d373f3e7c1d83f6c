/**
 * The window rules of conv2d and pooling (NHWC), at the op level: their
 * attributes and options, output sizes and padding, and the shape rules
 * their forward and backward ops share, so each op checks shapes the same
 * way. (The geometry a kernel walks is kernels/geometry.ts.)
 *
 * 'valid': only windows that fit inside the input, out = floor((in − k) / stride) + 1.
 * 'same' (TensorFlow's rule): out = ceil(in / stride), padded with
 *   padTotal  = max((out − 1)·stride + k − in, 0)
 *   padBefore = floor(padTotal / 2)   (the extra cell, if any, goes after)
 * With 'same' every window holds at least one real input cell.
 *
 */
import { checkOptionKeys, GraphError, ShapeError, formatShape, type TensorSpec } from '@ndgraph/graph';
import { expectFloat, expectSameFloat } from './util.ts';

export type Padding = 'same' | 'valid';

/** Attributes of a 2-D sliding window, as stored on conv and pool nodes (plain JSON). */
export interface WindowAttrs {
  strides: [number, number];
  padding: Padding;
}

/** Attributes of a pooling window. */
export interface PoolAttrs extends WindowAttrs {
  ksize: [number, number];
}

/** What users pass to conv2d: strides as one number or a pair (default 1). */
export interface Conv2dOptions {
  strides?: number | [number, number];
  padding: Padding;
}

/** What users pass to the pools: strides default to the window size, padding to 'valid'. */
export interface PoolOptions {
  ksize: number | [number, number];
  strides?: number | [number, number];
  padding?: Padding;
}

/** Accepts `n` or `[a, b]` and returns a pair of positive integers. */
export function toWindowPair(value: number | readonly number[] | undefined, what: string, fallback?: [number, number]): [number, number] {
  if (value === undefined && fallback) return [fallback[0], fallback[1]];
  const pair = typeof value === 'number' ? [value, value] : Array.isArray(value) && value.length === 2 ? [value[0], value[1]] : undefined;
  if (!pair?.every((v) => Number.isInteger(v) && v > 0)) {
    throw new GraphError(`${what} must be a positive integer or a pair of them, found ${JSON.stringify(value)}`);
  }
  return [pair[0], pair[1]];
}

export function checkPadding(padding: unknown): Padding {
  if (padding !== 'same' && padding !== 'valid') throw new GraphError(`padding must be 'same' or 'valid', found ${JSON.stringify(padding)}`);
  return padding;
}

/** Conv2d options → the attributes stored on the node. Unknown keys are an error, never ignored. */
export function conv2dAttrs(options: Conv2dOptions, op = 'conv2d'): WindowAttrs {
  if (!options || typeof options !== 'object') throw new GraphError(`${op} options must be an object { strides?, padding }, found ${JSON.stringify(options)}`);
  checkOptionKeys(op, options, ['strides', 'padding']);
  return { strides: toWindowPair(options.strides, 'strides', [1, 1]), padding: checkPadding(options.padding) };
}

/** Pool options → the attributes stored on the node. Unknown keys (beyond `extraKeys`) are an error. */
export function poolAttrs(options: PoolOptions, op = 'pool', extraKeys: readonly string[] = []): PoolAttrs {
  if (!options || typeof options !== 'object')
    throw new GraphError(`${op} options must be an object { ksize, strides?, padding? }, found ${JSON.stringify(options)}`);
  checkOptionKeys(op, options, ['ksize', 'strides', 'padding', ...extraKeys]);
  const ksize = toWindowPair(options.ksize, 'ksize');
  return { ksize, strides: toWindowPair(options.strides, 'strides', ksize), padding: checkPadding(options.padding ?? 'valid') };
}

/** Checks attributes handed straight to an op builder (they must already be normalized). */
export function checkWindowAttrs(attrs: WindowAttrs, withKsize = false): void {
  const isPair = (v: unknown) => Array.isArray(v) && v.length === 2 && v.every((d) => Number.isInteger(d) && d > 0);
  if (!attrs || !isPair(attrs.strides)) throw new GraphError(`attrs.strides must be a pair of positive integers, found ${JSON.stringify(attrs?.strides)}`);
  checkPadding(attrs.padding);
  if (withKsize && !isPair((attrs as PoolAttrs).ksize))
    throw new GraphError(`attrs.ksize must be a pair of positive integers, found ${JSON.stringify((attrs as PoolAttrs).ksize)}`);
}

/** Output size along one dimension. An unknown input size (-1) gives -1. */
export function convOutputSize(inSize: number, kernel: number, stride: number, padding: Padding): number {
  if (inSize < 0) return -1;
  if (padding === 'same') return Math.ceil(inSize / stride);
  if (inSize < kernel) return 0;
  return Math.floor((inSize - kernel) / stride) + 1;
}

/** Padding before the first cell along one dimension (0 for 'valid'). */
export function convPadBefore(inSize: number, kernel: number, stride: number, padding: Padding): number {
  if (padding === 'valid') return 0;
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + kernel - inSize, 0);
  return Math.floor(total / 2);
}

/**
 * Output height and width of a window op on an NHWC shape (dims may be -1).
 * Throws a ShapeError when a 'valid' window does not fit.
 */
export function windowOutputSize(inShape: readonly number[], kernel: readonly [number, number], attrs: WindowAttrs, what: string): [number, number] {
  const [, h, w] = inShape;
  const [kh, kw] = kernel;
  if (attrs.padding === 'valid') {
    if (h >= 0 && h < kh)
      throw new ShapeError(`${what} height ${h} is smaller than the window height ${kh} with 'valid' padding (input ${formatShape(inShape)})`);
    if (w >= 0 && w < kw)
      throw new ShapeError(`${what} width ${w} is smaller than the window width ${kw} with 'valid' padding (input ${formatShape(inShape)})`);
  }
  return [convOutputSize(h, kh, attrs.strides[0], attrs.padding), convOutputSize(w, kw, attrs.strides[1], attrs.padding)];
}

/**
 * conv2d's shape rule: x [N,H,W,Cin] and filter [kh,kw,Cin,Cout] give
 * [N,Ho,Wo,Cout]. Unknown dims (-1) stay unknown.
 */
export function conv2dOutputShape(x: readonly number[], filter: readonly number[], attrs: WindowAttrs): number[] {
  if (x.length !== 4) throw new ShapeError(`input must have rank 4 [batch,height,width,channels], found ${formatShape(x)}`);
  if (filter.length !== 4) throw new ShapeError(`filter must have rank 4 [height,width,inChannels,outChannels], found ${formatShape(filter)}`);
  if (filter.some((d) => d < 0)) throw new ShapeError(`filter dimensions must be known, found ${formatShape(filter)}`);
  if (x[3] >= 0 && x[3] !== filter[2]) throw new ShapeError(`input channels ${x[3]} do not match filter ${formatShape(filter)}`);
  const [outHeight, outWidth] = windowOutputSize(x, [filter[0], filter[1]], attrs, 'input');
  return [x[0], outHeight, outWidth, filter[3]];
}

/** A pool's shape rule: x [N,H,W,C] gives [N,Ho,Wo,C]. */
export function poolOutputShape(x: readonly number[], attrs: PoolAttrs): number[] {
  if (x.length !== 4) throw new ShapeError(`input must have rank 4 [batch,height,width,channels], found ${formatShape(x)}`);
  const [outHeight, outWidth] = windowOutputSize(x, attrs.ksize, attrs, 'input');
  return [x[0], outHeight, outWidth, x[3]];
}

/** The shape rule of maxPool and avgPool: float x [N,H,W,C] gives [N,Ho,Wo,C] of the same dtype. */
export function poolSpec(x: TensorSpec, attrs: PoolAttrs): TensorSpec {
  checkWindowAttrs(attrs, true);
  const dtype = expectFloat(x, 'x');
  return { shape: poolOutputShape(x.shape, attrs), dtype };
}

/** The shape rule of a pool's input gradient (`forward` names the pool): dy [N,Ho,Wo,C], x [N,H,W,C] give x's shape. */
export function poolGradSpec(dy: TensorSpec, x: TensorSpec, attrs: PoolAttrs, forward: string): TensorSpec {
  checkWindowAttrs(attrs, true);
  const dtype = expectSameFloat([dy, x], ['dy', 'x']);
  return { shape: checkWindowGradientShape(dy.shape, poolOutputShape(x.shape, attrs), x.shape, forward), dtype };
}

/**
 * For backward ops: checks that `dy` has the forward output's shape (dims
 * agree where known) and returns `like`'s shape with an unknown batch taken
 * from dy when dy knows it.
 */
export function checkWindowGradientShape(dy: readonly number[], expected: readonly number[], like: readonly number[], forward: string): number[] {
  const agrees = dy.length === expected.length && dy.every((d, i) => d < 0 || expected[i] < 0 || d === expected[i]);
  if (!agrees) throw new ShapeError(`dy must have the ${forward} output shape ${formatShape(expected)}, found ${formatShape(dy)}`);
  const shape = like.slice();
  if (shape[0] < 0) shape[0] = dy[0];
  return shape;
}
