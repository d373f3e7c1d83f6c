/**
 * reluGrad(dy, x) = dy where x > 0, else 0: the backward kernel of relu
 * (and of the relu part of leakyRelu and elu). relu'(0) = 0 by convention.
 * Shapes of dy and x are the same (it is built with NumPy broadcasting, like
 * every binary elementwise op).
 * Since relu(x) > 0 exactly where x > 0, relu's output can stand in for x
 * (relu's own gradient rule passes its output).
 * Gradient: for dy, reluGrad(ddy, x) (the op is linear in dy); for x, none:
 * the mask is piecewise constant in x, so its derivative is 0 wherever it exists.
 * Kernels: js (broadcasting, here), wasm (operands of one shape).
 */
import type { Node } from '@ndgraph/graph';
import { defineBinary } from '../elementwise.ts';
import { reduceToShape } from './reduce-to-shape.ts';

export const reluGradOp = defineBinary(
  {
    name: 'reluGrad',
    fn: (dy, x) => (x > 0 ? dy : 0),
    grad: (c, ddy, _dy, x) => [c.needsGrad(0) ? reluGrad(ddy, x) : null, null],
  },
  reduceToShape,
);

export const reluGrad = (dy: Node, x: Node, name?: string): Node => reluGradOp([dy, x], {}, { name });
