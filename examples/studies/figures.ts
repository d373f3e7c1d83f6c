/**
 * A study's figures as vega-lite specs (render them with `renderSvg`):
 *   studyCurvesSpec    test accuracy per epoch (mean over seeds, with a ±1 std
 *                      band) and training loss per step (mean over seeds,
 *                      moving average), one color per variant.
 *   gradientFlowSpec   per layer, the inactive (dead or saturated) fraction of
 *                      the activation outputs and the weight-gradient norm
 *                      over training, one color per variant.
 * Browser-safe.
 */
import { movingAverage, plotParts, type renderSvg } from '@ndgraph/nn';
import type { StudyResult } from './runner.ts';

/** A vega-lite spec, as `renderSvg` takes it (vega-lite itself is a dependency of @ndgraph/nn, not of the examples). */
type TopLevelSpec = Parameters<typeof renderSvg>[0];

/** Tableau 10: distinct enough for the eight variants of the largest study. */
const COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const CONFIG = {
  font: 'sans-serif',
  legend: { orient: 'bottom', direction: 'vertical', columns: 3, title: null, labelLimit: 300, symbolType: 'stroke', symbolStrokeWidth: 3, symbolOpacity: 1 },
  axis: { grid: true },
};

export interface StudyFigureOptions {
  /** Panel width and height in pixels (default 380 x 250 for curves, 170 x 130 for gradient-flow panels). */
  width?: number;
  height?: number;
  /** Moving-average window in steps for the loss curves (default: about 1/50 of the steps). */
  smoothingWindow?: number;
}

const { SCHEMA, epochX, accuracyY, trainingLossPanel } = plotParts;

const toNumber = (v: number | null | undefined): number => (v === null || v === undefined ? NaN : v);
/** JSON has no NaN: vega reads null as a gap. */
const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

function colorScale(labels: readonly string[]): object {
  return { field: 'variant', type: 'nominal', title: null, scale: { domain: labels, range: COLORS.slice(0, Math.max(1, labels.length)) }, sort: labels };
}

export function studyCurvesSpec(result: StudyResult, options: StudyFigureOptions = {}): TopLevelSpec {
  const { width = 380, height = 250 } = options;
  const labels = result.variants.map((v) => v.label);
  const color = colorScale(labels);
  const accuracyRows = result.variants.flatMap((v) =>
    v.epochs.map((e) => {
      const mean = toNumber(e.testAccuracy.mean);
      const std = e.testAccuracy.std ?? 0;
      return {
        variant: v.label,
        epoch: e.epoch,
        accuracy: finiteOrNull(mean),
        low: finiteOrNull(mean - std),
        high: finiteOrNull(mean + std),
        seeds: e.testAccuracy.n,
      };
    }),
  );
  const lossRows = result.variants.flatMap((v) => {
    const window = options.smoothingWindow ?? Math.max(1, Math.round(v.stepLoss.length / 50));
    const smoothed = movingAverage(v.stepLoss.map(toNumber), window);
    // Positive values only: the axis is logarithmic.
    return smoothed.map((loss, i) => ({ variant: v.label, step: i + 1, loss: loss > 0 ? finiteOrNull(loss) : null }));
  });
  const seeds = result.settings.seeds.length;
  const zoom = zoomDomain(result);
  const reaches = new Set(result.variants.filter((v) => zoom && v.epochs.some((e) => (e.testAccuracy.mean ?? 0) >= zoom[0])).map((v) => v.label));
  const accuracyPanel = (title: string, domain: [number, number] | null) => ({
    title,
    width,
    height,
    // A zoomed panel leaves out the variants that never reach its range (and the renderer chokes on marks clipped away entirely).
    data: { values: domain ? accuracyRows.filter((r) => reaches.has(r.variant)) : accuracyRows },
    layer: [
      {
        mark: { type: 'area', opacity: 0.15, clip: domain !== null },
        encoding: {
          x: epochX(),
          y: accuracyY('low', 'test accuracy', domain ? { domain } : { zero: false }),
          y2: { field: 'high' },
          color,
        },
      },
      {
        mark: { type: 'line', point: true, strokeWidth: 2, clip: domain !== null },
        encoding: {
          x: { field: 'epoch', type: 'quantitative' },
          y: { field: 'accuracy', type: 'quantitative' },
          color,
        },
      },
    ],
  });
  const panels: object[] = [accuracyPanel('Test accuracy', null)];
  if (zoom) panels.push(accuracyPanel(`Test accuracy, ${(zoom[0] * 100).toFixed(0)}–${(zoom[1] * 100).toFixed(0)}% (zoom)`, zoom));
  panels.push(trainingLossPanel(width, height, lossRows, 'training loss (moving average, log scale)', color, { type: 'log' }));
  return {
    $schema: SCHEMA,
    title: {
      text: `${result.title}: LeNet-5 on MNIST`,
      subtitle: `${result.settings.trainSize} train / ${result.settings.testSize} test images, ${result.settings.epochs} epochs, mean of ${seeds} seed${seeds === 1 ? '' : 's'}${seeds > 1 ? ' (band: ±1 std)' : ''}`,
      fontSize: 16,
    },
    background: 'white',
    config: CONFIG,
    hconcat: panels,
  } as TopLevelSpec;
}

/**
 * When some variant stays far below the best (at chance, say), the full
 * accuracy axis squeezes the others into a few pixels: then a second panel
 * zooms on the 4 points below the best final mean accuracy. Null when the
 * full axis is already narrow enough.
 */
function zoomDomain(result: StudyResult): [number, number] | null {
  const finals = result.variants.map((v) => v.summary.finalTestAccuracy.mean).filter((a): a is number => a !== null);
  const all = result.variants.flatMap((v) => v.epochs.map((e) => e.testAccuracy.mean)).filter((a): a is number => a !== null);
  if (finals.length === 0 || all.length === 0) return null;
  const low = Math.floor((Math.max(...finals) - 0.04) * 100) / 100;
  const high = Math.min(1, Math.ceil((Math.max(...all) + 0.005) * 100) / 100);
  return Math.min(...all) < low - 0.04 ? [low, high] : null;
}

type FlowField = 'inactiveFraction' | 'gradientNorm';

/** Throws when the result has no gradient-flow records (only the activation study records them). */
export function gradientFlowSpec(result: StudyResult, options: StudyFigureOptions = {}): TopLevelSpec {
  const { width = 170, height = 130 } = options;
  const flows = result.variants.filter((v) => v.gradientFlow !== null);
  if (flows.length === 0) throw new RangeError(`study '${result.study}' has no gradient-flow records`);
  const labels = flows.map((v) => v.label);
  const color = colorScale(labels);
  const layers = flows[0].gradientFlow!.layers;

  const rows = (field: FlowField, layer: string) =>
    flows.flatMap((v) => {
      const points = v.gradientFlow!.points.filter((p) => p.layer === layer);
      const values = points.map((p) => toNumber(p[field]));
      if (values.every((x) => !Number.isFinite(x))) return [];
      const smoothed = movingAverage(values, options.smoothingWindow ?? Math.max(1, Math.round(values.length / 25)));
      return points.map((p, i) => ({
        variant: v.label,
        step: p.step,
        value: field === 'gradientNorm' && !(smoothed[i] > 0) ? null : finiteOrNull(smoothed[i]),
      }));
    });

  const panel = (field: FlowField, layer: string, yTitle: string) => ({
    title: layer,
    width,
    height,
    data: { values: rows(field, layer) },
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y:
        field === 'gradientNorm'
          ? { field: 'value', type: 'quantitative', title: yTitle, scale: { type: 'log' } }
          : { field: 'value', type: 'quantitative', title: yTitle, scale: { domain: [0, 1] }, axis: { format: '.0%' } },
      color,
    },
  });
  const activationLayers = layers.filter((layer) => flows.some((v) => v.gradientFlow!.points.some((p) => p.layer === layer && p.inactiveFraction !== null)));
  const every = flows[0].gradientFlow!.everySteps;
  return {
    $schema: SCHEMA,
    title: {
      text: `${result.title}: dead units and gradient flow per layer`,
      subtitle: [
        `top: share of activation outputs that are inactive (relu: exactly 0; leaky relu, elu: ≤ 0; sigmoid: outside [0.01, 0.99]; tanh: |y| > 0.99)`,
        `bottom: L2 norm of the layer's weight gradient (log scale); every ${every} steps, mean of ${result.settings.seeds.length} seed(s), moving average`,
      ],
      fontSize: 16,
    },
    background: 'white',
    config: CONFIG,
    vconcat: [
      { hconcat: activationLayers.map((layer, i) => panel('inactiveFraction', layer, i === 0 ? 'inactive outputs' : '')) },
      { hconcat: layers.map((layer, i) => panel('gradientNorm', layer, i === 0 ? '‖∂loss/∂W‖' : '')) },
    ],
  } as TopLevelSpec;
}
