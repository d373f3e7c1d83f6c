/**
 * Progress of one training epoch on the terminal.
 *
 * On a TTY: one live line redrawn in place (carriage return), at most about
 * ten times a second:
 *   epoch 2/10 ███████░░░░░░░░░░░░░ 330/938 loss 0.2345 acc 93.1% 1234 img/s ETA 0:12
 * Elsewhere (CI logs, files): a plain line at each tenth of the epoch:
 *   epoch 2/10 step 94/938 (10%) loss 0.2345 acc 93.1% 1234 img/s ETA 0:12
 * Node only (defaults to process.stdout).
 */

/** Where progress goes: process.stdout, or anything with `write`. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressOptions {
  stream?: ProgressStream;
  /** Steps in this epoch. */
  totalSteps: number;
  /** This epoch (1-based) and the number of epochs in the run. */
  epoch: number;
  epochs: number;
  /** Live bar or plain lines; default: whether the stream is a TTY. */
  isTTY?: boolean;
  /** Plain mode: lines per epoch (default 10, one each 10%). */
  linesPerEpoch?: number;
  /** TTY mode: minimum milliseconds between redraws (default 100). */
  minIntervalMs?: number;
  /** Clock in milliseconds (default performance.now), replaceable in tests. */
  now?: () => number;
  /** TTY mode: characters in the bar (default 20). */
  barWidth?: number;
}

export interface ProgressUpdate {
  /** Steps completed in this epoch, 1..totalSteps. */
  step: number;
  loss: number;
  /** Mini-batch accuracy in [0, 1]. */
  accuracy?: number;
  imagesPerSecond?: number;
}

const CLEAR_LINE = '\r\x1b[K';

/** Seconds as m:ss, or h:mm:ss from an hour up. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export class ProgressReporter {
  private readonly stream: ProgressStream;
  private readonly totalSteps: number;
  private readonly epoch: number;
  private readonly epochs: number;
  private readonly tty: boolean;
  private readonly linesPerEpoch: number;
  private readonly minIntervalMs: number;
  private readonly now: () => number;
  private readonly barWidth: number;
  private readonly startedAt: number;
  private lastDrawAt = -Infinity;
  private nextLine = 1;

  constructor(options: ProgressOptions) {
    this.stream = options.stream ?? process.stdout;
    this.totalSteps = Math.max(1, options.totalSteps);
    this.epoch = options.epoch;
    this.epochs = options.epochs;
    this.tty = options.isTTY ?? this.stream.isTTY === true;
    this.linesPerEpoch = Math.max(1, options.linesPerEpoch ?? 10);
    this.minIntervalMs = options.minIntervalMs ?? 100;
    this.now = options.now ?? (() => performance.now());
    this.barWidth = options.barWidth ?? 20;
    this.startedAt = this.now();
  }

  update(u: ProgressUpdate): void {
    const now = this.now();
    if (this.tty) {
      // Throttled, but the final step is always drawn so the bar ends full.
      if (now - this.lastDrawAt < this.minIntervalMs && u.step < this.totalSteps) return;
      this.lastDrawAt = now;
      this.stream.write(CLEAR_LINE + this.liveLine(u, now));
      return;
    }
    // Plain mode: one line when the step reaches the next tenth (or whichever fraction), skipping tenths passed at once.
    if (u.step < this.threshold(this.nextLine)) return;
    while (this.nextLine <= this.linesPerEpoch && u.step >= this.threshold(this.nextLine)) this.nextLine++;
    this.stream.write(`${this.plainLine(u, now)}\n`);
  }

  /** Ends the epoch's progress with a summary line (replacing the live bar on a TTY). */
  done(summaryLine: string): void {
    this.stream.write(`${(this.tty ? CLEAR_LINE : '') + summaryLine}\n`);
  }

  /** The step at which plain line k (1-based) is due. */
  private threshold(k: number): number {
    return Math.ceil((k * this.totalSteps) / this.linesPerEpoch);
  }

  private eta(step: number, now: number): string {
    const elapsed = (now - this.startedAt) / 1000;
    if (step <= 0 || elapsed <= 0) return '--:--';
    return formatDuration(((this.totalSteps - step) * elapsed) / step);
  }

  private stats(u: ProgressUpdate, now: number): string {
    const parts = [`loss ${u.loss.toFixed(4)}`];
    if (u.accuracy !== undefined) parts.push(`acc ${(u.accuracy * 100).toFixed(1)}%`);
    if (u.imagesPerSecond !== undefined) parts.push(`${Math.round(u.imagesPerSecond)} img/s`);
    parts.push(`ETA ${this.eta(u.step, now)}`);
    return parts.join(' ');
  }

  private liveLine(u: ProgressUpdate, now: number): string {
    const fraction = Math.min(1, Math.max(0, u.step / this.totalSteps));
    const filled = Math.round(fraction * this.barWidth);
    const bar = '█'.repeat(filled) + '░'.repeat(this.barWidth - filled);
    const count = `${String(u.step).padStart(String(this.totalSteps).length)}/${this.totalSteps}`;
    return `epoch ${this.epoch}/${this.epochs} ${bar} ${count} ${this.stats(u, now)}`;
  }

  private plainLine(u: ProgressUpdate, now: number): string {
    const percent = Math.round((100 * u.step) / this.totalSteps);
    return `epoch ${this.epoch}/${this.epochs} step ${u.step}/${this.totalSteps} (${percent}%) ${this.stats(u, now)}`;
  }
}
