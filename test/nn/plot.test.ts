import { describe, it, expect, afterAll } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsLog, compareCurvesSpec, movingAverage, renderSvg, trainingCurveSpec } from '@ndgraph/nn';
import { svgToPng, writeRunFiles } from '@ndgraph/nn/node';

/** 3 epochs of 4 steps each, losses falling; values chosen to be easy to find in the spec. */
function runLog(scale = 1): MetricsLog {
  const log = new MetricsLog({ optimizer: 'sgd' });
  let step = 0;
  for (let epoch = 1; epoch <= 3; epoch++) {
    for (let k = 0; k < 4; k++) {
      step++;
      log.recordStep({ step, epoch, loss: (2 / step) * scale, accuracy: step / 12 });
    }
    log.recordEpoch({
      epoch,
      step,
      trainLoss: 1 / epoch,
      trainAccuracy: 0.5 + 0.1 * epoch,
      testLoss: 1.2 / epoch,
      testAccuracy: 0.45 + 0.1 * epoch,
      seconds: 1,
      imagesPerSecond: 100,
    });
  }
  return log;
}

// Minimal views of the spec, for reading it in tests.
interface Layer {
  data: { values: Record<string, unknown>[] };
  mark: { type: string };
  encoding: Record<string, { field?: string; title?: string }>;
}
interface Panel extends Partial<Layer> {
  title: string;
  layer?: Layer[];
}
interface Spec {
  title: { text: string };
  hconcat: Panel[];
}

describe('movingAverage', () => {
  it('is the trailing mean over the window (shorter at the start)', () => {
    expect(movingAverage([1, 2, 3, 4, 5], 2)).toEqual([1, 1.5, 2.5, 3.5, 4.5]);
    expect(movingAverage([3, 6, 9, 0], 3)).toEqual([3, 4.5, 6, 5]);
    expect(movingAverage([1, 2], 1)).toEqual([1, 2]);
  });
  it('skips non-finite values', () => {
    expect(movingAverage([2, NaN, 4, 6], 2)).toEqual([2, 2, 4, 5]);
  });
});

describe('trainingCurveSpec', () => {
  const spec = trainingCurveSpec(runLog(), { title: 'LeNet-5 test run', smoothingWindow: 2 }) as unknown as Spec;

  it('has a title and two panels: loss and accuracy', () => {
    expect(spec.title.text).toBe('LeNet-5 test run');
    expect(spec.hconcat.map((p) => p.title)).toEqual(['Loss', 'Accuracy']);
  });

  it('loss panel: per-step training loss, its moving average and per-epoch test loss against step', () => {
    const layers = spec.hconcat[0].layer!;
    expect(layers.length).toBe(3);
    for (const l of layers) {
      expect(l.mark.type).toBe('line');
      expect(l.encoding.x.field).toBe('step');
      expect(l.encoding.y.field).toBe('loss');
    }
    expect(layers[0].data.values.map((r) => r.loss)).toEqual(Array.from({ length: 12 }, (_, i) => 2 / (i + 1)));
    expect(layers[0].data.values.map((r) => r.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(layers[1].data.values.slice(0, 3).map((r) => r.loss)).toEqual([2, 1.5, (1 + 2 / 3) / 2]);
    expect(layers[2].data.values).toEqual([
      { step: 4, loss: 1.2, series: 'test loss (per epoch)' },
      { step: 8, loss: 1.2 / 2, series: 'test loss (per epoch)' },
      { step: 12, loss: 1.2 / 3, series: 'test loss (per epoch)' },
    ]);
  });

  it('accuracy panel: train and test accuracy per epoch', () => {
    const acc = spec.hconcat[1];
    expect(acc.encoding!.x.field).toBe('epoch');
    expect(acc.encoding!.y.field).toBe('accuracy');
    expect(acc.encoding!.color.field).toBe('series');
    const rows = acc.data!.values;
    expect(rows.filter((r) => r.series === 'train accuracy').map((r) => [r.epoch, r.accuracy])).toEqual([1, 2, 3].map((e) => [e, 0.5 + 0.1 * e]));
    expect(rows.filter((r) => r.series === 'test accuracy').map((r) => r.accuracy)).toEqual([1, 2, 3].map((e) => 0.45 + 0.1 * e));
  });

  it('without smoothing there is no moving-average layer', () => {
    const raw = trainingCurveSpec(runLog(), { title: 't', smoothingWindow: 1 }) as unknown as Spec;
    expect(raw.hconcat[0].layer!.length).toBe(2);
  });

  it('accepts toJSON() output as well as a MetricsLog', () => {
    expect(trainingCurveSpec(runLog().toJSON(), { title: 'x', smoothingWindow: 2 })).toEqual(trainingCurveSpec(runLog(), { title: 'x', smoothingWindow: 2 }));
  });

  it('renders to SVG with the title and the axis labels', async () => {
    const svg = await renderSvg(trainingCurveSpec(runLog(), { title: 'LeNet-5 test run' }));
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('LeNet-5 test run');
    for (const text of ['Loss', 'Accuracy', '>step<', '>loss<', '>epoch<', '>accuracy<', 'test accuracy']) expect(svg).toContain(text);
  });
});

describe('compareCurvesSpec', () => {
  const runs = [
    { label: 'sgd', metrics: runLog(1) },
    { label: 'adam', metrics: runLog(0.5) },
  ];
  const spec = compareCurvesSpec(runs, { title: 'Optimizers', smoothingWindow: 1 }) as unknown as Spec;

  it('overlays test accuracy per epoch and training loss per step, colored by run label', () => {
    expect(spec.hconcat.map((p) => p.title)).toEqual(['Test accuracy', 'Training loss']);
    const [acc, loss] = spec.hconcat;
    expect(acc.encoding!.x.field).toBe('epoch');
    expect(acc.encoding!.y.field).toBe('testAccuracy');
    expect(acc.encoding!.color.field).toBe('run');
    expect(loss.encoding!.x.field).toBe('step');
    expect(loss.encoding!.color.field).toBe('run');
    expect(acc.data!.values.filter((r) => r.run === 'adam').length).toBe(3);
    expect(loss.data!.values.filter((r) => r.run === 'adam').map((r) => r.loss)).toEqual(Array.from({ length: 12 }, (_, i) => 1 / (i + 1)));
  });

  it('renders with both labels in the legend', async () => {
    const svg = await renderSvg(spec as never);
    expect(svg).toContain('Optimizers');
    expect(svg).toContain('>sgd<');
    expect(svg).toContain('>adam<');
  });
});

describe('PNG and run files', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  /** Width and height from the IHDR chunk (bytes 16..23, big-endian). */
  const pngSize = (png: Uint8Array) => {
    const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
    return { width: view.getUint32(16), height: view.getUint32(20) };
  };
  const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

  it('svgToPng starts with the PNG signature and has the requested width', async () => {
    const svg = await renderSvg(trainingCurveSpec(runLog(), { title: 'png test' }));
    const png = svgToPng(svg, { width: 640 });
    expect(Array.from(png.subarray(0, 8))).toEqual(PNG_SIGNATURE);
    expect(pngSize(png).width).toBe(640);
    const svgWidth = Number(/<svg[^>]*\swidth="([\d.]+)"/.exec(svg)![1]);
    const svgHeight = Number(/<svg[^>]*\sheight="([\d.]+)"/.exec(svg)![1]);
    expect(pngSize(png).height).toBeCloseTo((640 * svgHeight) / svgWidth, -1);
    expect(pngSize(svgToPng(svg)).width).toBe(svgWidth);
  });

  it('writeRunFiles writes metrics.json, metrics.csv, epochs.csv, curve.svg and curve.png', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ndgraph-run-'));
    dirs.push(dir);
    const out = join(dir, 'nested', 'run1');
    const log = runLog();
    const files = await writeRunFiles(out, log, { title: 'Run one', pngWidth: 500 });
    expect(files.metricsJson).toBe(join(out, 'metrics.json'));
    expect(readdirSync(out).sort()).toEqual(['curve.png', 'curve.svg', 'epochs.csv', 'metrics.csv', 'metrics.json']); // no temp files left
    expect(JSON.parse(readFileSync(files.metricsJson, 'utf8'))).toEqual(log.toJSON());
    expect(readFileSync(files.stepsCsv, 'utf8')).toBe(log.toCSV().steps);
    expect(readFileSync(files.epochsCsv, 'utf8').split('\n')[1]).toBe('1,4,1,0.6,1.2,0.55,1,100');
    expect(readFileSync(files.curveSvg, 'utf8')).toContain('Run one');
    const png = new Uint8Array(readFileSync(files.curvePng));
    expect(Array.from(png.subarray(0, 8))).toEqual(PNG_SIGNATURE);
    expect(pngSize(png).width).toBe(500);
    // Writing again replaces the files in place.
    log.recordStep({ step: 13, epoch: 4, loss: 0.1 });
    await writeRunFiles(out, log, { title: 'Run one' });
    expect(readFileSync(files.stepsCsv, 'utf8').trim().split('\n').pop()).toBe('13,4,0.1,,,');
    expect(existsSync(files.curvePng)).toBe(true);
  });
});
