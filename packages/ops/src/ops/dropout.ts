/**
 * dropout(x, rate): inverted dropout, y = x ⊙ mask, built from two nodes:
 *
 * - dropoutMask(x, { rate }): in training mode (`ctx.training`) each element is
 *   kept with probability 1 − rate (a Bernoulli draw from the run's seeded
 *   generator, `ctx.rng.uniform() ≥ rate`) and the mask holds 1/(1 − rate)
 *   where kept, 0 where dropped, so E[mask] = 1 and eval mode needs no
 *   rescaling. In eval mode the mask is all ones and y = x.
 * - the existing mul op, y = x ⊙ mask.
 *
 * Because the mask is a node of its own, the backward pass (dx = dy ⊙ mask,
 * from mul's gradient) reads the same mask value within a run. A run with the
 * same seed draws the same masks; successive runs draw new ones.
 *
 * Shape: x any float shape; the mask and y have x's shape. rate in [0, 1).
 *
 * Gradient: dropoutMask has none w.r.t. x ([null]): x is read only for its
 * shape, and the mask is piecewise constant.
 */
import { GraphError, defineOp, type Node } from '@ndgraph/graph';
import { expectFloat, sameAs } from '../util.ts';
import { mul } from './mul.ts';

export interface DropoutAttrs {
  /** Probability of dropping an element, in [0, 1). */
  rate: number;
}

function checkRate(rate: number): void {
  if (!(typeof rate === 'number' && rate >= 0 && rate < 1)) {
    throw new GraphError(`dropout rate must be in [0, 1) (the probability of dropping an element), found ${rate}`);
  }
}

export const dropoutMaskOp = defineOp<DropoutAttrs>({
  name: 'dropoutMask',
  dependsOnMode: true,
  arity: 1,
  inferShape([x], { rate }) {
    checkRate(rate);
    expectFloat(x, 'x');
    return sameAs(x);
  },
  forward(_inputs, { rate }, ctx) {
    const out = ctx.output();
    const mask = out.data;
    if (!ctx.training) {
      mask.fill(1);
      return out;
    }
    const keptValue = 1 / (1 - rate);
    const rng = ctx.rng;
    for (let i = 0; i < out.size; i++) mask[i] = rng.uniform() >= rate ? keptValue : 0;
    return out;
  },
  grad: () => [null],
});

export const dropoutMask = (x: Node, rate: number, name?: string): Node => dropoutMaskOp([x], { rate }, { name });

/** Inverted dropout: `name/mask` (dropoutMask) and `name/mul` (the product) inside a `name` scope (default 'dropout'). */
export function dropout(x: Node, rate: number, name = 'dropout'): Node {
  checkRate(rate);
  return x.graph.scope(name, () => mul(x, dropoutMask(x, rate, 'mask')));
}
