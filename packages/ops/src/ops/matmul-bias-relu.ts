/**
 * matmulBiasRelu(x, w, bias) = relu(x·w + bias): the fused kernel the planner
 * runs for the chain matmul → biasAdd → relu of a dense layer (see
 * fusion-rules.ts). It exists only in plans, never in a user's graph, so it
 * has no builder and no gradient rule. The wasm kernel adds the bias and
 * applies the relu as each tile of the product is stored.
 * Shape: x [N, K], w [K, M], bias [M] → [N, M] (no transposes).
 * Kernels: js (here), wasm.
 */
import { defineOp, formatShape, ShapeError, type FloatArray } from '@ndgraph/graph';
import { biasAddKernel } from '../kernels/js/bias-relu.ts';
import { gemm } from '../kernels/js/gemm.ts';
import { dimsAgree, expectRank, expectSameFloat, mergeDim } from '../util.ts';

export const matmulBiasReluOp = defineOp<Record<string, never>>({
  name: 'matmulBiasRelu',
  arity: 3,
  inferShape([x, w, bias]) {
    const dtype = expectSameFloat([x, w, bias], ['x', 'w', 'bias']);
    expectRank(x, 2, 'x');
    expectRank(w, 2, 'w');
    if (!dimsAgree(x.shape[1], w.shape[0]))
      throw new ShapeError(`inner dimensions do not match: x ${formatShape(x.shape)} · w ${formatShape(w.shape)} (${x.shape[1]} vs ${w.shape[0]})`);
    if (bias.shape.length !== 1 || !dimsAgree(bias.shape[0], w.shape[1])) {
      throw new ShapeError(`bias must have shape [${w.shape[1] < 0 ? '?' : w.shape[1]}] (w's columns), found ${formatShape(bias.shape)}`);
    }
    return { shape: [x.shape[0], mergeDim(w.shape[1], bias.shape[0])], dtype };
  },
  forward([x, w, bias], _attrs, ctx) {
    const out = ctx.output();
    const [m, k] = x.shape;
    const n = w.shape[1];
    const outData = out.data as FloatArray;
    gemm(false, false, m, n, k, 1, x.data as FloatArray, x.offset, k, w.data as FloatArray, w.offset, n, 0, outData, out.offset, n);
    biasAddKernel(outData, out.offset, bias.data as FloatArray, bias.offset, true, outData, out.offset, out.size, n);
    return out;
  },
});
