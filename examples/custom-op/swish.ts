/**
 * A custom op, defined exactly like the built-in ones:
 *
 *   swish(x)  = x · σ(x)                      (Ramachandran et al., 2017; σ is the logistic sigmoid)
 *   swish'(x) = σ(x) + x · σ(x) · (1 − σ(x))
 *
 * Shape rule: the output has the input's shape and dtype (float32 or float64).
 * swish is smooth everywhere, so there is no convention to choose at a kink
 * (unlike relu'(0)).
 *
 * `defineOp` takes the shape rule, the forward kernel and the gradient rule.
 * The gradient is itself an op (`swishGrad`), so it shows up as a node you can
 * fetch and inspect like any other. swishGrad has no grad rule of its own:
 * second derivatives through swish raise a GradientError naming it.
 */
import { defineOp, DTypeError, ShapeError, formatShape, type Node, type TensorSpec } from '@ndgraph/graph';

/** σ(v) written so that exp never overflows: for large |v| it saturates to 0 or 1. */
const sigmoid = (v: number) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));

function floatLike(x: TensorSpec, what: string): TensorSpec {
  if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new DTypeError(`${what} must be float32 or float64, found ${x.dtype}`);
  return { shape: x.shape.slice(), dtype: x.dtype };
}

/** dx = dy · swish'(x). Inputs: [dy, x], same shape and dtype. */
export const swishGrad = defineOp({
  name: 'swishGrad',
  arity: 2,
  inferShape([dy, x]) {
    const out = floatLike(dy, 'dy');
    // Shapes are checked at build time (where -1 means "not known yet") and again at run time.
    const agree = dy.shape.length === x.shape.length && dy.shape.every((d, i) => d < 0 || x.shape[i] < 0 || d === x.shape[i]);
    if (!agree || dy.dtype !== x.dtype)
      throw new ShapeError(`dy ${formatShape(dy.shape)} ${dy.dtype} and x ${formatShape(x.shape)} ${x.dtype} must have the same shape and dtype`);
    return out;
  },
  forward([dy, x], _attrs, ctx) {
    const out = ctx.output(); // the engine plans and reuses this buffer: write every element
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
  inferShape: ([x]) => floatLike(x, 'x'),
  forward([x], _attrs, ctx) {
    const out = ctx.output();
    for (let i = 0; i < out.size; i++) {
      const v = x.data[x.offset + i];
      out.data[i] = v * sigmoid(v);
    }
    return out;
  },
  // One entry per input: the gradient with respect to x, built as a node.
  grad: (_ctx, dy, node) => [swishGrad([dy, node.inputs[0]])],
});

/** The friendly builder: `swish(x)`. It fits anywhere an activation `(x: Node) => Node` does. */
export const swish = (x: Node, name?: string): Node => swishOp([x], {}, { name });
