/**
 * Pieces of vega-lite specs in the style of the training plots (plot.ts),
 * for figures of your own (the seed article's study figures use them).
 * Exported as the `plotParts` namespace: `plotParts.epochX()`.
 */

export const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** The x encoding of per-epoch panels: whole epochs on the axis. */
export function epochX(): object {
  return { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } };
}

/** The y encoding of an accuracy: shown as a percentage, on an axis that need not start at zero. */
export function accuracyY(field: string, title: string, scale: object = { zero: false }): object {
  return { field, type: 'quantitative', title, scale, axis: { format: '.1%' } };
}

/** The "Training loss" panel: a line of `loss` against `step` per series of `color`. */
export function trainingLossPanel(width: number, height: number, values: object[], yTitle: string, color: object, yScale?: object): object {
  return {
    title: 'Training loss',
    width,
    height,
    data: { values },
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'loss', type: 'quantitative', title: yTitle, ...(yScale && { scale: yScale }) },
      color,
    },
  };
}
