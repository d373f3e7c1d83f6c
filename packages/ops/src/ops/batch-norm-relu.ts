/**
 * batchNormRelu(x, gamma, beta, runningMean, runningVar, statistics) =
 * relu(batchNorm(...)): the fused kernel the planner runs for batchNorm →
 * relu (see fusion-rules.ts) when nothing else reads the batchNorm's output.
 * It exists only in plans, never in a user's graph, so it has no builder and
 * no gradient rule: gradients are built on the plain chain (relu's gradient
 * reads relu's output, which this op writes). The normalization and the relu
 * happen in one pass, with the same bits as the two ops; in training it
 * updates the running averages as batchNorm does (the rule fuses only
 * running averages that are variables, which batchNorm checks).
 * Shape: batchNorm's. Kernels: js (here), wasm.
 */
import { defineOp } from '@ndgraph/graph';
import type { BatchNormAttrs } from './batch-norm-shared.ts';
import { batchNormForward, batchNormOpShape } from './batch-norm.ts';

export const batchNormReluOp = defineOp<BatchNormAttrs>({
  name: 'batchNormRelu',
  dependsOnMode: true,
  arity: 6,
  inferShape: batchNormOpShape,
  forward: (inputs, { momentum }, ctx) => batchNormForward(inputs, momentum, true, ctx),
});
