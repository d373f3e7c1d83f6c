/**
 * The WebAssembly max-pool kernels against the TypeScript reference kernels
 * (kernels/pool.ts), bit for bit: same maxima, same first-maximum routing of
 * the gradient at ties and NaN, padding never winning. Channel counts from 1
 * to 9 cover the scalar path (fewer than 4 channels) and the overlapping last
 * vector (channels not a multiple of 4); windows overlap (stride < ksize),
 * skip cells (stride > ksize) and hang over 'same' padding.
 */
import { describe, expect, it } from 'vitest';
import { convGeometry, type Padding } from '../../packages/ops/src/kernels/conv-geometry.ts';
import { maxPoolBackwardReference, maxPoolForwardReference } from '../../packages/ops/src/kernels/pool.ts';
import { maxPoolBackwardWasm, maxPoolForwardWasm } from '../../packages/ops/src/kernels/wasm/pool-wasm.ts';
import { uniformRandom } from '../helpers.ts';

/** Values in [-1, 1) as float32, or small integers (many ties), with some NaN and −0 mixed in when `specials`. */
function randomArray(n: number, seed: number, kind: 'uniform' | 'ties' | 'specials'): Float32Array {
  const uniform = uniformRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = uniform();
    if (kind === 'ties') out[i] = Math.floor(u * 3);
    else if (kind === 'specials' && u < 0.05) out[i] = Number.NaN;
    else if (kind === 'specials' && u < 0.15) out[i] = -0;
    else if (kind === 'specials' && u < 0.25) out[i] = 0;
    else out[i] = u * 2 - 1;
  }
  return out;
}

/** Object.is on every element: NaN equals NaN, −0 differs from +0. */
function expectSameBits(label: string, got: Float32Array, want: Float32Array): void {
  expect(got.length, `${label}: length`).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    if (!Object.is(got[i], want[i])) expect.fail(`${label}: element ${i} is ${got[i]}, the reference gives ${want[i]}`);
  }
}

interface Case {
  shape: [number, number, number, number];
  ksize: [number, number];
  strides: [number, number];
  padding: Padding;
}
const label = (c: Case) => `x [${c.shape}] ksize [${c.ksize}] strides [${c.strides}] ${c.padding}`;

const cases: Case[] = [];
for (const channels of [1, 2, 3, 4, 5, 6, 7, 8, 9, 16]) {
  cases.push({ shape: [2, 6, 6, channels], ksize: [2, 2], strides: [2, 2], padding: 'valid' });
}
for (const padding of ['valid', 'same'] as const) {
  for (const [ksize, strides] of [
    [[3, 3], [2, 2]],
    [[3, 3], [1, 1]],
    [[2, 3], [1, 2]],
    [[2, 2], [3, 3]],
    [[1, 1], [1, 1]],
    [[5, 5], [2, 2]],
  ] as [[number, number], [number, number]][]) {
    for (const shape of [[1, 7, 7, 6], [3, 5, 8, 3], [2, 9, 6, 13]] as [number, number, number, number][]) {
      if (padding === 'valid' && (shape[1] < ksize[0] || shape[2] < ksize[1])) continue;
      cases.push({ shape, ksize, strides, padding });
    }
  }
}

describe('WebAssembly max pooling (float32)', () => {
  for (const [index, c] of cases.entries()) {
    it(`equals the reference bit for bit: ${label(c)}`, () => {
      const g = convGeometry(c.shape, c.ksize, { strides: c.strides, padding: c.padding });
      const inSize = c.shape.reduce((a, b) => a * b, 1);
      const outSize = c.shape[0] * g.outHeight * g.outWidth * c.shape[3];
      for (const kind of ['uniform', 'ties', 'specials'] as const) {
        const x = randomArray(inSize, 10 + index, kind);
        const dy = randomArray(outSize, 50 + index, 'uniform');
        const xBefore = x.slice();

        const got = new Float32Array(outSize).fill(123);
        const want = new Float32Array(outSize);
        expect(maxPoolForwardWasm(x, 0, g, got, 0)).toBe(true);
        maxPoolForwardReference(x, 0, g, want, 0);
        expectSameBits(`${label(c)} ${kind} forward`, got, want);

        const dxGot = new Float32Array(inSize).fill(Number.NaN); // every element must be written
        const dxWant = new Float32Array(inSize);
        expect(maxPoolBackwardWasm(dy, 0, x, 0, g, dxGot, 0)).toBe(true);
        maxPoolBackwardReference(dy, 0, x, 0, g, dxWant, 0);
        expectSameBits(`${label(c)} ${kind} backward`, dxGot, dxWant);
        expectSameBits(`${label(c)} ${kind}: x unchanged`, x, xBefore);
      }
    });
  }

  it('routes the gradient to the first maximum, by hand', () => {
    // One image 2×2, 5 channels, one 2×2 window. Channel c's four cells are x[cell·5 + c].
    const x = Float32Array.of(
      1, 0, Number.NaN, -1, 2, // cell (0,0)
      3, 0, 5, -1, 2, // cell (0,1)
      3, -0, Number.NaN, -2, 2, // cell (1,0)
      0, 0, 1, -1, 7, // cell (1,1)
    );
    const g = convGeometry([1, 2, 2, 5], [2, 2], { strides: [2, 2], padding: 'valid' });
    const y = new Float32Array(5);
    maxPoolForwardWasm(x, 0, g, y, 0);
    expect(Array.from(y)).toEqual([3, 0, Number.NaN, -1, 7]);
    const dx = new Float32Array(20);
    maxPoolBackwardWasm(Float32Array.of(10, 20, 30, 40, 50), 0, x, 0, g, dx, 0);
    // Channel 0: first 3 is cell (0,1). Channel 1: first of the tied zeros is cell (0,0).
    // Channel 2: first NaN is cell (0,0). Channel 3: first −1 is cell (0,0). Channel 4: 7 at (1,1).
    expect(Array.from(dx)).toEqual([
      0, 20, 30, 40, 0,
      10, 0, 0, 0, 0,
      0, 0, 0, 0, 0,
      0, 0, 0, 0, 50,
    ]);
  });

  it('reads and writes at offsets, touching nothing else', () => {
    const g = convGeometry([2, 4, 4, 6], [2, 2], { strides: [2, 2], padding: 'valid' });
    const x = randomArray(3 + 2 * 96, 7, 'uniform');
    const y = new Float32Array(5 + 2 * 24).fill(9);
    maxPoolForwardWasm(x, 3, g, y, 5);
    const want = new Float32Array(2 * 24);
    maxPoolForwardReference(x, 3, g, want, 0);
    expect(Array.from(y.subarray(0, 5))).toEqual([9, 9, 9, 9, 9]);
    expectSameBits('offset forward', y.subarray(5), want);
  });
});
