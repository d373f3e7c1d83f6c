/**
 * The few ops the engine itself needs to build gradients: summing fan-in
 * (`addN`) and seeding with ones. Everything else lives in @ndgraph/ops.
 */
import { DTypeError, ShapeError } from './errors.ts';
import { defineOp, type Node } from './graph.ts';
import { formatShape, type TensorSpec } from './tensor.ts';

function sameSpec(inputs: TensorSpec[]): TensorSpec {
  const first = inputs[0];
  if (!first) throw new ShapeError('expected at least one input');
  for (const [i, s] of inputs.entries()) {
    if (s.dtype !== first.dtype) throw new DTypeError(`input ${i} is ${s.dtype}, expected ${first.dtype} like input 0`);
    const fits = s.shape.length === first.shape.length && s.shape.every((d, k) => d < 0 || first.shape[k] < 0 || d === first.shape[k]);
    if (!fits) throw new ShapeError(`input ${i} has shape ${formatShape(s.shape)}, expected ${formatShape(first.shape)} like input 0`);
  }
  // Prefer known dims over unknown ones.
  const shape = first.shape.map((d, k) => (d >= 0 ? d : Math.max(...inputs.map((s) => s.shape[k]))));
  return { shape, dtype: first.dtype };
}

/** Elementwise sum of any number of same-shape tensors. */
export const addN = defineOp<Record<string, never>>({
  name: 'addN',
  inferShape: (inputs) => sameSpec(inputs),
  forward(inputs, _attrs, ctx) {
    const out = ctx.output();
    const o = out.data;
    const n = out.size;
    const a = inputs[0];
    for (let i = 0; i < n; i++) o[i] = a.data[a.offset + i];
    for (let k = 1; k < inputs.length; k++) {
      const b = inputs[k];
      for (let i = 0; i < n; i++) o[i] += b.data[b.offset + i];
    }
    return out;
  },
  grad: (_ctx, dy, node) => node.inputs.map(() => dy),
});

/** A tensor of ones shaped like its input (only the shape is read). */
export const onesLike = defineOp<Record<string, never>>({
  name: 'onesLike',
  arity: 1,
  inferShape: ([x]) => ({ shape: x.shape.slice(), dtype: x.dtype }),
  forward(_inputs, _attrs, ctx) {
    const out = ctx.output();
    out.data.fill(1);
    return out;
  },
  grad: () => [null],
});

/** A tensor of zeros shaped like its input. */
export const zerosLike = defineOp<Record<string, never>>({
  name: 'zerosLike',
  arity: 1,
  inferShape: ([x]) => ({ shape: x.shape.slice(), dtype: x.dtype }),
  forward: (_inputs, _attrs, ctx) => ctx.outputZeros(),
  grad: () => [null],
});

/** Sums gradient contributions; a single one passes through unchanged. */
export function sumAll(terms: Node[]): Node {
  if (terms.length === 1) return terms[0];
  return addN(terms);
}
