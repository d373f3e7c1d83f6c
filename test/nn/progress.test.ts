import { describe, it, expect } from 'vitest';
import { ProgressReporter, formatDuration } from '@ndgraph/nn/node';

/** A stream that records what is written, and a clock the test moves. */
function fakeStream(isTTY?: boolean) {
  const writes: string[] = [];
  return { writes, stream: { write: (s: string) => writes.push(s), isTTY } };
}
function fakeClock() {
  const clock = { t: 0, now: () => clock.t };
  return clock;
}

describe('formatDuration', () => {
  it('m:ss under an hour, h:mm:ss above', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(9.6)).toBe('0:10');
    expect(formatDuration(75)).toBe('1:15');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(NaN)).toBe('--:--');
  });
});

describe('ProgressReporter on a TTY', () => {
  it('redraws one line in place with epoch, bar, step/total, loss, accuracy, img/s and ETA', () => {
    const { writes, stream } = fakeStream(true);
    const clock = fakeClock();
    const p = new ProgressReporter({ stream, totalSteps: 100, epoch: 2, epochs: 5, now: clock.now, barWidth: 10 });
    clock.t = 5000; // 25 steps in 5 s: 75 steps left take 15 s
    p.update({ step: 25, loss: 0.123456, accuracy: 0.9312, imagesPerSecond: 1234.4 });
    expect(writes).toEqual(['\r\x1b[Kepoch 2/5 ███░░░░░░░  25/100 loss 0.1235 acc 93.1% 1234 img/s ETA 0:15']);
  });

  it('throttles to about ten redraws a second, but always draws the last step', () => {
    const { writes, stream } = fakeStream(true);
    const clock = fakeClock();
    const p = new ProgressReporter({ stream, totalSteps: 1000, epoch: 1, epochs: 1, now: clock.now });
    for (let step = 1; step <= 1000; step++) {
      clock.t = step; // one step per millisecond: one second in all
      p.update({ step, loss: 1 });
    }
    // Draws at t = 1, 101, ..., 901 (10 of them) plus the final step.
    expect(writes.length).toBe(11);
    expect(writes.every((w) => w.startsWith('\r'))).toBe(true);
    expect(writes.some((w) => w.includes('\n'))).toBe(false);
    expect(writes[1]).toContain(' 101/1000 ');
    expect(writes[10]).toContain('1000/1000');
    expect(writes[10]).toContain('█'.repeat(20));
    expect(writes[10]).toContain('ETA 0:00');
  });

  it('done replaces the bar with the summary line', () => {
    const { writes, stream } = fakeStream(true);
    const p = new ProgressReporter({ stream, totalSteps: 10, epoch: 1, epochs: 3, now: fakeClock().now });
    p.update({ step: 10, loss: 0.5 });
    p.done('epoch 1/3 done: test accuracy 97.0%');
    expect(writes[writes.length - 1]).toBe('\r\x1b[Kepoch 1/3 done: test accuracy 97.0%\n');
  });

  it('detects a TTY from the stream, and isTTY overrides it', () => {
    const tty = fakeStream(true);
    new ProgressReporter({ stream: tty.stream, totalSteps: 10, epoch: 1, epochs: 1, now: () => 0 }).update({ step: 1, loss: 1 });
    expect(tty.writes[0].startsWith('\r')).toBe(true);
    const forcedPlain = fakeStream(true);
    new ProgressReporter({ stream: forcedPlain.stream, totalSteps: 10, epoch: 1, epochs: 1, isTTY: false, now: () => 0 }).update({ step: 1, loss: 1 });
    expect(forcedPlain.writes[0]).toBe('epoch 1/1 step 1/10 (10%) loss 1.0000 ETA --:--\n');
  });
});

describe('ProgressReporter without a TTY (CI logs)', () => {
  it('writes a plain line at each tenth of the epoch', () => {
    const { writes, stream } = fakeStream(undefined);
    const clock = fakeClock();
    const p = new ProgressReporter({ stream, totalSteps: 100, epoch: 3, epochs: 4, now: clock.now });
    for (let step = 1; step <= 100; step++) {
      clock.t = step * 50; // 20 steps a second
      p.update({ step, loss: 1 / step, accuracy: step / 100, imagesPerSecond: 640 });
    }
    expect(writes.length).toBe(10);
    expect(writes.every((w) => w.endsWith('\n') && !w.includes('\r'))).toBe(true);
    // Step 10 at 0.5 s: 90 steps left at 20 steps/s = 4.5 s, shown rounded.
    expect(writes[0]).toBe('epoch 3/4 step 10/100 (10%) loss 0.1000 acc 10.0% 640 img/s ETA 0:05\n');
    expect(writes.map((w) => /step (\d+)\//.exec(w)![1])).toEqual(['10', '20', '30', '40', '50', '60', '70', '80', '90', '100']);
    p.done('summary');
    expect(writes[10]).toBe('summary\n');
  });

  it('short epochs print at most one line per step, and skipped tenths are not repeated', () => {
    const { writes, stream } = fakeStream(false);
    const p = new ProgressReporter({ stream, totalSteps: 7, epoch: 1, epochs: 1, now: () => 0 });
    for (let step = 1; step <= 7; step++) p.update({ step, loss: 1 });
    // Tenths of 7 steps fall due at steps ceil(0.7k) = 1,2,3,3,4,5,5,6,7,7.
    expect(writes.map((w) => /step (\d+)\//.exec(w)![1])).toEqual(['1', '2', '3', '4', '5', '6', '7']);

    const jumpy = fakeStream(false);
    const q = new ProgressReporter({ stream: jumpy.stream, totalSteps: 100, epoch: 1, epochs: 1, now: () => 0 });
    for (const step of [5, 35, 36, 39, 40, 100]) q.update({ step, loss: 1 });
    expect(jumpy.writes.map((w) => /step (\d+)\//.exec(w)![1])).toEqual(['35', '40', '100']);
  });
});
