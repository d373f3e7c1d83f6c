/**
 * relu(x) = max(x, 0), elementwise. NaN passes through (so anomaly checks see it).
 * Gradient: reluGrad(dy, x) = dy where x > 0, else 0. Convention: relu'(0) = 0.
 * Kernel: WebAssembly SIMD for float32, plain TypeScript otherwise.
 */
import type { FloatArray, Node } from '@ndgraph/graph';
import { defineUnary } from '../elementwise.ts';
import { reluReference } from '../kernels/bias-relu.ts';
import { reluWasm } from '../kernels/wasm/elementwise-wasm.ts';
import { reluGrad } from './relu-grad.ts';

export const reluOp = defineUnary({
  name: 'relu',
  forward(x, o, y, n) {
    if (x instanceof Float32Array && y instanceof Float32Array && reluWasm(x, o, y, 0, n)) return;
    reluReference(x as FloatArray, o, y as FloatArray, 0, n);
  },
  grad: (_c, dy, x) => reluGrad(dy, x),
});

export const relu = (x: Node, name?: string): Node => reluOp([x], {}, { name });
