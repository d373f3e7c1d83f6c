/**
 * reluGrad(dy, x) = dy where x > 0, else 0: the backward kernel of relu
 * (and of the relu part of leakyRelu and elu). relu'(0) = 0 by convention.
 * Shapes of dy and x are the same (it is built with NumPy broadcasting, like
 * every binary elementwise op).
 * Since relu(x) > 0 exactly where x > 0, relu's output can stand in for x
 * (the fused conv2dBiasRelu and matmulBiasRelu ops pass their output).
 * Gradient: for dy, reluGrad(ddy, x) (the op is linear in dy); for x, none:
 * the mask is piecewise constant in x, so its derivative is 0 wherever it exists.
 * Kernel: WebAssembly SIMD for float32 inputs of one shape, else the
 * broadcasting TypeScript kernel.
 */
import { defineOp, shapeSize, type Node } from '@ndgraph/graph';
import { defineBinary } from '../elementwise.ts';
import { reluGradWasm } from '../kernels/wasm/elementwise-wasm.ts';
import { reduceToShape } from './reduce-to-shape.ts';

const broadcasting = defineBinary(
  {
    name: 'reluGrad',
    fn: (dy, x) => (x > 0 ? dy : 0),
    grad: (c, ddy, _dy, x) => [c.needsGrad(0) ? reluGrad(ddy, x) : null, null],
  },
  reduceToShape,
);

export const reluGradOp = defineOp<Record<string, never>>({
  ...broadcasting.def,
  forward(inputs, attrs, ctx) {
    const [dy, x] = inputs;
    if (dy.data instanceof Float32Array && x.data instanceof Float32Array && dy.size === x.size && dy.size === shapeSize(ctx.outputSpec.shape)) {
      const out = ctx.output();
      if (reluGradWasm(dy.data, dy.offset, x.data, x.offset, out.data as Float32Array, out.offset, out.size)) return out;
    }
    return broadcasting.def.forward(inputs, attrs, ctx);
  },
});

export const reluGrad = (dy: Node, x: Node, name?: string): Node => reluGradOp([dy, x], {}, { name });
