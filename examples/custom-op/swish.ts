/**
 * A custom op, defined exactly like the built-in ones:
 *
 *   swish(x) = x · σ(x)           (Ramachandran et al., 2017; σ is the logistic sigmoid)
 *   swish'(x) = σ(x) + x·σ(x)·(1 − σ(x))
 *
 * `defineOp` takes the shape rule, the forward kernel and the gradient rule.
 * The gradient is itself an op (`swishGrad`), so it shows up as a node you can
 * fetch and inspect like any other.
 */
import { defineOp, DTypeError, type Node, type TensorSpec } from '@ndgraph/graph';

const sigmoid = (v: number) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));

function floatLike(x: TensorSpec): TensorSpec {
  if (x.dtype === 'int32') throw new DTypeError(`swish needs a float tensor, found ${x.dtype}`);
  return { shape: x.shape.slice(), dtype: x.dtype };
}

/** dx = dy · swish'(x). Inputs: [dy, x]. */
export const swishGrad = defineOp({
  name: 'swishGrad',
  arity: 2,
  inferShape: ([dy]) => floatLike(dy),
  forward([dy, x], _attrs, ctx) {
    const out = ctx.output(); // the engine plans and reuses this buffer
    for (let i = 0; i < out.size; i++) {
      const v = x.data[x.offset + i];
      const s = sigmoid(v);
      out.data[i] = dy.data[dy.offset + i] * (s + v * s * (1 - s));
    }
    return out;
  },
});

export const swishOp = defineOp({
  name: 'swish',
  arity: 1,
  inferShape: ([x]) => floatLike(x),
  forward([x], _attrs, ctx) {
    const out = ctx.output();
    for (let i = 0; i < out.size; i++) {
      const v = x.data[x.offset + i];
      out.data[i] = v * sigmoid(v);
    }
    return out;
  },
  // One entry per input: the gradient with respect to x.
  grad: (_ctx, dy, node) => [swishGrad([dy, node.inputs[0]])],
});

/** The friendly builder: `swish(x)`. */
export const swish = (x: Node, name?: string): Node => swishOp([x], {}, { name });
