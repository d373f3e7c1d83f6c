import { describe, it, expect } from 'vitest';
import { constantRate, stepDecay, exponentialDecay, cosineDecay } from '@ndgraph/nn';

const close = (actual: number, expected: number) => expect(actual).toBeCloseTo(expected, 12);

describe('learning-rate schedules', () => {
  it('constantRate', () => {
    const s = constantRate(0.05);
    for (const step of [0, 1, 1000]) expect(s(step)).toBe(0.05);
  });

  it('stepDecay: initial · factor^floor(step / every)', () => {
    const s = stepDecay({ initial: 0.1, factor: 0.5, every: 10 });
    close(s(0), 0.1);
    close(s(9), 0.1);
    close(s(10), 0.05);
    close(s(19), 0.05);
    close(s(25), 0.025);
    close(s(30), 0.0125);
  });

  it('exponentialDecay: smooth and staircase', () => {
    const smooth = exponentialDecay({ initial: 1, decayRate: 0.5, decaySteps: 2 });
    close(smooth(0), 1);
    close(smooth(1), Math.SQRT1_2); // 0.5^(1/2)
    close(smooth(2), 0.5);
    close(smooth(3), 0.5 * Math.SQRT1_2);
    const stairs = exponentialDecay({ initial: 0.2, decayRate: 0.1, decaySteps: 100, staircase: true });
    close(stairs(0), 0.2);
    close(stairs(99), 0.2);
    close(stairs(100), 0.02);
    close(stairs(250), 0.002);
  });

  it('cosineDecay: from initial to final over totalSteps, then flat', () => {
    const s = cosineDecay({ initial: 1, totalSteps: 10, final: 0.1 });
    close(s(0), 1);
    close(s(5), 0.55); // halfway: the mean of initial and final
    // step 2: 0.1 + 0.9 · ½(1 + cos(0.2π)), cos(36°) = (1 + √5)/4
    close(s(2), 0.1 + 0.45 * (1 + (1 + Math.sqrt(5)) / 4));
    close(s(10), 0.1);
    close(s(25), 0.1);
    const toZero = cosineDecay({ initial: 0.4, totalSteps: 4 });
    close(toZero(2), 0.2);
    close(toZero(4), 0);
  });

  it('rejects bad options with the option named', () => {
    expect(() => stepDecay({ initial: 0.1, factor: 0.5, every: 0 })).toThrow(/stepDecay: expected every a positive integer, found 0/);
    expect(() => exponentialDecay({ initial: 0.1, decayRate: 0.5, decaySteps: -1 })).toThrow(/decaySteps > 0, found -1/);
    expect(() => cosineDecay({ initial: NaN, totalSteps: 10 })).toThrow(/initial ≥ 0, found NaN/);
    expect(() => constantRate(-1)).toThrow(RangeError);
  });
});
