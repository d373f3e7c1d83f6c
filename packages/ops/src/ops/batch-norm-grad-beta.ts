/**
 * batchNormGradBeta(sums, beta): the gradient of batchNorm with respect to
 * beta,
 *
 *   dbeta[c] = Σ dy   (row 0 of batchNormGradSums, in beta's dtype)
 *
 * (summed in float64 with dgamma's sum, in the same pass)
 *
 * Shape: sums float64 [2, C]; beta [C], read only for its shape and dtype.
 * Result: beta's shape and dtype.
 *
 * Gradient: none (asking for one makes `gradients` throw, naming this op).
 */
import { defineOp, type Node } from '@ndgraph/graph';
import { channelRow, parameterGradientShape, SUM_ROWS } from './batch-norm-shared.ts';

export const batchNormGradBetaOp = defineOp({
  name: 'batchNormGradBeta',
  arity: 2,
  inferShape: ([sums, beta]) => parameterGradientShape(sums, beta, 'beta'),
  forward([sums], _attrs, ctx) {
    const out = ctx.output();
    out.data.set(channelRow(sums, SUM_ROWS.dy), out.offset);
    return out;
  },
});

export const batchNormGradBeta = (sums: Node, beta: Node, name?: string): Node => batchNormGradBetaOp([sums, beta], {}, { name });
