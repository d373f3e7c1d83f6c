/**
 * batchNormGradGamma(sums, gamma): the gradient of batchNorm with respect to
 * gamma,
 *
 *   dgamma[c] = Σ dy·x̂   (row 1 of batchNormGradSums, in gamma's dtype)
 *
 * Shape: sums float64 [2, C]; gamma [C], read only for its shape and dtype.
 * Result: gamma's shape and dtype.
 *
 * Gradient: none (asking for one makes `gradients` throw, naming this op).
 */
import { defineOp, type Node } from '@ndgraph/graph';
import { channelRow, parameterGradientShape, SUM_ROWS } from './batch-norm-shared.ts';

export const batchNormGradGammaOp = defineOp({
  name: 'batchNormGradGamma',
  arity: 2,
  inferShape: ([sums, gamma]) => parameterGradientShape(sums, gamma, 'gamma'),
  forward([sums], _attrs, ctx) {
    const out = ctx.output();
    out.data.set(channelRow(sums, SUM_ROWS.dyXhat), out.offset);
    return out;
  },
});

export const batchNormGradGamma = (sums: Node, gamma: Node, name?: string): Node => batchNormGradGammaOp([sums, gamma], {}, { name });
