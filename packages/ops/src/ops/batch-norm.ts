/**
 * batchNorm(x, gamma, beta, runningMean, runningVar, { momentum = 0.9, epsilon = 1e-5 })
 *
 *   y = gamma · (x − μ) / √(σ² + ε) + beta        per channel (the last axis, NHWC)
 *
 * Shape: x [N, C] or [N, H, W, C] (any rank ≥ 2, channels last); gamma, beta,
 * runningMean and runningVar are [C]; y has x's shape. Statistics run over
 * every axis but the last: M = x.size / C values per channel.
 *
 * Modes (`ctx.training`):
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
 * across runs; updating them where the batch statistics are computed avoids a
 * separate assign op and a second pass over x. To keep this from corrupting
 * anything else, training mode requires both inputs to be variable nodes (a
 * fed placeholder or a computed value would be overwritten) and throws
 * otherwise. Every training-mode run that evaluates this node updates the
 * averages exactly once.
 *
 * Gradient (in both modes, by the same mode rule):
 * - x: batchNormGradInput(dy, x, gamma, runningVar) — training:
 *   (γ/σ)·(dy − mean(dy) − x̂·mean(dy·x̂)), eval: dy·γ/√(runningVar + ε);
 * - gamma: batchNormGradGamma(dy, x, runningMean, runningVar) = Σ dy·x̂;
 * - beta: Σ dy over all axes but the last (reduceToShape);
 * - runningMean, runningVar: null. They are state, not parameters: like
 *   TensorFlow's moving averages and PyTorch's buffers they get no gradient,
 *   even in eval mode where y depends on them.
 */
import { buildingNode, checkOptionKeys, GraphError, defineOp, formatShape, type Node } from '@ndgraph/graph';
import { reduceToShape } from './reduce-to-shape.ts';
import { batchNormGradInput } from './batch-norm-grad-input.ts';
import { batchNormGradGamma } from './batch-norm-grad-gamma.ts';
import { type BatchNormAttrs, batchNormShape, checkBatchNormAttrs, normalization } from './batch-norm-stats.ts';

export type { BatchNormAttrs } from './batch-norm-stats.ts';

export const batchNormOp = defineOp<BatchNormAttrs>({
  name: 'batchNorm',
  dependsOnMode: true,
  arity: 5,
  inferShape([x, gamma, beta, runningMean, runningVar], attrs) {
    checkBatchNormAttrs(attrs);
    return batchNormShape(x, 'x', [
      [gamma, 'gamma'],
      [beta, 'beta'],
      [runningMean, 'runningMean'],
      [runningVar, 'runningVar'],
    ]);
  },
  forward([x, gamma, beta, runningMean, runningVar], { momentum, epsilon }, ctx) {
    const channels = x.shape[x.shape.length - 1];
    const count = channels === 0 ? 0 : x.size / channels;
    if (ctx.training) {
      if (count < 2)
        throw new GraphError(`training-mode batch norm needs at least 2 values per channel to estimate a variance, found ${count} (x ${formatShape(x.shape)})`);
      for (const k of [3, 4]) {
        const input = ctx.node.inputs[k];
        if (input.op.kind !== 'variable') {
          throw new GraphError(
            `in training mode input ${k} (${k === 3 ? 'runningMean' : 'runningVar'}) must be a variable, because batch norm updates it in place; found ${input.describe()}`,
          );
        }
      }
    }
    const { mean, inverseStd, batchVariance } = normalization(ctx, x, runningMean, runningVar, epsilon);

    const out = ctx.output();
    const y = out.data;
    const xd = x.data,
      g = gamma.data,
      b = beta.data;
    for (let i = 0, c = 0; i < x.size; i++) {
      y[i] = g[gamma.offset + c] * (xd[x.offset + i] - mean[c]) * inverseStd[c] + b[beta.offset + c];
      if (++c === channels) c = 0;
    }

    if (batchVariance) {
      // Training: fold this batch into the running averages (see the header: the one in-place update).
      const unbiased = count / (count - 1);
      for (let c = 0; c < channels; c++) {
        const m = runningMean.offset + c;
        const v = runningVar.offset + c;
        runningMean.data[m] = momentum * runningMean.data[m] + (1 - momentum) * mean[c];
        runningVar.data[v] = momentum * runningVar.data[v] + (1 - momentum) * batchVariance[c] * unbiased;
      }
    }
    return out;
  },
  grad(ctx, dy, node) {
    const [x, gamma, beta, runningMean, runningVar] = node.inputs;
    const { epsilon } = node.attrs;
    return [
      ctx.needsGrad(0) ? batchNormGradInput(dy, x, gamma, runningVar, { epsilon }) : null,
      ctx.needsGrad(1) ? batchNormGradGamma(dy, x, runningMean, runningVar, { epsilon }) : null,
      ctx.needsGrad(2) ? reduceToShape(dy, beta) : null,
      null,
      null,
    ];
  },
});

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
    return batchNormOp([x, gamma, beta, runningMean, runningVar], attrs, { name });
  });
}
