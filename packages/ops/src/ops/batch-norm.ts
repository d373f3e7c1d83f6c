/**
 * batchNorm(x, gamma, beta, runningMean, runningVar, { momentum = 0.9, epsilon = 1e-5 })
 *
 *   y = gamma · (x − μ) / √(σ² + ε) + beta        per channel (the last axis, NHWC)
 *
 * Shape: x [N, C] or [N, H, W, C] (any rank ≥ 2, channels last); gamma, beta,
 * runningMean and runningVar are [C]; y has x's shape. Statistics run over
 * every axis but the last: M = x.size / C values per channel.
 *
 * Computed per channel as y = (x − μ)·a + beta with a = gamma/√(σ² + ε),
 * the coefficients made in float64 and rounded once to x's dtype, every step
 * in x's precision (channelAffine).
 *
 * The builder makes two nodes: batchNormStatistics(x, runningMean,
 * runningVar), float64 [3, C] (μ, σ² and 1/√(σ² + ε)), and this op, which
 * takes it as a sixth input. The gradient ops read the same statistics node,
 * so a training step computes the batch moments once.
 *
 * Modes (`ctx.training`, the statistics node's mode rule):
 * - training: μ and σ² are the batch mean and the biased batch variance (÷ M).
 *   The running averages are then updated, TensorFlow's convention:
 *     runningMean ← momentum·runningMean + (1 − momentum)·μ
 *     runningVar  ← momentum·runningVar  + (1 − momentum)·σ²·M/(M − 1)
 *   The running variance takes the UNBIASED batch variance (÷ (M − 1)), as
 *   PyTorch does: it estimates the population variance that eval mode then
 *   divides by. Training needs M ≥ 2 values per channel (with one value the
 *   batch variance says nothing); fewer throw.
 * - eval: μ and σ² are runningMean and runningVar; nothing is updated.
 *
 * THE ONE OP THAT MUTATES ITS INPUTS. In training mode the kernel writes the
 * new running averages into the buffers of its runningMean and runningVar
 * inputs. They are variable values (non-trainable variables), which persist
 * across runs; updating them where the batch statistics are used avoids a
 * separate assign op. To keep this from corrupting anything else, training
 * mode requires both inputs to be variable nodes (a fed placeholder or a
 * computed value would be overwritten) and throws otherwise. Every
 * training-mode run that evaluates this node updates the averages exactly once.
 *
 * Gradient (in both modes, by the same mode rule), with
 * sums = batchNormGradSums(dy, x, statistics) = [Σ dy, Σ dy·x̂] per channel:
 * - x: batchNormGradInput(dy, x, gamma, statistics, sums) — training:
 *   (γ/σ)·(dy − mean(dy) − x̂·mean(dy·x̂)), eval: dy·γ/√(runningVar + ε);
 * - gamma: batchNormGradGamma(sums, gamma) = Σ dy·x̂;
 * - beta: batchNormGradBeta(sums, beta) = Σ dy;
 * - runningMean, runningVar: null. They are state, not parameters: like
 *   TensorFlow's moving averages and PyTorch's buffers they get no gradient,
 *   even in eval mode where y depends on them;
 * - statistics: null (x's gradient above already carries the dependence of
 *   μ and σ on x).
 */
import { buildingNode, checkOptionKeys, GraphError, defineOp, dtypeOf, Node, type RunContext, type Tensor, type TensorSpec } from '@ndgraph/graph';
import { batchNormGradInput } from './batch-norm-grad-input.ts';
import { batchNormGradBeta } from './batch-norm-grad-beta.ts';
import { batchNormGradGamma } from './batch-norm-grad-gamma.ts';
import { batchNormGradSums } from './batch-norm-grad-sums.ts';
import { batchNormStatistics } from './batch-norm-statistics.ts';
import {
  type BatchNormAttrs,
  batchNormShape,
  channelAffine,
  channelRow,
  checkBatchNormAttrs,
  expectChannelRows,
  normalizationCoefficients,
  STATISTICS_ROWS,
} from './batch-norm-shared.ts';

export type { BatchNormAttrs } from './batch-norm-shared.ts';

export const batchNormOp = defineOp<BatchNormAttrs>({
  name: 'batchNorm',
  dependsOnMode: true,
  arity: 6,
  inferShape: batchNormOpShape,
  forward: (inputs, { momentum }, ctx) => batchNormForward(inputs, momentum, false, ctx),
  grad(ctx, dy, node) {
    const [x, gamma, beta, , , statistics] = node.inputs;
    const sums = ctx.needsGrad(0) || ctx.needsGrad(1) || ctx.needsGrad(2) ? batchNormGradSums(dy, x, statistics) : null;
    return [
      sums && ctx.needsGrad(0) ? batchNormGradInput(dy, x, gamma, statistics, sums) : null,
      sums && ctx.needsGrad(1) ? batchNormGradGamma(sums, gamma) : null,
      sums && ctx.needsGrad(2) ? batchNormGradBeta(sums, beta) : null,
      null,
      null,
      null,
    ];
  },
});

/** The shape rule of batchNorm (and of the fused batchNormRelu). */
export function batchNormOpShape([x, gamma, beta, runningMean, runningVar, statistics]: TensorSpec[], attrs: BatchNormAttrs): TensorSpec {
  checkBatchNormAttrs(attrs);
  const spec = batchNormShape(x, 'x', [
    [gamma, 'gamma'],
    [beta, 'beta'],
    [runningMean, 'runningMean'],
    [runningVar, 'runningVar'],
  ]);
  expectChannelRows(statistics, 'statistics', 3, spec, 'x');
  return spec;
}

/** batchNorm's JavaScript kernel (with `relu`, batchNormRelu's): normalize, then in training update the running averages. */
export function batchNormForward([x, gamma, beta, runningMean, runningVar, statistics]: Tensor[], momentum: number, relu: boolean, ctx: RunContext): Tensor {
  const channels = x.shape[x.shape.length - 1];
  // batchNormRelu's step is the relu node; the fusion rule fuses only running averages that are variables.
  if (ctx.training && !relu) checkRunningAveragesAreVariables(ctx.node);
  const [m, a, b] = [0, 1, 2].map(() => ctx.scratch([channels], dtypeOf(x)).data);
  normalizationCoefficients(gamma, beta, statistics, m, a, b);
  const out = ctx.output();
  channelAffine(x, m, a, b, out, relu);
  if (ctx.training) updateRunningAverages(runningMean, runningVar, statistics, x.size / channels, momentum);
  return out;
}

/** Folds a batch (its statistics over `count` values per channel) into the running averages, in place (see the header). */
export function updateRunningAverages(runningMean: Tensor, runningVar: Tensor, statistics: Tensor, count: number, momentum: number): void {
  const mean = channelRow(statistics, STATISTICS_ROWS.mean);
  const batchVariance = channelRow(statistics, STATISTICS_ROWS.variance);
  const unbiased = count / (count - 1);
  for (let c = 0; c < mean.length; c++) {
    const m = runningMean.offset + c;
    const v = runningVar.offset + c;
    runningMean.data[m] = momentum * runningMean.data[m] + (1 - momentum) * mean[c];
    runningVar.data[v] = momentum * runningVar.data[v] + (1 - momentum) * batchVariance[c] * unbiased;
  }
}

/** Whether inputs 3 and 4 (runningMean, runningVar), which training mode updates in place, are variables. */
export const runningAveragesAreVariables = (node: Node): boolean => [3, 4].every((k) => node.inputs[k]?.op.kind === 'variable');

/** Training mode updates inputs 3 and 4 in place: they must be variables. */
export function checkRunningAveragesAreVariables(node: Node): void {
  for (const k of [3, 4]) {
    const input = node.inputs[k];
    if (input.op.kind !== 'variable') {
      throw new GraphError(
        `in training mode input ${k} (${k === 3 ? 'runningMean' : 'runningVar'}) must be a variable, because batch norm updates it in place; found ${input.describe()}`,
      );
    }
  }
}

export interface BatchNormOptions {
  /** Default 0.9: running = 0.9·running + 0.1·batch. */
  momentum?: number;
  /** Default 1e-5. */
  epsilon?: number;
}

export function batchNorm(x: Node, gamma: Node, beta: Node, runningMean: Node, runningVar: Node, options: BatchNormOptions = {}, name?: string): Node {
  return buildingNode(x?.graph, 'batchNorm', name, () => {
    checkOptionKeys('batchNorm', options, ['momentum', 'epsilon']);
    const attrs: BatchNormAttrs = { momentum: options.momentum ?? 0.9, epsilon: options.epsilon ?? 1e-5 };
    const inputs = [x, gamma, beta, runningMean, runningVar];
    // An input that is not a node: the op's own check says which, before a statistics node is made of it.
    if (!inputs.every((n) => n instanceof Node)) return batchNormOp(inputs, attrs, { name });
    // Checked before the statistics node is made, so that a bad input is reported by the node the caller asked for.
    checkBatchNormAttrs(attrs);
    batchNormShape(x.spec, 'x', [
      [gamma.spec, 'gamma'],
      [beta.spec, 'beta'],
      [runningMean.spec, 'runningMean'],
      [runningVar.spec, 'runningVar'],
    ]);
    const statistics = batchNormStatistics(x, runningMean, runningVar, { epsilon: attrs.epsilon }, name && `${name}_statistics`);
    return batchNormOp([x, gamma, beta, runningMean, runningVar, statistics], attrs, { name });
  });
}
