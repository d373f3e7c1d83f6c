/**
 * matmulBiasRelu(x, w, bias) = relu(x·w + bias): the forward pass of a dense
 * layer with a bias and a relu as ONE node. Fused: the bias add and the relu
 * are applied as each tile of the product is stored (float32, WebAssembly
 * SIMD), so the layer writes its output once instead of three times. Its
 * value is the layer's activation; the pre-activation is not stored.
 *   y[n, j] = max(0, bias[j] + Σ_k x[n, k] · w[k, j])
 * Shape: x [N, in], w [in, out], bias [out] → [N, out].
 * Gradient: with dz = reluGrad(dy, y) — dy where the output is positive (y > 0
 * exactly where the pre-activation is; relu'(0) = 0) —
 *   dx = dz·wᵀ, dw = xᵀ·dz (matmuls), dbias = biasAddGrad(dz).
 */
import { defineOp, ShapeError, formatShape, type FloatArray, type Node } from '@ndgraph/graph';
import { biasAddReference } from '../kernels/bias-relu.ts';
import { gemmFast } from '../kernels/gemm-fast.ts';
import { gemmBiasReluWasm } from '../kernels/wasm/gemm-wasm.ts';
import { dimsAgree, expectRank, expectSameFloat, mergeDim } from '../util.ts';
import { biasAddGrad } from './bias-add-grad.ts';
import { matmul } from './matmul.ts';
import { reluGrad } from './relu-grad.ts';

export const matmulBiasReluOp = defineOp<Record<string, never>>({
  name: 'matmulBiasRelu',
  arity: 3,
  inferShape([x, w, bias]) {
    const dtype = expectSameFloat([x, w, bias], ['x', 'w', 'bias']);
    expectRank(x, 2, 'x');
    expectRank(w, 2, 'w');
    if (!dimsAgree(x.shape[1], w.shape[0])) throw new ShapeError(`inner dimensions do not match: x ${formatShape(x.shape)} · w ${formatShape(w.shape)} (${x.shape[1]} vs ${w.shape[0]})`);
    if (bias.shape.length !== 1 || !dimsAgree(bias.shape[0], w.shape[1])) {
      throw new ShapeError(`bias must have shape [${w.shape[1] < 0 ? '?' : w.shape[1]}] (w's columns), found ${formatShape(bias.shape)}`);
    }
    return { shape: [x.shape[0], mergeDim(w.shape[1], bias.shape[0])], dtype };
  },
  forward([x, w, bias], _attrs, ctx) {
    const out = ctx.output();
    const [m, k] = x.shape;
    const n = w.shape[1];
    if (x.data instanceof Float32Array && w.data instanceof Float32Array && bias.data instanceof Float32Array) {
      if (gemmBiasReluWasm(false, false, m, n, k, x.data, x.offset, k, w.data, w.offset, n, bias.data, bias.offset, true, out.data as Float32Array, out.offset)) return out;
    }
    const outData = out.data as FloatArray;
    gemmFast(false, false, m, n, k, 1, x.data as FloatArray, x.offset, k, w.data as FloatArray, w.offset, n, 0, outData, out.offset, n);
    biasAddReference(outData, out.offset, bias.data as FloatArray, bias.offset, true, outData, out.offset, out.size, n);
    return out;
  },
  grad(ctx, dy, node) {
    const [x, w] = node.inputs;
    const dz = reluGrad(dy, node);
    return [
      ctx.needsGrad(0) ? matmul(dz, w, { transposeB: true }) : null,
      ctx.needsGrad(1) ? matmul(x, dz, { transposeA: true }) : null,
      ctx.needsGrad(2) ? biasAddGrad(dz) : null,
    ];
  },
});

/** relu(x·w + bias) as one fused node: a dense layer with a relu. */
export const matmulBiasRelu = (x: Node, w: Node, bias: Node, name?: string): Node => matmulBiasReluOp([x, w, bias], {}, { name });
