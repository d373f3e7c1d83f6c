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
 *
 * Two optional extras, registered the way the built-in ops register theirs:
 * a fused kernel for biasAdd → swish that sessions plan by themselves (a
 * fusion rule), and a float32 kernel of it for the 'wasm' backend (the
 * default), next to its JavaScript `forward`.
 */
import { defineOp, DTypeError, type Kernel, ShapeError, formatShape, type Node, registerFusionRule, registerKernel, type TensorSpec } from '@ndgraph/graph';

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

/**
 * swish(x + bias), bias [C] along the last axis: the fused kernel for the
 * chain biasAdd → swish. It writes its output once instead of twice, with the
 * same bits as the two ops (the sum is rounded to the dtype before swish, as
 * biasAdd stores it). No builder and no gradient rule: it only exists in
 * plans, after gradients are built on the plain chain.
 */
export const biasAddSwishOp = defineOp({
  name: 'biasAddSwish',
  arity: 2,
  inferShape: ([x]) => floatLike(x, 'x'), // the bias was checked by biasAdd when the graph was built
  forward([x, bias], _attrs, ctx) {
    const out = ctx.output();
    const channels = bias.size;
    for (let i = 0; i < out.size; i++) {
      out.data[i] = x.data[x.offset + i] + bias.data[bias.offset + (i % channels)];
      const v = out.data[i];
      out.data[i] = v * sigmoid(v);
    }
    return out;
  },
});

/**
 * The fusion rule: a swish whose input is a biasAdd that nothing else needs
 * (not fetched or hooked, no other consumer) runs as biasAddSwish. In training
 * swishGrad reads the sum too, so the planner keeps the two nodes there; in
 * evaluation runs they fuse.
 */
registerFusionRule({
  name: 'biasAdd + swish',
  root: 'swish',
  into: 'biasAddSwish',
  match(node, canAbsorb) {
    const sum = node.inputs[0];
    if (sum.op.name !== 'biasAdd' || !canAbsorb(sum)) return null;
    return { op: biasAddSwishOp.def, attrs: {}, inputs: sum.inputs, absorbs: [sum] };
  },
});

/**
 * A kernel of biasAddSwish for the 'wasm' backend, which runs float32 values:
 * a loop over Float32Arrays (a real one would call into WebAssembly). float64,
 * and every other backend, run the op's `forward`.
 */
const biasAddSwishFloat32: Kernel = ([x, bias], _attrs, ctx) => {
  const out = ctx.output();
  const [xs, bs, ys] = [x.data as Float32Array, bias.data as Float32Array, out.data as Float32Array];
  const channels = bias.size;
  for (let i = 0; i < out.size; i++) {
    ys[i] = xs[x.offset + i] + bs[bias.offset + (i % channels)];
    const v = ys[i];
    ys[i] = v * sigmoid(v);
  }
  return out;
};
registerKernel('biasAddSwish', 'wasm', biasAddSwishFloat32);
