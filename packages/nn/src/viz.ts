/**
 * Graph pictures: DOT text (from `toDot` in @ndgraph/graph) to SVG with
 * Graphviz compiled to WebAssembly (@viz-js/viz). Works in Node and in the
 * browser; layout is entirely Graphviz's.
 *
 *   const svg = await renderDotToSvg(toDot([loss], { report }));
 */
import { instance, type Viz } from '@viz-js/viz';

let vizInstance: Promise<Viz> | undefined;

/** The Graphviz instance, created once per process (compiling the WebAssembly module takes a moment). */
function graphviz(): Promise<Viz> {
  vizInstance ??= instance();
  return vizInstance;
}

export interface RenderDotOptions {
  /** Graphviz layout engine. Default 'dot' (layered, for dataflow graphs). */
  engine?: 'dot' | 'neato' | 'fdp' | 'sfdp' | 'circo' | 'twopi' | 'osage' | 'patchwork';
}

/** Lays out and renders DOT text to an SVG document. Throws with Graphviz's message on a syntax error. */
export async function renderDotToSvg(dot: string, options: RenderDotOptions = {}): Promise<string> {
  const viz = await graphviz();
  return viz.renderString(dot, { format: 'svg', engine: options.engine ?? 'dot' });
}
