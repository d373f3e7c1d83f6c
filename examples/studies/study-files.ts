/**
 * A study's output files: `<study>.json` (every run, the means and the
 * sweep), `<study>.md` (tables), `<study>.svg` / `.png` (curves) and, for the
 * activation study, `<study>-gradient-flow.svg` / `.png`. Node only.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { DataError } from '@ndgraph/graph';
import { join } from 'node:path';
import { renderSvg } from '@ndgraph/nn';
import { svgToPng, writeFileAtomic } from '@ndgraph/nn/node';
import { gradientFlowSpec, studyCurvesSpec } from './figures.ts';
import { studyMarkdown, studyResultJson } from './report.ts';
import type { StudyResult } from './runner.ts';

export interface StudyFiles {
  json: string;
  markdown: string;
  figureSvg: string;
  figurePng: string;
  /** Only for studies that recorded gradient flow. */
  gradientFlowSvg?: string;
  gradientFlowPng?: string;
}

export interface StudyFileOptions {
  /** The command that produced the result, quoted in the Markdown. */
  command?: string;
  /** PNG width relative to the SVG's (default 2, for sharp text). */
  pngScale?: number;
}

const utf8 = (text: string) => new TextEncoder().encode(text);

function svgWidth(svg: string): number {
  const match = /<svg[^>]*\swidth="([\d.]+)"/.exec(svg);
  return match ? Number(match[1]) : 800;
}

async function writeFigure(svgPath: string, pngPath: string, svg: string, scale: number): Promise<void> {
  writeFileAtomic(svgPath, utf8(svg));
  writeFileAtomic(pngPath, svgToPng(svg, { width: scale * svgWidth(svg) }));
}

/** Writes the study's files into `dir` (created if missing) and returns their paths. */
export async function writeStudyFiles(dir: string, result: StudyResult, options: StudyFileOptions = {}): Promise<StudyFiles> {
  mkdirSync(dir, { recursive: true });
  const name = result.study;
  const scale = options.pngScale ?? 2;
  const files: StudyFiles = {
    json: join(dir, `${name}.json`),
    markdown: join(dir, `${name}.md`),
    figureSvg: join(dir, `${name}.svg`),
    figurePng: join(dir, `${name}.png`),
  };
  await writeFigure(files.figureSvg, files.figurePng, await renderSvg(studyCurvesSpec(result)), scale);
  const hasFlow = result.variants.some((v) => v.gradientFlow !== null);
  if (hasFlow) {
    files.gradientFlowSvg = join(dir, `${name}-gradient-flow.svg`);
    files.gradientFlowPng = join(dir, `${name}-gradient-flow.png`);
    await writeFigure(files.gradientFlowSvg, files.gradientFlowPng, await renderSvg(gradientFlowSpec(result)), scale);
  }
  writeFileAtomic(files.json, utf8(studyResultJson(result)));
  const markdown = studyMarkdown(result, {
    command: options.command,
    figure: `${name}.png`,
    gradientFlowFigure: hasFlow ? `${name}-gradient-flow.png` : undefined,
  });
  writeFileAtomic(files.markdown, utf8(markdown));
  return files;
}

/** Reads a `<study>.json` written by `writeStudyFiles` (to redraw figures and tables without training again). */
export function readStudyResult(path: string): StudyResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new DataError(`${path}: could not read study results (${(error as Error).message})`);
  }
  const result = parsed as Partial<StudyResult> | null;
  if (result?.format !== 'ndgraph-study/1' || !Array.isArray(result.variants)) {
    throw new DataError(`${path}: expected study results with format 'ndgraph-study/1', found ${JSON.stringify(result?.format)}`);
  }
  return result as StudyResult;
}
