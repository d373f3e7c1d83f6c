/**
 * Runs a study: (optionally) its learning-rate sweep, then every variant with
 * every seed, and gathers the results into one JSON-able StudyResult.
 * Browser-safe: it trains synchronously and reports through callbacks; the
 * Node entry writes the files.
 */
import { DataError } from '@ndgraph/graph';
import {
  type ActivationName,
  type Dataset,
  type EpochInfo,
  type StepInfo,
  type TrainConfig,
  Trainer,
  datasetSize,
  subset,
  DEFAULT_LEARNING_RATES,
  type OptimizerName,
} from '@ndgraph/nn';
import { type Study, type StudyName, type StudyVariant, variantTrainConfig } from './definitions.ts';
import { type GradientFlowPoint, GradientFlowMonitor, inactiveRule } from './gradient-flow.ts';
import { type MeanEpoch, type RunRecord, type VariantSummary, meanEpochCurve, meanGradientFlow, meanStepLoss, summarizeVariant } from './summary.ts';

export interface StudyRunOptions {
  epochs: number;
  /** The seeds every variant is trained with. */
  seeds: readonly number[];
  /** Run the study's learning-rate sweep first (default true when it has one); otherwise use each variant's stated rate. */
  sweep?: boolean;
  /** Epochs per sweep run (default: the sweep's own setting, else `epochs`). */
  sweepEpochs?: number;
  /** Watch every n-th step for the gradient-flow view (default 5). */
  gradientFlowEvery?: number;
  progress?: StudyProgress;
}

export interface RunStart {
  phase: 'sweep' | 'study';
  study: StudyName;
  variant: StudyVariant;
  seed: number;
  config: TrainConfig;
  stepsPerEpoch: number;
  /** Position of this run among all runs of the study (from 1) and their count. */
  index: number;
  total: number;
}

/** Callbacks for progress output. */
export interface StudyProgress {
  runStarted?(run: RunStart): void;
  step?(info: StepInfo): void;
  epochEnded?(info: EpochInfo): void;
  runEnded?(run: RunStart, record: RunRecord): void;
}

export interface SweepTrial {
  variant: string;
  learningRate: number;
  /** Null when the run diverged. */
  validationAccuracy: number | null;
  validationLoss: number | null;
  diverged: boolean;
}

export interface SweepResult {
  epochs: number;
  seed: number;
  trainSize: number;
  validationSize: number;
  trials: SweepTrial[];
  /**
   * The rate picked for each variant by the one-standard-error rule: the
   * smallest rate whose validation accuracy is within one standard error
   * √(p(1 − p)/n) of the best accuracy p (n validation images).
   */
  chosen: Record<string, number>;
}

export interface GradientFlowResult {
  /** What counts as inactive for this variant's activation. */
  definition: string;
  everySteps: number;
  layers: string[];
  /** Means over seeds at each watched step and layer. */
  points: GradientFlowPoint[];
}

export interface VariantResult {
  id: string;
  label: string;
  /** The training configuration (the seed varies over `runs`). */
  config: Omit<TrainConfig, 'seed'>;
  runs: RunRecord[];
  summary: VariantSummary;
  /** Mean over seeds per epoch. */
  epochs: MeanEpoch[];
  /** Mean over seeds of the training loss at each step (index = step − 1). */
  stepLoss: (number | null)[];
  gradientFlow: GradientFlowResult | null;
}

export interface StudyResult {
  format: 'ndgraph-study/1';
  study: StudyName;
  title: string;
  question: string;
  settings: { epochs: number; seeds: number[]; trainSize: number; testSize: number; batchSize: number };
  sweep: SweepResult | null;
  variants: VariantResult[];
  /** Wall-clock seconds of the whole study, sweep included. */
  totalSeconds: number;
}

interface TrainedRun {
  record: RunRecord;
  stepLosses: number[];
  gradientFlow: GradientFlowPoint[] | null;
  final: { loss: number; accuracy: number } | null;
}

/** Trains one configuration to the end, or until it diverges. */
function trainRun(
  config: TrainConfig,
  data: { train: Dataset; test: Dataset },
  start: Omit<RunStart, 'stepsPerEpoch' | 'config'>,
  options: { gradientFlowEvery: number | null; progress?: StudyProgress },
): TrainedRun {
  const started = performance.now();
  const trainer = new Trainer(config, data);
  const activation = (config.model?.activation ?? 'relu') as ActivationName;
  const monitor = options.gradientFlowEvery !== null ? new GradientFlowMonitor(trainer.graph.nodes, activation, options.gradientFlowEvery) : null;
  trainer.monitor = monitor ?? undefined;
  const runStart: RunStart = { ...start, config, stepsPerEpoch: trainer.stepsPerEpoch };
  options.progress?.runStarted?.(runStart);
  let diverged: RunRecord['diverged'] = null;
  let trainSeconds = 0;
  let trainImages = 0;
  try {
    while (trainer.epoch < config.epochs) {
      const info = trainer.trainEpoch(options.progress?.step);
      trainSeconds += info.seconds;
      trainImages += datasetSize(data.train);
      options.progress?.epochEnded?.(info);
    }
  } catch (error) {
    if (!(error instanceof DataError && error.message.startsWith('training diverged'))) throw error;
    diverged = { epoch: trainer.epoch + 1, step: trainer.step + 1, message: error.message };
  }
  trainer.dispose(); // a study trains many models: give each one's kernel memory back at once
  const epochs = trainer.metrics.epochs.map((r) => ({ ...r }));
  const last = epochs[epochs.length - 1];
  const record: RunRecord = {
    seed: config.seed,
    learningRate: config.learningRate ?? DEFAULT_LEARNING_RATES[config.optimizer as OptimizerName],
    epochs,
    diverged,
    seconds: (performance.now() - started) / 1000,
    imagesPerSecond: trainSeconds > 0 ? trainImages / trainSeconds : NaN,
  };
  options.progress?.runEnded?.(runStart, record);
  return {
    record,
    stepLosses: trainer.metrics.steps.map((s) => s.loss),
    gradientFlow: monitor ? monitor.points : null,
    final: diverged === null && last ? { loss: last.testLoss, accuracy: last.testAccuracy } : null,
  };
}

/** The number of training runs `runStudy` makes with these options (sweep included). */
export function countStudyRuns(study: Study, options: Pick<StudyRunOptions, 'seeds' | 'sweep'>): number {
  const sweepRuns = study.sweep && (options.sweep ?? true) ? Object.values(study.sweep.candidates).reduce((n, rates) => n + rates.length, 0) : 0;
  return sweepRuns + study.variants.length * options.seeds.length;
}

/**
 * The learning-rate sweep: each candidate rate of each variant on the
 * training set minus its last `validationFraction`, scored on that held-out
 * slice. Exported for tests; `runStudy` calls it.
 */
export function runSweep(
  study: Study,
  train: Dataset,
  options: { epochs?: number; progress?: StudyProgress; firstIndex?: number; total?: number },
): SweepResult {
  const sweep = study.sweep;
  if (!sweep) throw new RangeError(`study '${study.name}' has no learning-rate sweep`);
  const n = datasetSize(train);
  const validationSize = Math.max(1, Math.round(n * sweep.validationFraction));
  if (validationSize >= n) throw new DataError(`learning-rate sweep: ${n} training examples are too few to hold out ${validationSize} for validation`);
  const split = { train: subset(train, 0, n - validationSize), test: subset(train, n - validationSize, validationSize) };
  const epochs = options.epochs ?? sweep.epochs;
  if (epochs === undefined) throw new RangeError(`runSweep: give the number of epochs (study '${study.name}' sets none)`);
  const total = options.total ?? countStudyRuns(study, { seeds: [sweep.seed], sweep: true });
  let index = options.firstIndex ?? 1;
  const trials: SweepTrial[] = [];
  const chosen: Record<string, number> = {};
  for (const variant of study.variants) {
    const rates = sweep.candidates[variant.id] ?? [];
    const variantTrials: SweepTrial[] = [];
    for (const learningRate of rates) {
      const config = { ...variantTrainConfig(study, variant, epochs, sweep.seed), learningRate };
      const run = trainRun(
        config,
        split,
        { phase: 'sweep', study: study.name, variant, seed: sweep.seed, index: index++, total },
        { gradientFlowEvery: null, progress: options.progress },
      );
      const trial: SweepTrial = {
        variant: variant.id,
        learningRate,
        validationAccuracy: run.final?.accuracy ?? null,
        validationLoss: run.final?.loss ?? null,
        diverged: run.record.diverged !== null,
      };
      trials.push(trial);
      variantTrials.push(trial);
    }
    const rate = oneStandardErrorChoice(variantTrials, validationSize);
    if (rate !== null) chosen[variant.id] = rate;
  }
  return { epochs, seed: sweep.seed, trainSize: n - validationSize, validationSize, trials, chosen };
}

/**
 * The smallest learning rate whose validation accuracy is within one standard
 * error of the best one. A validation set of n images cannot tell apart
 * accuracies closer than about √(p(1 − p)/n) (0.8 points at 93% on 1,000
 * images), and of two rates it cannot tell apart the smaller is the safer:
 * a larger rate that looks as good after a short sweep is more likely to
 * become unstable later. Null when every trial diverged.
 */
export function oneStandardErrorChoice(trials: readonly SweepTrial[], validationSize: number): number | null {
  const scored = trials.filter((t) => t.validationAccuracy !== null);
  if (scored.length === 0) return null;
  const best = Math.max(...scored.map((t) => t.validationAccuracy!));
  const standardError = Math.sqrt((best * (1 - best)) / validationSize);
  const good = scored.filter((t) => t.validationAccuracy! >= best - standardError);
  return Math.min(...good.map((t) => t.learningRate));
}

/** Runs every variant of `study` with every seed (after its sweep, if any) on `data`. */
export function runStudy(study: Study, data: { train: Dataset; test: Dataset }, options: StudyRunOptions): StudyResult {
  if (!Number.isInteger(options.epochs) || options.epochs < 1) throw new RangeError(`runStudy: epochs must be a whole number ≥ 1, found ${options.epochs}`);
  if (options.seeds.length === 0) throw new RangeError('runStudy: give at least one seed');
  const started = performance.now();
  const doSweep = study.sweep !== undefined && (options.sweep ?? true);
  const total = countStudyRuns(study, { seeds: options.seeds, sweep: doSweep });
  const sweep = doSweep
    ? runSweep(study, data.train, { epochs: options.sweepEpochs ?? study.sweep?.epochs ?? options.epochs, progress: options.progress, firstIndex: 1, total })
    : null;
  let index = total - study.variants.length * options.seeds.length + 1;

  const variants: VariantResult[] = study.variants.map((variant) => {
    const base = variantTrainConfig(study, variant, options.epochs, 0);
    const learningRate = sweep?.chosen[variant.id] ?? base.learningRate;
    const gradientFlowEvery = study.gradientFlow ? (options.gradientFlowEvery ?? 5) : null;
    const trained = options.seeds.map((seed) =>
      trainRun(
        { ...base, learningRate, seed },
        data,
        { phase: 'study', study: study.name, variant, seed, index: index++, total },
        { gradientFlowEvery, progress: options.progress },
      ),
    );
    const runs = trained.map((t) => t.record);
    const epochs = meanEpochCurve(runs);
    const { seed: _seed, ...config } = { ...base, learningRate };
    const activation = (config.model?.activation ?? 'relu') as ActivationName;
    return {
      id: variant.id,
      label: variant.label,
      config,
      runs,
      summary: summarizeVariant(runs, epochs),
      epochs,
      stepLoss: meanStepLoss(trained.map((t) => t.stepLosses)),
      gradientFlow:
        gradientFlowEvery === null
          ? null
          : {
              definition: inactiveRule(activation).definition,
              everySteps: gradientFlowEvery,
              layers: layersOf(trained[0].gradientFlow ?? []),
              points: meanGradientFlow(trained.map((t) => t.gradientFlow ?? [])),
            },
    };
  });

  return {
    format: 'ndgraph-study/1',
    study: study.name,
    title: study.title,
    question: study.question,
    settings: {
      epochs: options.epochs,
      seeds: [...options.seeds],
      trainSize: datasetSize(data.train),
      testSize: datasetSize(data.test),
      batchSize: study.base.batchSize,
    },
    sweep,
    variants,
    totalSeconds: (performance.now() - started) / 1000,
  };
}

function layersOf(points: readonly GradientFlowPoint[]): string[] {
  const layers: string[] = [];
  for (const p of points) if (!layers.includes(p.layer)) layers.push(p.layer);
  return layers;
}
