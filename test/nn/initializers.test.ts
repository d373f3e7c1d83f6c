import { describe, it, expect } from 'vitest';
import { Rng, GraphError, ShapeError, type Tensor } from '@ndgraph/graph';
import {
  computeFans,
  heNormal,
  heUniform,
  xavierNormal,
  xavierUniform,
  glorotNormal,
  glorotUniform,
  lecunNormal,
  lecunUniform,
  normal,
  uniform,
  zeros,
  ones,
  constant,
  initializerByName,
  type Initializer,
} from '@ndgraph/nn';

/** Mean and (population) standard deviation of a tensor's elements, in float64. */
function moments(t: Tensor): { mean: number; std: number; min: number; max: number } {
  const d = t.data;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < d.length; i++) {
    sum += d[i];
    min = Math.min(min, d[i]);
    max = Math.max(max, d[i]);
  }
  const mean = sum / d.length;
  let sq = 0;
  for (let i = 0; i < d.length; i++) sq += (d[i] - mean) ** 2;
  return { mean, std: Math.sqrt(sq / d.length), min, max };
}

// Tolerances: 5 standard errors of the estimate, so a correct initializer
// fails with probability well under 1e-5 (and, being seeded, never flakes).
//   mean:               SE = σ/√n
//   std of a normal:    SE ≈ σ/√(2n)
//   std of a uniform:   SE ≈ σ·√((κ−1)/(4n)) with kurtosis κ = 9/5, i.e. σ·√(0.2/n)
const Z = 5;

const dense: number[] = [400, 250]; // fanIn 400, fanOut 250, n = 100 000
const conv: number[] = [5, 5, 16, 120]; // fanIn 5·5·16 = 400, fanOut 5·5·120 = 3000, n = 48 000

interface Case {
  label: string;
  init: Initializer;
  kind: 'normal' | 'uniform';
  /** Expected std for normal, expected limit for uniform, from (fanIn, fanOut). */
  scale: (fanIn: number, fanOut: number) => number;
}

const cases: Case[] = [
  { label: 'heNormal', init: heNormal, kind: 'normal', scale: (i) => Math.sqrt(2 / i) },
  { label: 'heUniform', init: heUniform, kind: 'uniform', scale: (i) => Math.sqrt(6 / i) },
  { label: 'xavierNormal', init: xavierNormal, kind: 'normal', scale: (i, o) => Math.sqrt(2 / (i + o)) },
  { label: 'xavierUniform', init: xavierUniform, kind: 'uniform', scale: (i, o) => Math.sqrt(6 / (i + o)) },
  { label: 'lecunNormal', init: lecunNormal, kind: 'normal', scale: (i) => Math.sqrt(1 / i) },
  { label: 'lecunUniform', init: lecunUniform, kind: 'uniform', scale: (i) => Math.sqrt(3 / i) },
  { label: 'normal(0.01)', init: normal(0.01), kind: 'normal', scale: () => 0.01 },
  { label: 'uniform(0.05)', init: uniform(0.05), kind: 'uniform', scale: () => 0.05 },
];

describe('fans', () => {
  it('dense [in, out], conv [kh, kw, cin, cout], 1-D and scalar', () => {
    expect(computeFans([784, 100])).toEqual({ fanIn: 784, fanOut: 100 });
    expect(computeFans([5, 5, 1, 6])).toEqual({ fanIn: 25, fanOut: 150 });
    expect(computeFans([3, 3, 64, 128])).toEqual({ fanIn: 576, fanOut: 1152 });
    expect(computeFans([7, 2, 3])).toEqual({ fanIn: 14, fanOut: 21 });
    expect(computeFans([10])).toEqual({ fanIn: 10, fanOut: 10 });
    expect(computeFans([])).toEqual({ fanIn: 1, fanOut: 1 });
  });
});

describe('sample statistics', () => {
  for (const c of cases) {
    for (const [shapeLabel, shape, fanIn, fanOut] of [
      ['dense', dense, 400, 250],
      ['conv', conv, 400, 3000],
    ] as const) {
      it(`${c.label} on ${shapeLabel} ${JSON.stringify(shape)}`, () => {
        const t = c.init(shape, new Rng(42));
        expect(t.shape).toEqual(shape);
        expect(t.data).toBeInstanceOf(Float32Array);
        const n = t.size;
        const { mean, std, min, max } = moments(t);
        const scale = c.scale(fanIn, fanOut);
        const sigma = c.kind === 'normal' ? scale : scale / Math.sqrt(3);
        expect(Math.abs(mean)).toBeLessThan((Z * sigma) / Math.sqrt(n));
        const stdSE = c.kind === 'normal' ? sigma / Math.sqrt(2 * n) : sigma * Math.sqrt(0.2 / n);
        expect(Math.abs(std - sigma)).toBeLessThan(Z * stdSE);
        if (c.kind === 'uniform') {
          expect(min).toBeGreaterThanOrEqual(-scale);
          expect(max).toBeLessThanOrEqual(scale);
          // With ≥ 48 000 draws the extremes come within 0.1% of the bounds (missing has probability < e^-24).
          expect(min).toBeLessThan(-scale * 0.999);
          expect(max).toBeGreaterThan(scale * 0.999);
        } else {
          // A plain (not truncated) normal: values beyond 2σ occur (about 4.6% of them).
          let beyond = 0;
          for (let i = 0; i < n; i++) if (Math.abs(t.data[i]) > 2 * sigma) beyond++;
          const p = 0.0455;
          expect(Math.abs(beyond / n - p)).toBeLessThan(Z * Math.sqrt((p * (1 - p)) / n));
        }
      });
    }
  }

  it('glorot names are the xavier initializers', () => {
    expect(glorotNormal).toBe(xavierNormal);
    expect(glorotUniform).toBe(xavierUniform);
  });
});

describe('determinism and dtypes', () => {
  for (const c of cases) {
    it(`${c.label}: same seed gives identical bits, another seed differs`, () => {
      const a = c.init([30, 20], new Rng(7));
      const b = c.init([30, 20], new Rng(7));
      const other = c.init([30, 20], new Rng(8));
      expect(Array.from(a.data)).toEqual(Array.from(b.data));
      expect(Array.from(a.data)).not.toEqual(Array.from(other.data));
    });
  }

  it('float64 output holds the same draws before float32 rounding', () => {
    const wide = heNormal([8, 4], new Rng(3), 'float64');
    const narrow = heNormal([8, 4], new Rng(3), 'float32');
    expect(wide.data).toBeInstanceOf(Float64Array);
    expect(Array.from(narrow.data)).toEqual(Array.from(wide.data, (x) => Math.fround(x)));
  });

  it('heUniform equals (2u − 1)·√(6/fanIn) drawn from the generator in row-major order', () => {
    const t = heUniform([3, 2], new Rng(11), 'float64');
    const r = new Rng(11);
    const expected = Array.from({ length: 6 }, () => (2 * r.uniform() - 1) * Math.sqrt(6 / 3));
    expect(Array.from(t.data)).toEqual(expected);
  });

  it('heNormal equals √(2/fanIn)·normal() drawn in row-major order', () => {
    const t = heNormal([2, 2, 3, 1], new Rng(5), 'float64');
    const r = new Rng(5);
    const expected = Array.from({ length: 12 }, () => Math.sqrt(2 / 12) * r.normal());
    expect(Array.from(t.data)).toEqual(expected);
  });

  it('constants draw nothing and fill every element', () => {
    const rng = new Rng(1);
    const before = rng.getState();
    expect(Array.from(zeros([2, 3], rng).data)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(ones([3], rng, 'float64').data)).toEqual([1, 1, 1]);
    expect(Array.from(constant(0.25)([2, 2], rng).data)).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(rng.getState()).toEqual(before);
  });

  it('empty and scalar shapes', () => {
    expect(heNormal([0, 5], new Rng(1)).size).toBe(0);
    const s = xavierUniform([], new Rng(1));
    expect(s.shape).toEqual([]);
    expect(Math.abs(s.data[0])).toBeLessThanOrEqual(Math.sqrt(3));
  });

  it('unknown dimensions are rejected', () => {
    expect(() => heNormal([-1, 10], new Rng(1))).toThrow(ShapeError);
    expect(() => heNormal([-1, 10], new Rng(1))).toThrow(/heNormal: expected a concrete shape.*found \[\?,10\]/);
  });
});

describe('initializerByName', () => {
  it('maps every name to its initializer', () => {
    expect(initializerByName('he')).toBe(heNormal);
    expect(initializerByName('msra')).toBe(heNormal);
    expect(initializerByName('He-Normal')).toBe(heNormal);
    expect(initializerByName('he-uniform')).toBe(heUniform);
    expect(initializerByName('xavier')).toBe(xavierNormal);
    expect(initializerByName('glorot')).toBe(xavierNormal);
    expect(initializerByName('xavier-uniform')).toBe(xavierUniform);
    expect(initializerByName('glorot-uniform')).toBe(xavierUniform);
    expect(initializerByName('lecun')).toBe(lecunNormal);
    expect(initializerByName('lecun-uniform')).toBe(lecunUniform);
    expect(initializerByName('zeros')).toBe(zeros);
    expect(initializerByName('ones')).toBe(ones);
  });

  it('parameterized names', () => {
    const t = initializerByName('normal:0.01')([200, 250], new Rng(9));
    const { std } = moments(t);
    expect(Math.abs(std - 0.01)).toBeLessThan((Z * 0.01) / Math.sqrt(2 * t.size));
    const u = initializerByName('uniform:0.5')([1000], new Rng(9));
    expect(Math.max(...Array.from(u.data, Math.abs))).toBeLessThanOrEqual(0.5);
    expect(Array.from(initializerByName('constant:-2')([2], new Rng(9)).data)).toEqual([-2, -2]);
  });

  it('unknown names list the valid ones', () => {
    expect(() => initializerByName('kaiming')).toThrow(GraphError);
    expect(() => initializerByName('kaiming')).toThrow(
      /unknown initializer 'kaiming'; expected one of: he, he-normal, msra, he-uniform.*xavier.*glorot.*lecun.*normal:<std>/,
    );
    expect(() => initializerByName('normal:abc')).toThrow(/expected a number after 'normal:', found 'abc'/);
    expect(() => initializerByName('normal:')).toThrow(/expected a number after 'normal:'/);
    expect(() => initializerByName('normal:-1')).toThrow(RangeError);
  });
});
