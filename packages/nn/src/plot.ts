/**
 * Training curves as vega-lite specs, rendered to SVG headlessly (no canvas,
 * no DOM). Browser-safe: the same specs can be handed to vega-embed in a page.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { EpochRecord, StepRecord } from './metrics.ts';
import { SCHEMA, accuracyY, epochX, trainingLossPanel } from './vega-parts.ts';

/** What the plots read: a MetricsLog, or its toJSON() output. */
export interface CurveData {
  steps: readonly StepRecord[];
  epochs: readonly EpochRecord[];
}

export interface CurveOptions {
  title: string;
  /** Width and height of each panel in pixels (default 360 x 240). */
  width?: number;
  height?: number;
  /**
   * Trailing moving-average window (in step records) for the smoothed
   * training-loss line. Default: about 1/50 of the logged steps; 1 = no smoothing.
   */
  smoothingWindow?: number;
}

const SERIES_COLORS = ['#4c78a8', '#1f3f73', '#e45756', '#54a24b', '#f58518', '#b279a2', '#72b7b2', '#eeca3b', '#9d755d', '#bab0ac'];
// Legends go under each panel, one entry per row so long series names are not cut.
const CONFIG = {
  font: 'sans-serif',
  legend: { orient: 'bottom', direction: 'vertical', title: null, labelLimit: 400, symbolType: 'stroke', symbolStrokeWidth: 3, symbolOpacity: 1 },
  axis: { grid: true },
};

/**
 * Mean of the last `window` values at each position (fewer at the start).
 * Summed afresh for each position rather than as a running sum, whose
 * rounding errors would build up over a long run.
 */
export function movingAverage(values: readonly number[], window: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) {
    let sum = 0;
    let count = 0;
    for (let k = Math.max(0, i - window + 1); k <= i; k++) {
      // NaN or infinite losses are skipped so one bad step does not blank the curve.
      if (Number.isFinite(values[k])) {
        sum += values[k];
        count++;
      }
    }
    out.push(count > 0 ? sum / count : NaN);
  }
  return out;
}

function defaultWindow(stepCount: number): number {
  return Math.max(1, Math.round(stepCount / 50));
}

/** JSON cannot hold NaN: vega treats null as a missing value and breaks the line there. */
const finiteOrNull = (v: number | undefined): number | null => (v !== undefined && Number.isFinite(v) ? v : null);

/**
 * Two panels side by side: "Loss" (training loss per step, its moving
 * average, and test loss per epoch at the epoch's last step) and "Accuracy"
 * (train and test accuracy per epoch).
 */
export function trainingCurveSpec(metrics: CurveData, options: CurveOptions): TopLevelSpec {
  const { title, width = 360, height = 240 } = options;
  const window = options.smoothingWindow ?? defaultWindow(metrics.steps.length);

  const lossSeries: string[] = ['train loss (per step)'];
  const lossLayers: object[] = [
    lineLayer(
      metrics.steps.map((r) => ({ step: r.step, loss: finiteOrNull(r.loss), series: 'train loss (per step)' })),
      'step',
      'loss',
      { opacity: 0.35, strokeWidth: 1 },
    ),
  ];
  if (window > 1) {
    const smoothed = movingAverage(
      metrics.steps.map((r) => r.loss),
      window,
    );
    const name = `train loss (moving average of ${window})`;
    lossSeries.push(name);
    lossLayers.push(
      lineLayer(
        metrics.steps.map((r, i) => ({ step: r.step, loss: finiteOrNull(smoothed[i]), series: name })),
        'step',
        'loss',
        { strokeWidth: 2 },
      ),
    );
  }
  lossSeries.push('test loss (per epoch)');
  lossLayers.push(
    lineLayer(
      metrics.epochs.map((r) => ({ step: r.step, loss: finiteOrNull(r.testLoss), series: 'test loss (per epoch)' })),
      'step',
      'loss',
      { strokeWidth: 2, point: true },
    ),
  );

  const accuracyRows = metrics.epochs.flatMap((r) => [
    { epoch: r.epoch, accuracy: finiteOrNull(r.trainAccuracy), series: 'train accuracy' },
    { epoch: r.epoch, accuracy: finiteOrNull(r.testAccuracy), series: 'test accuracy' },
  ]);

  return {
    $schema: SCHEMA,
    title: { text: title, fontSize: 16 },
    background: 'white',
    config: CONFIG,
    hconcat: [
      {
        title: 'Loss',
        width,
        height,
        layer: lossLayers.map((layer) => withColor(layer, lossSeries, SERIES_COLORS)),
      },
      accuracyPanel('Accuracy', width, height, accuracyRows, accuracyY('accuracy', 'accuracy'), {
        field: 'series',
        type: 'nominal',
        scale: { domain: ['train accuracy', 'test accuracy'], range: [SERIES_COLORS[0], SERIES_COLORS[2]] },
      }),
    ],
    resolve: { scale: { color: 'independent' } },
  } as TopLevelSpec;
}

/** A line layer over its own inline rows, with x and y as quantitative fields. */
function lineLayer(values: object[], x: string, y: string, mark: object): object {
  return {
    data: { values },
    mark: { type: 'line', ...mark },
    encoding: {
      x: { field: x, type: 'quantitative', title: x },
      y: { field: y, type: 'quantitative', title: y },
    },
  };
}

/** A panel of per-epoch accuracy lines with points, over its own inline rows. */
function accuracyPanel(title: string, width: number, height: number, values: object[], y: object, color: object): object {
  return {
    title,
    width,
    height,
    data: { values },
    mark: { type: 'line', point: true, strokeWidth: 2 },
    encoding: { x: epochX(), y, color },
  };
}

function withColor(layer: object, domain: string[], range: string[]): object {
  const l = layer as { encoding: Record<string, unknown> };
  return { ...l, encoding: { ...l.encoding, color: { field: 'series', type: 'nominal', scale: { domain, range: range.slice(0, domain.length) } } } };
}

export interface CompareRun {
  label: string;
  metrics: CurveData;
}

/**
 * Several runs overlaid, one color per run label: "Test accuracy" per epoch,
 * and "Training loss" per step (each run's moving average, window as in
 * trainingCurveSpec unless given).
 */
export function compareCurvesSpec(runs: readonly CompareRun[], options: CurveOptions): TopLevelSpec {
  const { title, width = 360, height = 240 } = options;
  const labels = runs.map((r) => r.label);
  const accuracyRows = runs.flatMap((run) => run.metrics.epochs.map((r) => ({ epoch: r.epoch, testAccuracy: finiteOrNull(r.testAccuracy), run: run.label })));
  const lossRows = runs.flatMap((run) => {
    const window = options.smoothingWindow ?? defaultWindow(run.metrics.steps.length);
    const smoothed = movingAverage(
      run.metrics.steps.map((r) => r.loss),
      window,
    );
    return run.metrics.steps.map((r, i) => ({ step: r.step, loss: finiteOrNull(smoothed[i]), run: run.label }));
  });
  const color = { field: 'run', type: 'nominal', title: null, scale: { domain: labels } };
  return {
    $schema: SCHEMA,
    title: { text: title, fontSize: 16 },
    background: 'white',
    config: CONFIG,
    hconcat: [
      accuracyPanel('Test accuracy', width, height, accuracyRows, accuracyY('testAccuracy', 'test accuracy'), color),
      trainingLossPanel(width, height, lossRows, 'training loss (moving average)', color),
    ],
  } as TopLevelSpec;
}

/**
 * Renders a vega-lite spec to SVG text without a browser or canvas
 * (vega's 'none' renderer; text widths are estimated).
 * vega and vega-lite are imported here, on first use, so that loading the
 * package (e.g. to train) does not pay for them.
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [{ compile }, { parse, View }] = await Promise.all([import('vega-lite'), import('vega')]);
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
