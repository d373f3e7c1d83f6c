/**
 * A study's results as Markdown tables, and as compact JSON. Browser-safe.
 */
import { DEFAULT_LEARNING_RATES, type OptimizerName } from '@ndgraph/nn';
import type { StudyResult, VariantResult } from './runner.ts';
import type { MeanStd } from './summary.ts';

const percent = (v: number, digits = 2) => `${(v * 100).toFixed(digits)}%`;

/** `98.12 ± 0.10%` (sample std over seeds), or `98.12%` for one seed, `—` for none. */
export function formatAccuracy(m: MeanStd): string {
  if (m.mean === null) return '—';
  return m.std === null ? percent(m.mean) : `${(m.mean * 100).toFixed(2)} ± ${(m.std * 100).toFixed(2)}%`;
}

function formatSeconds(s: number | null): string {
  if (s === null) return '—';
  return s >= 120 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`;
}

/** A learning rate without float noise: 0.001, 0.0003, 0.25. */
export function formatRate(rate: number): string {
  return String(Number(rate.toPrecision(6)));
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function finalAccuracyCell(v: VariantResult): string {
  const s = v.summary;
  if (s.divergedRuns === s.runs) return `diverged (all ${s.runs} seeds)`;
  const note = s.divergedRuns > 0 ? ` (${s.divergedRuns} of ${s.runs} seeds diverged; mean of the rest)` : '';
  return formatAccuracy(s.finalTestAccuracy) + note;
}

/** One row per variant: final test accuracy (mean ± std over seeds), best epoch, final test loss, wall time, throughput. */
export function resultsTableMarkdown(result: StudyResult): string {
  const rows = result.variants.map((v) => {
    const s = v.summary;
    return [
      v.label,
      `${v.config.optimizer} ${formatRate(v.config.learningRate ?? DEFAULT_LEARNING_RATES[v.config.optimizer as OptimizerName])}`,
      finalAccuracyCell(v),
      s.bestEpoch === null ? '—' : `${s.bestEpoch} (${percent(s.bestTestAccuracy!)})`,
      s.finalTestLoss.mean === null ? '—' : s.finalTestLoss.mean.toFixed(4),
      formatSeconds(s.secondsPerRun.mean),
      s.imagesPerSecond.mean === null ? '—' : s.imagesPerSecond.mean.toFixed(0),
    ];
  });
  return table(
    [
      'configuration',
      'optimizer, lr',
      `test accuracy after epoch ${result.settings.epochs}`,
      'best epoch (mean acc)',
      'test loss',
      'wall time / run',
      'train img/s',
    ],
    rows,
  );
}

/** The learning-rate sweep: one row per (variant, rate), the chosen rate in bold. */
export function sweepTableMarkdown(result: StudyResult): string | null {
  const sweep = result.sweep;
  if (!sweep) return null;
  const labelOf = new Map(result.variants.map((v) => [v.id, v.label]));
  const rows = sweep.trials.map((t) => {
    const chosen = sweep.chosen[t.variant] === t.learningRate;
    const rate = formatRate(t.learningRate);
    return [
      labelOf.get(t.variant) ?? t.variant,
      chosen ? `**${rate}**` : rate,
      t.diverged ? 'diverged' : t.validationAccuracy === null ? '—' : percent(t.validationAccuracy),
      t.validationLoss === null ? '—' : t.validationLoss.toFixed(4),
    ];
  });
  return table(['optimizer', 'learning rate', 'validation accuracy', 'validation loss'], rows);
}

/** Means over the watched steps of one epoch, per variant and layer. */
function flowMeans(v: VariantResult, epoch: number, field: 'inactiveFraction' | 'deadUnitFraction' | 'gradientNorm'): Map<string, number | null> {
  const out = new Map<string, number | null>();
  for (const layer of v.gradientFlow?.layers ?? []) {
    const values = v.gradientFlow!.points.filter((p) => p.layer === layer && p.epoch === epoch && p[field] !== null).map((p) => p[field] as number);
    out.set(layer, values.length ? values.reduce((a, b) => a + b, 0) / values.length : null);
  }
  return out;
}

/**
 * The gradient-flow view as tables, for the first and last epoch: inactive
 * (dead or saturated) share of outputs and dead units per activation layer,
 * and the weight-gradient norm per layer (means over the watched steps of
 * that epoch and over seeds).
 */
export function gradientFlowTablesMarkdown(result: StudyResult): string | null {
  const flows = result.variants.filter((v) => v.gradientFlow !== null);
  if (flows.length === 0) return null;
  const layers = flows[0].gradientFlow!.layers;
  const epochs = [...new Set([1, result.settings.epochs])];
  const activationLayers = layers.filter((layer) => flows.some((v) => v.gradientFlow!.points.some((p) => p.layer === layer && p.inactiveFraction !== null)));
  const parts: string[] = [];
  for (const epoch of epochs) {
    const inactiveRows = flows.map((v) => {
      const inactive = flowMeans(v, epoch, 'inactiveFraction');
      const dead = flowMeans(v, epoch, 'deadUnitFraction');
      return [
        v.label,
        v.gradientFlow!.definition,
        ...activationLayers.map((layer) => {
          const a = inactive.get(layer);
          const d = dead.get(layer);
          return a === null || a === undefined ? '—' : `${percent(a, 1)} (dead units ${percent(d ?? 0, 1)})`;
        }),
      ];
    });
    parts.push(
      `Inactive outputs per layer, epoch ${epoch} (dead units: inactive for the whole batch):\n\n${table(['activation', 'inactive means', ...activationLayers], inactiveRows)}`,
    );
    const normRows = flows.map((v) => {
      const norms = flowMeans(v, epoch, 'gradientNorm');
      const first = norms.get(layers[0]);
      const last = norms.get(layers[layers.length - 1]);
      return [
        v.label,
        ...layers.map((layer) => {
          const n = norms.get(layer);
          return n === null || n === undefined ? '—' : n.toPrecision(3);
        }),
        first && last ? (first / last).toPrecision(3) : '—',
      ];
    });
    parts.push(
      `Weight-gradient norm ‖∂loss/∂W‖ per layer, epoch ${epoch}:\n\n${table(['activation', ...layers, `${layers[0]} ÷ ${layers[layers.length - 1]}`], normRows)}`,
    );
  }
  return parts.join('\n\n');
}

export interface StudyMarkdownOptions {
  /** The command that produced the result. */
  command?: string;
  /** Image paths relative to the Markdown file. */
  figure?: string;
  gradientFlowFigure?: string;
}

/** A self-contained Markdown section: question, settings, command, figures and tables. */
export function studyMarkdown(result: StudyResult, options: StudyMarkdownOptions = {}): string {
  const s = result.settings;
  const runs = result.variants.reduce((n, v) => n + v.runs.length, 0) + (result.sweep?.trials.length ?? 0);
  const lines: string[] = [
    `## ${result.title}`,
    '',
    result.question,
    '',
    `Settings: LeNet-5, ${s.trainSize} training / ${s.testSize} test images, batch ${s.batchSize}, ${s.epochs} epoch${s.epochs === 1 ? '' : 's'}, seeds ${s.seeds.join(', ')}; ` +
      `${runs} training runs${result.sweep ? ` (${result.sweep.trials.length} of them for the learning-rate sweep)` : ''} in ${formatSeconds(result.totalSeconds)}. ` +
      'Accuracies are mean ± sample standard deviation over the seeds.',
  ];
  if (options.command) lines.push('', `Command: \`${options.command}\``);
  if (options.figure) lines.push('', `![${result.title}](${options.figure})`);
  lines.push('', resultsTableMarkdown(result));
  const sweep = sweepTableMarkdown(result);
  if (sweep && result.sweep) {
    const r = result.sweep;
    lines.push(
      '',
      `Learning-rate sweep (seed ${r.seed}, ${r.epochs} epoch${r.epochs === 1 ? '' : 's'}, trained on ${r.trainSize} training images and scored on the other ${r.validationSize}; the test set is not used; in bold the rate chosen: the smallest within one standard error of the best validation accuracy):`,
      '',
      sweep,
    );
  }
  const flow = gradientFlowTablesMarkdown(result);
  if (flow) {
    if (options.gradientFlowFigure) lines.push('', `![${result.title}: gradient flow](${options.gradientFlowFigure})`);
    lines.push('', flow);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * JSON text with numbers rounded to `significant` digits, and arrays or
 * objects of plain values (per-step losses, epoch records, gradient-flow
 * points) on one line each, so the files stay small and diff well.
 */
export function studyResultJson(result: StudyResult, significant = 6): string {
  return `${compactJson(result, '', significant)}\n`;
}

function compactJson(value: unknown, indent: string, significant: number): string {
  if (value === null || value === undefined || typeof value !== 'object') return plainJson(value, significant);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every(isPlain)) return `[${value.map((v) => plainJson(v, significant)).join(', ')}]`;
    return `[\n${value.map((v) => inner + compactJson(v, inner, significant)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined && typeof v !== 'function');
  if (entries.length === 0) return '{}';
  if (entries.every(([, v]) => isPlain(v))) return `{ ${entries.map(([k, v]) => `${JSON.stringify(k)}: ${plainJson(v, significant)}`).join(', ')} }`;
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${compactJson(v, inner, significant)}`).join(',\n')}\n${indent}}`;
}

const isPlain = (v: unknown) => v === null || typeof v !== 'object';

/** One plain value as JSON: non-finite numbers become null (as in JSON.stringify), fractions are rounded. */
function plainJson(v: unknown, significant: number): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return 'null';
    return JSON.stringify(Number.isInteger(v) ? v : Number(v.toPrecision(significant)));
  }
  return JSON.stringify(v ?? null);
}
