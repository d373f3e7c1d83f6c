/**
 * relu(x) = max(x, 0), elementwise. NaN passes through (so anomaly checks see it).
 * Gradient: reluGrad(dy, y) = dy where y > 0, else 0, with y = relu(x): y > 0
 * exactly where x > 0, and reading the output leaves the pre-activation free
 * to be fused away (conv2d → biasAdd → relu). Convention: relu'(0) = 0.
 * Kernels: js (here), wasm.
 */
import type { FloatArray, Node } from '@ndgraph/graph';
import { defineUnary } from '../elementwise.ts';
import { reluKernel } from '../kernels/js/bias-relu.ts';
import { reluGrad } from './relu-grad.ts';

export const reluOp = defineUnary({
  name: 'relu',
  forward: (x, o, y, n) => reluKernel(x as FloatArray, o, y as FloatArray, 0, n),
  grad: (_c, dy, _x, y) => reluGrad(dy, y),
});

export const relu = (x: Node, name?: string): Node => reluOp([x], {}, { name });
