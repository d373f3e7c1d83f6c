import { isFloatDType } from './dtype.ts';
import { GraphError } from './errors.ts';
import { Graph, type Node } from './graph.ts';
import { gradients } from './autodiff.ts';
import { Session } from './session/session.ts';
import { type Tensor, copyTensor, dtypeOf, formatShape, wrap } from './tensor.ts';

export interface GradcheckOptions {
  /** Finite-difference step. Default 1e-6. */
  eps?: number;
  /** An element passes when |analytic − numeric| ≤ atol + rtol·|numeric|. Defaults 1e-6 and 1e-5. */
  atol?: number;
  rtol?: number;
  /** Run in training mode (batchnorm batch statistics, dropout). Default false. */
  training?: boolean;
  /** Seed for the run generator, reset before every evaluation so random masks stay fixed. Default 1. */
  seed?: number;
  /** Which inputs to check (indices). Default: every float input. */
  wrt?: number[];
}

export interface GradcheckInputReport {
  input: number;
  shape: number[];
  maxAbsError: number;
  /** Max of |a − n| / max(|a|, |n|) over elements where max(|a|, |n|) > atol. */
  maxRelError: number;
  /** The element that fails the tolerance the most (or the largest error when all pass). */
  worst: { index: number; analytic: number; numeric: number };
  ok: boolean;
}

export interface GradcheckReport {
  ok: boolean;
  maxAbsError: number;
  maxRelError: number;
  inputs: GradcheckInputReport[];
  /** A one-line-per-input summary for test messages. */
  summary: string;
}

/**
 * Checks a symbolic gradient against central finite differences in float64.
 * `build` receives one placeholder per input (float inputs become float64) and
 * returns the output node; a non-scalar output is reduced to sum(R ⊙ y) with a
 * fixed random R, so every output element is tested.
 */
export function gradcheck(build: (...xs: Node[]) => Node, inputs: readonly Tensor[], options: GradcheckOptions = {}): GradcheckReport {
  const eps = options.eps ?? 1e-6;
  const atol = options.atol ?? 1e-6;
  const rtol = options.rtol ?? 1e-5;
  const seed = options.seed ?? 1;
  const training = options.training ?? false;

  const g = new Graph({ seed });
  const values = inputs.map((t) => (isFloatDType(dtypeOf(t)) ? copyTensor(t, 'float64') : copyTensor(t)));
  const xs = values.map((v, i) => g.placeholder(`x${i}`, v.shape, dtypeOf(v)));
  const y = build(...xs);
  if (!y || y.graph !== g) throw new GraphError('gradcheck: build must return a node built from its arguments');
  if (y.dtype !== 'float64') throw new GraphError(`gradcheck: output ${y.name} is ${y.dtype}; build it from the float64 inputs it is given`);

  const wrt = options.wrt ?? values.map((v, i) => (isFloatDType(dtypeOf(v)) ? i : -1)).filter((i) => i >= 0);
  const projection = wrap(new Float64Array(y.shape.reduce((a, b) => a * b, 1)), y.shape);
  for (let i = 0; i < projection.size; i++) projection.data[i] = g.rng.normal();
  const dy = g.constant(projection, { name: 'projection' });
  const grads = gradients(
    y,
    wrt.map((i) => xs[i]),
    { dy },
  );

  const session = new Session(g);
  const feeds = () => new Map<Node, Tensor>(xs.map((x, i) => [x, values[i]]));
  const objective = (): number => {
    const out = session.run(y, feeds(), { training, seed });
    let s = 0;
    for (let i = 0; i < out.size; i++) s += out.data[i] * projection.data[i];
    return s;
  };
  const analytic = session.run(grads, feeds(), { training, seed });

  const reports = wrt.map((inputIndex, k): GradcheckInputReport => {
    const v = values[inputIndex];
    const a = analytic[k];
    let maxAbs = 0;
    let maxRel = 0;
    let worstExcess = -Infinity;
    let worst = { index: -1, analytic: NaN, numeric: NaN };
    for (let i = 0; i < v.size; i++) {
      const saved = v.data[i];
      v.data[i] = saved + eps;
      const plus = objective();
      v.data[i] = saved - eps;
      const minus = objective();
      v.data[i] = saved;
      const numeric = (plus - minus) / (2 * eps);
      const an = a.data[i];
      const abs = Math.abs(an - numeric);
      const scale = Math.max(Math.abs(an), Math.abs(numeric));
      if (!(abs <= maxAbs)) maxAbs = abs; // also catches NaN
      if (scale > atol) maxRel = Math.max(maxRel, abs / scale);
      const excess = Number.isNaN(abs) ? Infinity : abs - (atol + rtol * Math.abs(numeric));
      if (excess > worstExcess) {
        worstExcess = excess;
        worst = { index: i, analytic: an, numeric };
      }
    }
    return { input: inputIndex, shape: v.shape.slice(), maxAbsError: maxAbs, maxRelError: maxRel, worst, ok: worstExcess <= 0 };
  });

  const summary = reports
    .map(
      (r) =>
        `input ${r.input} ${formatShape(r.shape)}: ${r.ok ? 'ok' : 'FAIL'} max abs ${r.maxAbsError.toExponential(2)} max rel ${r.maxRelError.toExponential(2)} (worst element ${r.worst.index}: analytic ${r.worst.analytic}, numeric ${r.worst.numeric})`,
    )
    .join('\n');
  return {
    ok: reports.every((r) => r.ok),
    maxAbsError: Math.max(0, ...reports.map((r) => r.maxAbsError)),
    maxRelError: Math.max(0, ...reports.map((r) => r.maxRelError)),
    inputs: reports,
    summary,
  };
}
