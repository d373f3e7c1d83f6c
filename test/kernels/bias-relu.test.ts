/**
 * relu, its gradient, bias add (± relu) and the bias gradient: the
 * TypeScript reference kernels by hand, and the WebAssembly kernels against
 * them — bit for bit for the elementwise ones, and within float64 rounding
 * for the bias gradient (a float64 sum in a different order). Sizes are odd
 * (not multiples of the SIMD width) and channel counts run through every
 * remainder modulo 4, so each kernel's vector loop and scalar tail are used.
 */
import { describe, expect, it } from 'vitest';
import { biasAddGradKernel, biasAddKernel, reluGradKernel, reluKernel } from '../../packages/ops/src/kernels/js/bias-relu.ts';
import { biasAddGradWasm, biasAddWasm, reluGradWasm, reluWasm } from '../../packages/ops/src/kernels/wasm/elementwise-wasm.ts';
import { uniformRandom } from '../helpers.ts';

function randomArray(n: number, seed: number, specials = false): Float32Array {
  const uniform = uniformRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = uniform();
    out[i] = specials && u < 0.05 ? Number.NaN : specials && u < 0.1 ? -0 : specials && u < 0.15 ? 0 : u * 2 - 1;
  }
  return out;
}

function expectSameBits(label: string, got: Float32Array, want: Float32Array): void {
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) expect.fail(`${label}: element ${i} is ${got[i]}, the reference gives ${want[i]}`);
  }
}

describe('bias and relu reference kernels', () => {
  it('relu and its gradient, by hand', () => {
    const x = Float64Array.of(-2, -0, 0, 3, Number.NaN);
    const y = new Float64Array(5);
    reluKernel(x, 0, y, 0, 5);
    expect(Array.from(y)).toEqual([0, -0, 0, 3, Number.NaN]);
    const dx = new Float64Array(5);
    reluGradKernel(Float64Array.of(1, 2, 3, 4, 5), 0, x, 0, dx, 0, 5);
    expect(Array.from(dx)).toEqual([0, 0, 0, 4, 0]); // relu'(0) = 0; a NaN input passes no gradient
  });

  it('bias add (± relu) and its gradient, by hand', () => {
    // [2 rows, 3 channels]
    const x = Float64Array.of(1, -5, 2, 0, 1, -1);
    const out = new Float64Array(6);
    biasAddKernel(x, 0, Float64Array.of(10, 1, -3), 0, false, out, 0, 6, 3);
    expect(Array.from(out)).toEqual([11, -4, -1, 10, 2, -4]);
    biasAddKernel(x, 0, Float64Array.of(10, 1, -3), 0, true, out, 0, 6, 3);
    expect(Array.from(out)).toEqual([11, 0, 0, 10, 2, 0]);
    const db = new Float64Array(3);
    biasAddGradKernel(x, 0, 6, 3, db, 0);
    expect(Array.from(db)).toEqual([1, -4, 1]);
  });
});

describe('WebAssembly bias and relu kernels (float32)', () => {
  for (const n of [0, 1, 3, 4, 7, 64, 1023, 100003]) {
    it(`relu and its gradient equal the reference bit for bit, ${n} elements`, () => {
      const x = randomArray(n + 2, n + 1, true);
      const dy = randomArray(n + 1, n + 2, true);
      const got = new Float32Array(n + 3).fill(7);
      const want = new Float32Array(n + 3).fill(7);
      expect(reluWasm(x, 2, got, 3, n)).toBe(true);
      reluKernel(x, 2, want, 3, n);
      expectSameBits(`relu ${n}`, got, want);
      expect(reluGradWasm(dy, 1, x, 2, got, 0, n)).toBe(true);
      reluGradKernel(dy, 1, x, 2, want, 0, n);
      expectSameBits(`reluGrad ${n}`, got, want);
    });
  }

  // Every remainder modulo 4, and bias-gradient blocks of 1 to 4 vectors and of several strips of 4 (C = 9: 36 floats, C = 120: 120).
  for (const channels of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16, 84, 120]) {
    it(`bias add (± relu) equals the reference bit for bit, ${channels} channels`, () => {
      for (const rows of [0, 1, 3, 17, 641]) {
        const n = rows * channels;
        const x = randomArray(n + 1, rows * 31 + channels, true);
        const bias = randomArray(channels + 2, channels);
        for (const relu of [false, true]) {
          const got = new Float32Array(n).fill(Number.NaN);
          const want = new Float32Array(n);
          expect(biasAddWasm(x, 1, bias, 2, relu, got, 0, n, channels)).toBe(true);
          biasAddKernel(x, 1, bias, 2, relu, want, 0, n, channels);
          expectSameBits(`biasAdd rows ${rows} channels ${channels} relu ${relu}`, got, want);
        }
      }
    });

    it(`bias gradient matches a float64 sum, ${channels} channels`, () => {
      for (const rows of [0, 1, 3, 17, 641, 5000]) {
        const n = rows * channels;
        const dy = randomArray(n + 3, rows + channels * 7);
        const got = new Float32Array(channels + 1).fill(Number.NaN);
        expect(biasAddGradWasm(dy, 3, n, channels, got, 1)).toBe(true);
        for (let c = 0; c < channels; c++) {
          let sum = 0;
          let magnitude = 0;
          for (let r = 0; r < rows; r++) {
            sum += dy[3 + r * channels + c];
            magnitude += Math.abs(dy[3 + r * channels + c]);
          }
          // float64 sums in any order agree to ~rows·2⁻⁵³·magnitude; the result is then rounded to float32.
          const tolerance = Math.abs(sum) * 2 ** -24 + rows * 2 ** -52 * magnitude;
          if (!(Math.abs(got[1 + c] - sum) <= tolerance)) expect.fail(`rows ${rows} channel ${c}: ${got[1 + c]}, expected ${sum} ± ${tolerance}`);
        }
        expect(Number.isNaN(got[0])).toBe(true); // nothing before the output was written
      }
    });
  }

  it('bias gradient: a NaN or an infinity in dy reaches its own channel only', () => {
    for (const channels of [3, 6, 16]) {
      const rows = 101;
      const dy = randomArray(rows * channels, channels);
      dy[57 * channels + 1] = Number.NaN; // channel 1, in a whole block
      dy[(rows - 1) * channels + 2] = Number.POSITIVE_INFINITY; // channel 2, in the last row
      const got = new Float32Array(channels);
      expect(biasAddGradWasm(dy, 0, dy.length, channels, got, 0)).toBe(true);
      expect(got[1]).toBeNaN();
      expect(got[2]).toBe(Number.POSITIVE_INFINITY);
      for (let c = 0; c < channels; c++) if (c !== 1 && c !== 2) expect(Number.isFinite(got[c]), `channel ${c}`).toBe(true);
    }
  });

  it('bias gradient of a million float32 0.1s is the float64 sum rounded once', () => {
    const dy = new Float32Array(1_000_000).fill(0.1);
    const out = new Float32Array(1);
    biasAddGradWasm(dy, 0, dy.length, 1, out, 0);
    expect(out[0]).toBe(Math.fround(1_000_000 * Math.fround(0.1)));
  });
});
