/**
 * A training run's metrics: one record per logged step and one per epoch,
 * plus free-form metadata (model, optimizer, seed, ...). Serializes to JSON
 * (to resume a run) and CSV (for spreadsheets and plotting tools).
 * Browser-safe.
 */
import { DataError } from '@ndgraph/graph';

export interface StepRecord {
  /** Global optimizer step (counting from the start of the run). */
  step: number;
  epoch: number;
  /** Mini-batch training loss. */
  loss: number;
  /** Mini-batch training accuracy in [0, 1]. */
  accuracy?: number;
  learningRate?: number;
  imagesPerSecond?: number;
}

export interface EpochRecord {
  epoch: number;
  /** Global step at the end of the epoch. */
  step: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  /** Wall-clock seconds the epoch took. */
  seconds: number;
  imagesPerSecond: number;
}

export type MetricsMeta = Record<string, unknown>;

export interface MetricsJSON {
  meta: MetricsMeta;
  steps: StepRecord[];
  epochs: EpochRecord[];
}

const STEP_COLUMNS = ['step', 'epoch', 'loss', 'accuracy', 'learningRate', 'imagesPerSecond'] as const;
const EPOCH_COLUMNS = ['epoch', 'step', 'trainLoss', 'trainAccuracy', 'testLoss', 'testAccuracy', 'seconds', 'imagesPerSecond'] as const;
const REQUIRED_STEP_FIELDS = ['step', 'epoch', 'loss'] as const;
const OPTIONAL_STEP_FIELDS = ['accuracy', 'learningRate', 'imagesPerSecond'] as const;

/** A CSV cell: numbers in full precision (NaN and ±Infinity spelled out), absent values empty. */
function csvCell(value: number | undefined): string {
  return value === undefined ? '' : String(value);
}

function toCSV<T extends object>(columns: readonly (keyof T & string)[], rows: readonly T[]): string {
  const lines = [columns.join(',')];
  for (const row of rows) lines.push(columns.map((c) => csvCell(row[c] as number | undefined)).join(','));
  return `${lines.join('\n')}\n`;
}

/**
 * JSON has no NaN or Infinity (JSON.stringify writes null), and a diverging
 * run does log NaN losses: read null back as NaN.
 */
function readNumber(value: unknown, where: string): number {
  if (value === null) return NaN;
  if (typeof value !== 'number') throw new DataError(`metrics JSON: ${where}: expected a number, found ${JSON.stringify(value)}`);
  return value;
}

/** Replaces an array's contents in place (a loop, not a spread: logs can be long). */
function replaceContents<T>(target: T[], items: readonly T[]): void {
  target.length = 0;
  for (const item of items) target.push(item);
}

export class MetricsLog {
  /** Free-form description of the run (model, optimizer, seed, ...), kept in the JSON. */
  meta: MetricsMeta;
  readonly steps: StepRecord[] = [];
  readonly epochs: EpochRecord[] = [];

  constructor(meta: MetricsMeta = {}) {
    this.meta = { ...meta };
  }

  recordStep(record: StepRecord): void {
    const copy: StepRecord = { step: record.step, epoch: record.epoch, loss: record.loss };
    for (const key of OPTIONAL_STEP_FIELDS) if (record[key] !== undefined) copy[key] = record[key];
    this.steps.push(copy);
  }

  recordEpoch(record: EpochRecord): void {
    this.epochs.push({ ...record });
  }

  /** The last epoch record, if any. */
  lastEpoch(): EpochRecord | undefined {
    return this.epochs[this.epochs.length - 1];
  }

  /**
   * Drops records logged after `step` (for resuming from a checkpoint taken
   * at that step, so the records of the lost work are not duplicated).
   */
  truncateAfter(step: number): void {
    const keepSteps = this.steps.filter((r) => r.step <= step);
    const keepEpochs = this.epochs.filter((r) => r.step <= step);
    replaceContents(this.steps, keepSteps);
    replaceContents(this.epochs, keepEpochs);
  }

  toJSON(): MetricsJSON {
    return {
      meta: { ...this.meta },
      steps: this.steps.map((r) => ({ ...r })),
      epochs: this.epochs.map((r) => ({ ...r })),
    };
  }

  /** CSV text with a header line: `steps` has one row per step record, `epochs` one per epoch. */
  toCSV(): { steps: string; epochs: string } {
    return { steps: toCSV<StepRecord>(STEP_COLUMNS, this.steps), epochs: toCSV<EpochRecord>(EPOCH_COLUMNS, this.epochs) };
  }

  /** Rebuilds a log from `toJSON()` output (an object, or its JSON text). */
  static fromJSON(json: MetricsJSON | string): MetricsLog {
    const log = new MetricsLog();
    log.loadJSON(json);
    return log;
  }

  /**
   * Replaces this log's meta and records with those of `toJSON()` output
   * (for resuming a run into an existing log). Throws DataError when the
   * input is not metrics JSON; the log is unchanged then.
   */
  loadJSON(json: MetricsJSON | string): void {
    let data: unknown;
    try {
      data = typeof json === 'string' ? JSON.parse(json) : json;
    } catch (error) {
      throw new DataError(`metrics JSON: could not parse (${(error as Error).message})`);
    }
    const obj = data as Partial<MetricsJSON> | null;
    if (!obj || typeof obj !== 'object' || !Array.isArray(obj.steps) || !Array.isArray(obj.epochs)) {
      throw new DataError('metrics JSON: expected an object with "steps" and "epochs" arrays');
    }
    const steps = obj.steps.map((raw, i) => {
      const r = raw as unknown as Record<string, unknown>;
      const record = {} as StepRecord;
      for (const key of REQUIRED_STEP_FIELDS) record[key] = readNumber(r[key], `steps[${i}].${key}`);
      for (const key of OPTIONAL_STEP_FIELDS) if (r[key] !== undefined) record[key] = readNumber(r[key], `steps[${i}].${key}`);
      return record;
    });
    const epochs = obj.epochs.map((raw, i) => {
      const r = raw as unknown as Record<string, unknown>;
      const record = {} as EpochRecord;
      for (const key of EPOCH_COLUMNS) record[key] = readNumber(r[key], `epochs[${i}].${key}`);
      return record;
    });
    this.meta = obj.meta && typeof obj.meta === 'object' ? { ...obj.meta } : {};
    replaceContents(this.steps, steps);
    replaceContents(this.epochs, epochs);
  }
}
