import { describe, it, expect } from 'vitest';
import { DataError } from '@ndgraph/graph';
import { MetricsLog } from '@ndgraph/nn';

function sampleLog(): MetricsLog {
  const log = new MetricsLog({ model: 'lenet5', seed: 3 });
  log.recordStep({ step: 1, epoch: 1, loss: 2.5, accuracy: 0.125, learningRate: 0.01, imagesPerSecond: 1000 });
  log.recordStep({ step: 2, epoch: 1, loss: 1.75 });
  log.recordStep({ step: 3, epoch: 2, loss: 0.5, accuracy: 0.75 });
  log.recordEpoch({ epoch: 1, step: 2, trainLoss: 2.125, trainAccuracy: 0.25, testLoss: 1.5, testAccuracy: 0.5, seconds: 1.5, imagesPerSecond: 800 });
  log.recordEpoch({ epoch: 2, step: 3, trainLoss: 0.5, trainAccuracy: 0.75, testLoss: 0.625, testAccuracy: 0.875, seconds: 0.75, imagesPerSecond: 900 });
  return log;
}

describe('MetricsLog', () => {
  it('toJSON holds meta, steps and epochs', () => {
    expect(sampleLog().toJSON()).toEqual({
      meta: { model: 'lenet5', seed: 3 },
      steps: [
        { step: 1, epoch: 1, loss: 2.5, accuracy: 0.125, learningRate: 0.01, imagesPerSecond: 1000 },
        { step: 2, epoch: 1, loss: 1.75 },
        { step: 3, epoch: 2, loss: 0.5, accuracy: 0.75 },
      ],
      epochs: [
        { epoch: 1, step: 2, trainLoss: 2.125, trainAccuracy: 0.25, testLoss: 1.5, testAccuracy: 0.5, seconds: 1.5, imagesPerSecond: 800 },
        { epoch: 2, step: 3, trainLoss: 0.5, trainAccuracy: 0.75, testLoss: 0.625, testAccuracy: 0.875, seconds: 0.75, imagesPerSecond: 900 },
      ],
    });
  });

  it('toCSV writes a header and one row per record, optional values empty', () => {
    const csv = sampleLog().toCSV();
    expect(csv.steps).toBe('step,epoch,loss,accuracy,learningRate,imagesPerSecond\n' + '1,1,2.5,0.125,0.01,1000\n' + '2,1,1.75,,,\n' + '3,2,0.5,0.75,,\n');
    expect(csv.epochs).toBe(
      'epoch,step,trainLoss,trainAccuracy,testLoss,testAccuracy,seconds,imagesPerSecond\n' +
        '1,2,2.125,0.25,1.5,0.5,1.5,800\n' +
        '2,3,0.5,0.75,0.625,0.875,0.75,900\n',
    );
  });

  it('an empty log has header-only CSVs', () => {
    expect(new MetricsLog().toCSV()).toEqual({
      steps: 'step,epoch,loss,accuracy,learningRate,imagesPerSecond\n',
      epochs: 'epoch,step,trainLoss,trainAccuracy,testLoss,testAccuracy,seconds,imagesPerSecond\n',
    });
  });

  it('round-trips through JSON text (for resuming)', () => {
    const log = sampleLog();
    const back = MetricsLog.fromJSON(JSON.stringify(log.toJSON()));
    expect(back.toJSON()).toEqual(log.toJSON());
    expect(back.toCSV()).toEqual(log.toCSV());
    // And it keeps recording after the resume.
    back.recordStep({ step: 4, epoch: 2, loss: 0.25 });
    expect(back.steps.map((s) => s.step)).toEqual([1, 2, 3, 4]);
  });

  it('NaN and Infinity survive JSON (written as null, read back as NaN) and are spelled out in CSV', () => {
    const log = new MetricsLog();
    log.recordStep({ step: 1, epoch: 1, loss: NaN, accuracy: Infinity });
    expect(log.toCSV().steps.split('\n')[1]).toBe('1,1,NaN,Infinity,,');
    const back = MetricsLog.fromJSON(JSON.stringify(log.toJSON()));
    expect(Number.isNaN(back.steps[0].loss)).toBe(true);
    expect(Number.isNaN(back.steps[0].accuracy)).toBe(true);
  });

  it('loadJSON replaces the contents of an existing log', () => {
    const log = new MetricsLog({ stale: true });
    log.recordStep({ step: 99, epoch: 9, loss: 9 });
    log.loadJSON(sampleLog().toJSON());
    expect(log.toJSON()).toEqual(sampleLog().toJSON());
  });

  it('truncateAfter drops records after a checkpoint step', () => {
    const log = sampleLog();
    log.truncateAfter(2);
    expect(log.steps.map((s) => s.step)).toEqual([1, 2]);
    expect(log.epochs.map((e) => e.epoch)).toEqual([1]);
    expect(log.lastEpoch()?.testAccuracy).toBe(0.5);
  });

  it('recorded records are copies', () => {
    const log = new MetricsLog();
    const record = { step: 1, epoch: 1, loss: 1 };
    log.recordStep(record);
    record.loss = 5;
    expect(log.steps[0].loss).toBe(1);
  });

  it('rejects JSON that is not a metrics log', () => {
    expect(() => MetricsLog.fromJSON('{"steps": []}')).toThrow(DataError);
    expect(() => MetricsLog.fromJSON('{"steps": []}')).toThrow('metrics JSON: expected an object with "steps" and "epochs" arrays');
    expect(() => MetricsLog.fromJSON('not json')).toThrow(/metrics JSON: could not parse/);
    expect(() => MetricsLog.fromJSON('{"steps": [{"step": 1, "epoch": 1, "loss": "x"}], "epochs": []}')).toThrow(
      'metrics JSON: steps[0].loss: expected a number, found "x"',
    );
    expect(() => MetricsLog.fromJSON('{"steps": [], "epochs": [{"epoch": 1}]}')).toThrow('metrics JSON: epochs[0].step: expected a number, found undefined');
  });
});
