import { describe, it, expect } from 'vitest';
import { dropout, dropoutMask } from '@ndgraph/ops';
import { Graph, GraphError, Session, gradients, toArray, type Tensor } from '@ndgraph/graph';
import { expectGradcheck, randomTensor, tensor } from '../helpers.ts';

/** A graph computing dropout(x, rate), its mask, and dx for dy = 1. */
function setup(x: Tensor, rate: number, seed = 0) {
  const g = new Graph({ seed });
  const xs = g.placeholder('x', x.shape, 'float64');
  const y = dropout(xs, rate);
  const mask = g.node('dropout/mask');
  const dx = gradients(y, [xs], { dy: g.constant(tensor(new Array(x.size).fill(1), x.shape, 'float64')) })[0];
  const session = new Session(g);
  const run = (options: { training: boolean; seed?: number }) => {
    const [yv, mv, dxv] = session.run([y, mask, dx], [[xs, x]], options);
    return { y: toArray(yv), mask: toArray(mv), dx: toArray(dxv) };
  };
  return { g, y, run };
}

describe('dropout', () => {
  const rate = 0.3;
  const n = 100_000;
  const x = randomTensor([n], 41, 0.5, 1.5); // no zeros, so a zero output means "dropped"

  it('builds a dropoutMask node and a mul node in a dropout scope', () => {
    const { g, y } = setup(tensor([1, 2], undefined, 'float64'), 0.5);
    expect(y.name).toBe('dropout/mul');
    expect(y.op.name).toBe('mul');
    expect(g.node('dropout/mask').op.name).toBe('dropoutMask');
  });

  it('eval mode is the identity (mask all ones)', () => {
    const r = setup(x, rate).run({ training: false });
    expect(r.y).toEqual(toArray(x));
    expect(r.mask.every((m) => m === 1)).toBe(true);
  });

  it('training mode keeps about 1 − rate of the elements, scaled by 1/(1 − rate)', () => {
    const r = setup(x, rate).run({ training: true });
    const xs = toArray(x);
    let kept = 0;
    for (let i = 0; i < n; i++) {
      if (r.y[i] === 0) continue;
      kept++;
      // Kept values are x/(1 − rate) (up to one rounding of the product).
      if (Math.abs(r.y[i] - xs[i] / (1 - rate)) > 1e-12) expect.fail(`element ${i}: ${r.y[i]} is neither 0 nor x/(1 − rate) = ${xs[i] / (1 - rate)}`);
    }
    // The kept count is Binomial(n, 1 − rate): its fraction has standard deviation
    // √(rate·(1 − rate)/n) ≈ 0.00145 for n = 1e5. Five standard deviations (≈ 0.0072)
    // make a false failure for a fair generator about a 1-in-a-million event.
    const sigma = Math.sqrt((rate * (1 - rate)) / n);
    expect(Math.abs(kept / n - (1 - rate))).toBeLessThan(5 * sigma);
    // E[y] = x: the mean of y/x is close to 1 as well (mask mean has std √(rate/(1−rate)/n) ≈ 0.002).
    const meanRatio = r.y.reduce((s, v, i) => s + v / xs[i], 0) / n;
    expect(Math.abs(meanRatio - 1)).toBeLessThan(5 * Math.sqrt(rate / (1 - rate) / n));
  });

  it('the backward pass reuses the same mask within a run: dx = dy ⊙ mask', () => {
    const r = setup(tensor(toArray(x).slice(0, 1000), [1000], 'float64'), 0.5).run({ training: true });
    expect(r.dx).toEqual(r.mask);
    for (let i = 0; i < 1000; i++) expect(r.mask[i] === 0 || r.mask[i] === 2).toBe(true);
    expect(r.y.map((v) => v !== 0)).toEqual(r.mask.map((m) => m !== 0));
  });

  it('same seed ⇒ identical masks; successive runs ⇒ different masks', () => {
    const small = tensor(toArray(x).slice(0, 2000), [2000], 'float64');
    const a = setup(small, 0.5);
    const first = a.run({ training: true, seed: 7 }).mask;
    const again = a.run({ training: true, seed: 7 }).mask;
    expect(again).toEqual(first);
    // A new graph and session with the same run seed draws the same mask too.
    expect(setup(small, 0.5).run({ training: true, seed: 7 }).mask).toEqual(first);
    // Without reseeding, the generator moves on: the next runs draw new masks.
    const next = a.run({ training: true }).mask;
    const nextAgain = a.run({ training: true }).mask;
    expect(next).not.toEqual(first);
    expect(nextAgain).not.toEqual(next);
    // A different seed gives a different mask.
    expect(a.run({ training: true, seed: 8 }).mask).not.toEqual(first);
  });

  it('rate 0 keeps everything in training mode', () => {
    const r = setup(tensor([1, 2, 3], undefined, 'float64'), 0).run({ training: true });
    expect(r.y).toEqual([1, 2, 3]);
  });

  it('works in float32', () => {
    const g = new Graph();
    const xs = g.placeholder('x', [4, 5]);
    const out = toArray(new Session(g).run(dropout(xs, 0.5), [[xs, tensor(new Array(20).fill(3), [4, 5])]], { training: true }));
    expect(out.every((v) => v === 0 || v === 6)).toBe(true);
  });

  it('gradcheck in training mode (the seed is fixed per evaluation, so the mask is too)', () => {
    expectGradcheck('dropout training', (p) => dropout(p, 0.4), [randomTensor([3, 4, 5], 42)], { training: true, seed: 3 });
    expectGradcheck('dropout eval', (p) => dropout(p, 0.4), [randomTensor([3, 4], 43)]);
  });

  it('dropoutMask has no gradient w.r.t. its shape input', () => {
    const g = new Graph();
    const m = dropoutMask(g.placeholder('x', [2]), 0.5);
    expect(m.op.grad!({ graph: g, needsGrad: () => true }, m, m)).toEqual([null]);
  });

  it('a rate outside [0, 1) is refused, saying the value', () => {
    const g = new Graph();
    const xs = g.placeholder('x', [2]);
    expect(() => dropout(xs, 1)).toThrow(GraphError);
    expect(() => dropout(xs, 1)).toThrow(/dropout rate must be in \[0, 1\) \(the probability of dropping an element\), found 1$/);
    expect(() => dropout(xs, -0.1)).toThrow(/found -0.1$/);
    expect(() => dropout(xs, NaN)).toThrow(/found NaN$/);
    expect(() => dropoutMask(xs, 1.5)).toThrow(/dropout rate must be in \[0, 1\).*found 1.5$/);
  });
});
