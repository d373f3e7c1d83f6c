/**
 * Aggregation of a study's runs over seeds: means with sample standard
 * deviations, mean curves, best epochs. Browser-safe.
 */
import type { EpochRecord } from '@ndgraph/nn';
import type { GradientFlowPoint } from './gradient-flow.ts';

/** Mean and sample standard deviation (n − 1 in the denominator) of n values; null where undefined (n = 0, or std with n = 1). */
export interface MeanStd {
  mean: number | null;
  std: number | null;
  n: number;
}

export function meanStd(values: readonly number[]): MeanStd {
  const n = values.length;
  if (n === 0) return { mean: null, std: null, n };
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / n;
  if (n === 1) return { mean, std: null, n };
  let squares = 0;
  for (const v of values) squares += (v - mean) * (v - mean);
  return { mean, std: Math.sqrt(squares / (n - 1)), n };
}

/** One training run of one variant with one seed. */
export interface RunRecord {
  seed: number;
  learningRate: number;
  /** Epoch records of the epochs completed (fewer than asked when the run diverged). */
  epochs: EpochRecord[];
  /** Set when the loss became NaN or infinite; the run stopped there. */
  diverged: { epoch: number; step: number; message: string } | null;
  /** Wall-clock seconds of the whole run: building, training and evaluating. */
  seconds: number;
  /** Training images per second over the run's training steps. */
  imagesPerSecond: number;
}

/** Mean over seeds at one epoch; runs that diverged before it are left out (n says how many remain). */
export interface MeanEpoch {
  epoch: number;
  step: number;
  testAccuracy: MeanStd;
  testLoss: number | null;
  trainLoss: number | null;
  trainAccuracy: number | null;
}

export interface VariantSummary {
  /** Test accuracy after the last epoch, over the runs that did not diverge. */
  finalTestAccuracy: MeanStd;
  finalTestLoss: MeanStd;
  /** Epoch (from 1) where the mean test accuracy over seeds peaks, and that accuracy. */
  bestEpoch: number | null;
  bestTestAccuracy: number | null;
  secondsPerRun: MeanStd;
  imagesPerSecond: MeanStd;
  runs: number;
  divergedRuns: number;
}

/** The mean over seeds of each epoch's metrics. */
export function meanEpochCurve(runs: readonly RunRecord[]): MeanEpoch[] {
  const epochs = Math.max(0, ...runs.map((r) => r.epochs.length));
  const curve: MeanEpoch[] = [];
  for (let e = 0; e < epochs; e++) {
    const records = runs.map((r) => r.epochs[e]).filter((r): r is EpochRecord => r !== undefined);
    const meanOf = (key: keyof EpochRecord) => meanStd(records.map((r) => r[key])).mean;
    curve.push({
      epoch: e + 1,
      step: records[0].step,
      testAccuracy: meanStd(records.map((r) => r.testAccuracy)),
      testLoss: meanOf('testLoss'),
      trainLoss: meanOf('trainLoss'),
      trainAccuracy: meanOf('trainAccuracy'),
    });
  }
  return curve;
}

/** The mean over seeds of the training loss at each step (index = step − 1), null where no run reached that step. */
export function meanStepLoss(stepLosses: readonly (readonly number[])[]): (number | null)[] {
  const steps = Math.max(0, ...stepLosses.map((l) => l.length));
  const out: (number | null)[] = [];
  for (let s = 0; s < steps; s++) out.push(meanStd(stepLosses.filter((l) => s < l.length).map((l) => l[s])).mean);
  return out;
}

export function summarizeVariant(runs: readonly RunRecord[], curve: readonly MeanEpoch[]): VariantSummary {
  const finished = runs.filter((r) => r.diverged === null && r.epochs.length > 0);
  const last = (r: RunRecord) => r.epochs[r.epochs.length - 1];
  let bestEpoch: number | null = null;
  let bestTestAccuracy: number | null = null;
  for (const point of curve) {
    const acc = point.testAccuracy.mean;
    if (acc !== null && (bestTestAccuracy === null || acc > bestTestAccuracy)) {
      bestTestAccuracy = acc;
      bestEpoch = point.epoch;
    }
  }
  return {
    finalTestAccuracy: meanStd(finished.map((r) => last(r).testAccuracy)),
    finalTestLoss: meanStd(finished.map((r) => last(r).testLoss)),
    bestEpoch,
    bestTestAccuracy,
    secondsPerRun: meanStd(runs.map((r) => r.seconds)),
    imagesPerSecond: meanStd(runs.filter((r) => Number.isFinite(r.imagesPerSecond)).map((r) => r.imagesPerSecond)),
    runs: runs.length,
    divergedRuns: runs.length - finished.length,
  };
}

/** Gradient-flow points averaged over seeds, per (step, layer); null fields stay null. */
export function meanGradientFlow(perRun: readonly (readonly GradientFlowPoint[])[]): GradientFlowPoint[] {
  const groups = new Map<string, GradientFlowPoint[]>();
  for (const points of perRun) {
    for (const p of points) {
      const key = `${p.step}\u0000${p.layer}`;
      const group = groups.get(key);
      if (group) group.push(p);
      else groups.set(key, [p]);
    }
  }
  const meanField = (group: GradientFlowPoint[], key: 'inactiveFraction' | 'deadUnitFraction' | 'gradientNorm') => {
    const values = group.map((p) => p[key]).filter((v): v is number => v !== null && Number.isFinite(v));
    return meanStd(values).mean;
  };
  return [...groups.values()].map((group) => ({
    step: group[0].step,
    epoch: group[0].epoch,
    layer: group[0].layer,
    inactiveFraction: meanField(group, 'inactiveFraction'),
    deadUnitFraction: meanField(group, 'deadUnitFraction'),
    gradientNorm: meanField(group, 'gradientNorm'),
  }));
}
