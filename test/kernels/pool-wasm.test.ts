/**
 * The WebAssembly max-pool kernels against the TypeScript reference kernels
 * (kernels/pool.ts), bit for bit: same maxima, same first-maximum routing of
 * the gradient at ties, −0 against +0 and NaN, padding never winning. Channel
 * counts from 1 to 9 and 16 cover the scalar path (fewer than 4 channels) and
 * the overlapping last vector (channels not a multiple of 4); windows overlap
 * (stride < ksize), skip cells (stride > ksize), hang over 'same' padding, or
 * tile the image (2×2 with stride 2 has kernels of its own, 3×3 with stride 3
 * takes the general tiling path). Batches large enough to be split run on two
 * threads too.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Padding } from '../../packages/ops/src/window.ts';
import { convGeometry, type ConvGeometry } from '../../packages/ops/src/kernels/geometry.ts';
import { maxPoolBackward } from '../../packages/ops/src/kernels/js/pool.ts';
import { disableWasmThreads, enableWasmThreads } from '../../packages/ops/src/kernels/wasm/node-threads.ts';
import { maxPoolBackwardWasm, maxPoolForwardWasm, POOL_PARALLEL_MIN_WORK } from '../../packages/ops/src/kernels/wasm/pool-wasm.ts';
import { wasmKernels } from '../../packages/ops/src/kernels/wasm/runtime.ts';
import { uniformRandom } from '../helpers.ts';
import { maxPoolBackwardReference, maxPoolForwardReference } from '../oracles/pool.ts';

type Kind = 'uniform' | 'ties' | 'zeros' | 'specials';

/**
 * Values in [-1, 1) as float32; or small integers (many ties); or −0, +0 and
 * −1 (ties between −0 and +0); or uniform with NaN, ±∞, −0 and +0 mixed in.
 */
function randomArray(n: number, seed: number, kind: Kind): Float32Array {
  const uniform = uniformRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = uniform();
    if (kind === 'ties') out[i] = Math.floor(u * 3);
    else if (kind === 'zeros') out[i] = u < 0.4 ? -0 : u < 0.8 ? 0 : -1;
    else if (kind === 'specials' && u < 0.03) out[i] = Number.NaN;
    else if (kind === 'specials' && u < 0.05) out[i] = u < 0.04 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
    else if (kind === 'specials' && u < 0.15) out[i] = -0;
    else if (kind === 'specials' && u < 0.25) out[i] = 0;
    else out[i] = u * 2 - 1;
  }
  return out;
}

/** Object.is on every element: NaN equals NaN, −0 differs from +0. */
function expectSameBits(label: string, got: Float32Array, want: Float32Array): void {
  const show = (v: number) => (Object.is(v, -0) ? '-0' : String(v));
  expect(got.length, `${label}: length`).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    if (!Object.is(got[i], want[i])) expect.fail(`${label}: element ${i} is ${show(got[i])}, the reference gives ${show(want[i])}`);
  }
}

/** Forward and backward against the reference, bit for bit; x is left unchanged and every element of dx is written. */
function expectSameAsReference(what: string, x: Float32Array, dy: Float32Array, g: ConvGeometry): void {
  const xBefore = x.slice();
  const got = new Float32Array(dy.length).fill(123);
  const want = new Float32Array(dy.length);
  expect(maxPoolForwardWasm(x, 0, g, got, 0)).toBe(true);
  maxPoolForwardReference(x, 0, g, want, 0);
  expectSameBits(`${what} forward`, got, want);

  const dxGot = new Float32Array(x.length).fill(Number.NaN); // every element must be written
  const dxWant = new Float32Array(x.length);
  expect(maxPoolBackwardWasm(dy, 0, x, 0, g, dxGot, 0)).toBe(true);
  maxPoolBackwardReference(dy, 0, x, 0, g, dxWant, 0);
  expectSameBits(`${what} backward`, dxGot, dxWant);
  expectSameBits(`${what}: x unchanged`, x, xBefore);
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
  // Windows that tile the image: 2×2 with stride 2 (square and not), 3×3 with stride 3.
  cases.push({ shape: [2, 6, 6, channels], ksize: [2, 2], strides: [2, 2], padding: 'valid' });
  cases.push({ shape: [3, 4, 10, channels], ksize: [2, 2], strides: [2, 2], padding: 'valid' });
  cases.push({ shape: [2, 9, 6, channels], ksize: [3, 3], strides: [3, 3], padding: 'valid' });
}
// 2×2 with stride 2 that does not tile: odd sizes, the last row or column left out ('valid') or padded ('same').
for (const padding of ['valid', 'same'] as const) cases.push({ shape: [2, 7, 5, 6], ksize: [2, 2], strides: [2, 2], padding });
for (const padding of ['valid', 'same'] as const) {
  for (const [ksize, strides] of [
    [
      [3, 3],
      [2, 2],
    ],
    [
      [3, 3],
      [1, 1],
    ],
    [
      [2, 3],
      [1, 2],
    ],
    [
      [2, 2],
      [3, 3],
    ],
    [
      [1, 1],
      [1, 1],
    ],
    [
      [5, 5],
      [2, 2],
    ],
  ] as [[number, number], [number, number]][]) {
    for (const shape of [
      [1, 7, 7, 6],
      [3, 5, 8, 3],
      [2, 9, 6, 13],
    ] as [number, number, number, number][]) {
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
      for (const kind of ['uniform', 'ties', 'zeros', 'specials'] as const) {
        const x = randomArray(inSize, 10 + index, kind);
        // dy with −0 (which lands as +0, the reference adding it to zero) and NaN, too.
        const dy = randomArray(outSize, 50 + index, kind === 'specials' ? 'specials' : 'uniform');
        expectSameAsReference(`${label(c)} ${kind}`, x, dy, g);
      }
    });
  }

  // positiveOnly: the gradient continues through the relu that produced x.
  // It must equal reluGrad(maxPoolGrad(dy, x), x), bit for bit, on every path
  // (the 2×2 kernels fold the mask in; the others mask in a pass of their own).
  for (const [index, c] of cases.entries()) {
    it(`with positiveOnly equals the reference followed by the relu mask: ${label(c)}`, () => {
      const g = convGeometry(c.shape, c.ksize, { strides: c.strides, padding: c.padding });
      const inSize = c.shape.reduce((a, b) => a * b, 1);
      const outSize = c.shape[0] * g.outHeight * g.outWidth * c.shape[3];
      for (const kind of ['uniform', 'ties', 'zeros', 'specials'] as const) {
        const x = randomArray(inSize, 70 + index, kind);
        const dy = randomArray(outSize, 90 + index, kind === 'specials' ? 'specials' : 'uniform');
        const want = new Float32Array(inSize);
        maxPoolBackwardReference(dy, 0, x, 0, g, want, 0);
        for (let i = 0; i < inSize; i++) if (!(x[i] > 0)) want[i] = 0; // relu'(x) = 0 where x ≤ 0 or NaN
        const got = new Float32Array(inSize).fill(Number.NaN);
        expect(maxPoolBackwardWasm(dy, 0, x, 0, g, got, 0, true)).toBe(true);
        expectSameBits(`${label(c)} ${kind} positiveOnly`, got, want);
        const js = new Float32Array(inSize);
        maxPoolBackward(dy, 0, x, 0, g, js, 0, true);
        expectSameBits(`${label(c)} ${kind} positiveOnly (TypeScript kernel)`, js, want);
      }
    });
  }

  it('routes the gradient to the first maximum, by hand', () => {
    // One image 2×2, 5 channels, one 2×2 window. Channel c's four cells are x[cell·5 + c].
    const x = Float32Array.of(
      1,
      0,
      Number.NaN,
      -1,
      2, // cell (0,0)
      3,
      0,
      5,
      -1,
      2, // cell (0,1)
      3,
      -0,
      Number.NaN,
      -2,
      2, // cell (1,0)
      0,
      0,
      1,
      -1,
      7, // cell (1,1)
    );
    const g = convGeometry([1, 2, 2, 5], [2, 2], { strides: [2, 2], padding: 'valid' });
    const y = new Float32Array(5);
    maxPoolForwardWasm(x, 0, g, y, 0);
    expect(Array.from(y)).toEqual([3, 0, Number.NaN, -1, 7]);
    const dx = new Float32Array(20);
    maxPoolBackwardWasm(Float32Array.of(10, 20, 30, 40, 50), 0, x, 0, g, dx, 0);
    // Channel 0: first 3 is cell (0,1). Channel 1: first of the tied zeros is cell (0,0).
    // Channel 2: first NaN is cell (0,0). Channel 3: first −1 is cell (0,0). Channel 4: 7 at (1,1).
    expect(Array.from(dx)).toEqual([0, 20, 30, 40, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 50]);
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
  describe('on two threads', () => {
    afterAll(() => disableWasmThreads());

    // LeNet's first pool, and odd batches (uneven chunks) with C = 3, 5, 8 and 16.
    for (const shape of [
      [64, 28, 28, 6],
      [83, 10, 10, 16],
      [37, 28, 28, 5],
      [57, 40, 20, 3],
      [29, 24, 24, 8],
    ] as [number, number, number, number][]) {
      it(`equals the reference bit for bit: x [${shape}] ksize [2,2] strides [2,2]`, () => {
        expect(enableWasmThreads(2)).toBe(2);
        expect(wasmKernels()?.threads).toBe(2);
        const g = convGeometry(shape, [2, 2], { strides: [2, 2], padding: 'valid' });
        const inSize = shape.reduce((a, b) => a * b, 1);
        expect(inSize).toBeGreaterThanOrEqual(POOL_PARALLEL_MIN_WORK); // large enough to be split
        for (const kind of ['uniform', 'specials'] as const) {
          expectSameAsReference(`x [${shape}] ${kind}`, randomArray(inSize, 3, kind), randomArray(inSize / 4, 4, kind), g);
        }
      });
    }
  });
});
