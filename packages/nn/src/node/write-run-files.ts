/**
 * A run's output files: metrics (JSON and CSV) and the training curve (SVG
 * and PNG). Each file is written atomically, so a reader (or a crash) never
 * sees half a file. Node only.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { MetricsLog } from '../metrics.ts';
import { renderSvg, trainingCurveSpec, type CurveOptions } from '../plot.ts';
import { writeFileAtomic } from './checkpoint-file.ts';
import { svgToPng } from './png.ts';

export interface RunFileOptions extends CurveOptions {
  /** PNG width in pixels (default: twice the SVG's width, for sharp text). */
  pngWidth?: number;
}

/** Paths of the files written. */
export interface RunFiles {
  metricsJson: string;
  stepsCsv: string;
  epochsCsv: string;
  curveSvg: string;
  curvePng: string;
}

const utf8 = (text: string) => new TextEncoder().encode(text);

/**
 * Writes metrics.json, metrics.csv (one row per step), epochs.csv (one row
 * per epoch), curve.svg and curve.png into `dir` (created if missing).
 */
export async function writeRunFiles(dir: string, metrics: MetricsLog, options: RunFileOptions): Promise<RunFiles> {
  mkdirSync(dir, { recursive: true });
  const files: RunFiles = {
    metricsJson: join(dir, 'metrics.json'),
    stepsCsv: join(dir, 'metrics.csv'),
    epochsCsv: join(dir, 'epochs.csv'),
    curveSvg: join(dir, 'curve.svg'),
    curvePng: join(dir, 'curve.png'),
  };
  const svg = await renderSvg(trainingCurveSpec(metrics, options));
  const csv = metrics.toCSV();
  writeFileAtomic(files.metricsJson, utf8(`${JSON.stringify(metrics.toJSON(), null, 2)}\n`));
  writeFileAtomic(files.stepsCsv, utf8(csv.steps));
  writeFileAtomic(files.epochsCsv, utf8(csv.epochs));
  writeFileAtomic(files.curveSvg, utf8(svg));
  writeFileAtomic(files.curvePng, svgToPng(svg, { width: options.pngWidth ?? 2 * svgWidth(svg) }));
  return files;
}

/** The width attribute of the root <svg> element. */
function svgWidth(svg: string): number {
  const match = /<svg[^>]*\swidth="([\d.]+)"/.exec(svg);
  return match ? Number(match[1]) : 800;
}
