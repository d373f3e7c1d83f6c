/**
 * The WebAssembly conv2d kernels (forward with bias and relu, filter
 * gradient, input gradient) against naive loops written here: the defining
 * sums, accumulated in float64 over the same float32 inputs.
 *
 * Shapes cover every path of the kernels: single-channel images with stride
 * 1 (the direct kernels: every channel count up to 9 and more, output rows
 * of every block width, windows of one tap to many), many channels read in
 * place ('valid' windows inside the image) or from a zero-padded copy
 * ('same', windows larger than the image), strides (also larger than the
 * window), blocks of more than 128 output pixels, more than 256 window
 * columns (k-blocks of whole window rows, also one row longer than 256), the
 * filter gradient's reduction in blocks of output rows, the input gradient's
 * passes of up to four images (batches of 5 to 7 leave passes of 1 to 3),
 * and channel counts that are not multiples of the SIMD width. The fused
 * forward (bias + relu) must give the same bits as relu of conv2d plus bias
 * in float32.
 *
 * Tolerance: each output is a float32 sum of K terms, grouped differently
 * from the float64 reference; it is within (K + 4)·u·Σ|terms| of it
 * (u = 2⁻²⁴), plus the bias's own rounding.
 */
import { describe, expect, it } from 'vitest';
import type { Padding } from '../../packages/ops/src/window.ts';
import { convGeometry, type ConvGeometry } from '../../packages/ops/src/kernels/geometry.ts';
import { conv2dBackpropFilterWasm, conv2dBackpropInputWasm, conv2dForwardWasm } from '../../packages/ops/src/kernels/wasm/conv-wasm.ts';
import { wasmKernels } from '../../packages/ops/src/kernels/wasm/runtime.ts';
import { makeRandom } from '../helpers.ts';

const UNIT_ROUNDOFF = 2 ** -24;

function randomArray(n: number, random: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = random();
  return a;
}

interface Case {
  /** x [N, H, W, Cin] */
  shape: [number, number, number, number];
  kernel: [number, number];
  strides: [number, number];
  padding: Padding;
  outChannels: number;
}

const describeCase = (c: Case) => `x [${c.shape}] kernel [${c.kernel}] strides [${c.strides}] ${c.padding} Cout ${c.outChannels}`;

/** Calls visit(n, oh, ow, ki, kj, xIndex) for every in-image tap of every output pixel (xIndex of channel 0). */
function forEachTap(g: ConvGeometry, visit: (outPixel: number, tap: number, xPixel: number) => void): void {
  for (let n = 0; n < g.batch; n++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++) {
        const outPixel = (n * g.outHeight + oh) * g.outWidth + ow;
        for (let ki = 0; ki < g.kernelHeight; ki++) {
          for (let kj = 0; kj < g.kernelWidth; kj++) {
            const ih = oh * g.strideHeight - g.padTop + ki;
            const iw = ow * g.strideWidth - g.padLeft + kj;
            if (ih < 0 || ih >= g.inHeight || iw < 0 || iw >= g.inWidth) continue;
            visit(outPixel, ki * g.kernelWidth + kj, (n * g.inHeight + ih) * g.inWidth + iw);
          }
        }
      }
    }
  }
}

/** Checks got against want ± (terms + 4)·u·magnitude element by element. */
function expectWithin(label: string, got: Float32Array, want: Float64Array, magnitude: Float64Array, terms: number): void {
  for (let i = 0; i < want.length; i++) {
    const tol = (terms + 4) * UNIT_ROUNDOFF * magnitude[i] + 1e-30;
    if (!(Math.abs(got[i] - want[i]) <= tol)) expect.fail(`${label}: element ${i} = ${got[i]}, expected ${want[i]} ± ${tol}`);
  }
}

function checkCase(c: Case, seed: number): void {
  const random = makeRandom(seed);
  const [N, H, W, C] = c.shape;
  const Co = c.outChannels;
  const g = convGeometry(c.shape, c.kernel, { strides: c.strides, padding: c.padding });
  const K = c.kernel[0] * c.kernel[1] * C;
  const pixels = N * g.outHeight * g.outWidth;
  const x = randomArray(N * H * W * C, random);
  const filter = randomArray(K * Co, random);
  const bias = randomArray(Co, random);
  const dy = randomArray(pixels * Co, random);
  const [x0, filter0, bias0, dy0] = [x.slice(), filter.slice(), bias.slice(), dy.slice()];
  const label = describeCase(c);

  // Forward, plain and with bias + relu.
  const conv = new Float64Array(pixels * Co);
  const convMagnitude = new Float64Array(pixels * Co);
  forEachTap(g, (p, tap, xp) => {
    for (let ci = 0; ci < C; ci++) {
      for (let co = 0; co < Co; co++) {
        const term = x[xp * C + ci] * filter[(tap * C + ci) * Co + co];
        conv[p * Co + co] += term;
        convMagnitude[p * Co + co] += Math.abs(term);
      }
    }
  });
  const y = new Float32Array(pixels * Co).fill(Number.NaN);
  expect(conv2dForwardWasm(x, 0, filter, 0, null, 0, false, y, 0, g, Co)).toBe(true);
  expectWithin(`${label} forward`, y, conv, convMagnitude, K);

  const fused = conv.map((v, i) => Math.max(0, v + bias[i % Co]));
  const fusedMagnitude = convMagnitude.map((m, i) => m + 2 * Math.abs(bias[i % Co]));
  const yFused = new Float32Array(pixels * Co).fill(Number.NaN);
  expect(conv2dForwardWasm(x, 0, filter, 0, bias, 0, true, yFused, 0, g, Co)).toBe(true);
  expectWithin(`${label} forward + bias + relu`, yFused, fused, fusedMagnitude, K);
  expect(
    yFused.every((v) => v >= 0),
    `${label}: relu output is never negative`,
  ).toBe(true);
  // The bias joins the finished sum, as a separate bias add would: the same bits as relu(conv2d + bias) in float32.
  for (let i = 0; i < y.length; i++) {
    const v = Math.fround(y[i] + bias[i % Co]);
    if (!Object.is(yFused[i], v < 0 ? 0 : v)) expect.fail(`${label}: fused output ${i} = ${yFused[i]}, relu(conv2d + bias) = ${v}`);
  }

  // Filter gradient: dfilter[tap, ci, co] = Σ x · dy.
  const dfilter = new Float64Array(K * Co);
  const dfilterMagnitude = new Float64Array(K * Co);
  forEachTap(g, (p, tap, xp) => {
    for (let ci = 0; ci < C; ci++) {
      for (let co = 0; co < Co; co++) {
        const term = x[xp * C + ci] * dy[p * Co + co];
        dfilter[(tap * C + ci) * Co + co] += term;
        dfilterMagnitude[(tap * C + ci) * Co + co] += Math.abs(term);
      }
    }
  });
  const gotDfilter = new Float32Array(K * Co).fill(Number.NaN);
  expect(conv2dBackpropFilterWasm(x, 0, dy, 0, gotDfilter, 0, g, Co)).toBe(true);
  expectWithin(`${label} filter gradient`, gotDfilter, dfilter, dfilterMagnitude, pixels);

  // Input gradient: dx[xp, ci] = Σ dy · filter.
  const dx = new Float64Array(N * H * W * C);
  const dxMagnitude = new Float64Array(N * H * W * C);
  forEachTap(g, (p, tap, xp) => {
    for (let ci = 0; ci < C; ci++) {
      for (let co = 0; co < Co; co++) {
        const term = dy[p * Co + co] * filter[(tap * C + ci) * Co + co];
        dx[xp * C + ci] += term;
        dxMagnitude[xp * C + ci] += Math.abs(term);
      }
    }
  });
  const gotDx = new Float32Array(N * H * W * C).fill(Number.NaN);
  expect(conv2dBackpropInputWasm(dy, 0, filter, 0, gotDx, 0, g, Co)).toBe(true);
  // An input cell is in at most kh·kw windows, each adding Cout terms.
  expectWithin(`${label} input gradient`, gotDx, dx, dxMagnitude, K * Co);

  // Inputs are never written.
  expect(
    [x, filter, bias, dy].every((a, i) => a.every((v, e) => Object.is(v, [x0, filter0, bias0, dy0][i][e]))),
    `${label}: inputs unchanged`,
  ).toBe(true);
}

describe('WebAssembly conv2d kernels (float32)', () => {
  it('are available on this engine', () => {
    expect(wasmKernels()).not.toBeNull();
  });

  it('compute a 1-channel 2×2 convolution by hand', () => {
    // x 3×3 = 1..9, filter 2×2 = [1 0; 0 -1] (valid): y[i][j] = x[i][j] − x[i+1][j+1] = −4 everywhere.
    const x = Float32Array.from({ length: 9 }, (_, i) => i + 1);
    const filter = Float32Array.of(1, 0, 0, -1);
    const g = convGeometry([1, 3, 3, 1], [2, 2], { strides: [1, 1], padding: 'valid' });
    const y = new Float32Array(4);
    conv2dForwardWasm(x, 0, filter, 0, Float32Array.of(5), 0, false, y, 0, g, 1);
    expect(Array.from(y)).toEqual([1, 1, 1, 1]); // −4 + bias 5
    conv2dForwardWasm(x, 0, filter, 0, Float32Array.of(3), 0, true, y, 0, g, 1);
    expect(Array.from(y)).toEqual([0, 0, 0, 0]); // relu(−4 + 3)
    // dfilter[a][b] = Σ_ij x[i+a][j+b] · dy[i][j] with dy = 1: sums of 2×2 blocks of x.
    const dfilter = new Float32Array(4);
    conv2dBackpropFilterWasm(x, 0, new Float32Array(4).fill(1), 0, dfilter, 0, g, 1);
    expect(Array.from(dfilter)).toEqual([1 + 2 + 4 + 5, 2 + 3 + 5 + 6, 4 + 5 + 7 + 8, 5 + 6 + 8 + 9]);
    // dx = full correlation of dy = 1 with the filter: +1 at the top-left 2×2, −1 at the bottom-right 2×2.
    const dx = new Float32Array(9).fill(Number.NaN);
    conv2dBackpropInputWasm(new Float32Array(4).fill(1), 0, filter, 0, dx, 0, g, 1);
    expect(Array.from(dx)).toEqual([1, 1, 0, 1, 0, -1, 0, -1, -1]);
  });

  const cases: Case[] = [
    // Single channel, stride 1: the packed path (LeNet's first layer and odd widths).
    { shape: [3, 28, 28, 1], kernel: [5, 5], strides: [1, 1], padding: 'same', outChannels: 6 },
    { shape: [2, 7, 9, 1], kernel: [3, 3], strides: [1, 1], padding: 'same', outChannels: 5 },
    { shape: [3, 6, 5, 1], kernel: [2, 4], strides: [2, 1], padding: 'valid', outChannels: 9 },
    { shape: [2, 3, 3, 1], kernel: [5, 5], strides: [1, 1], padding: 'same', outChannels: 3 },
    { shape: [1, 1, 1, 1], kernel: [1, 1], strides: [1, 1], padding: 'valid', outChannels: 1 },
    { shape: [5, 11, 13, 1], kernel: [1, 7], strides: [1, 1], padding: 'same', outChannels: 17 },
    // Every group width of the single-channel kernels (1 to 8 channels at once; 12 = 8 + 4, 15 = 8 + 7, 10 = 8 + 2).
    { shape: [2, 9, 11, 1], kernel: [3, 5], strides: [1, 1], padding: 'same', outChannels: 2 },
    { shape: [3, 10, 7, 1], kernel: [4, 3], strides: [2, 1], padding: 'same', outChannels: 4 },
    { shape: [2, 8, 13, 1], kernel: [5, 5], strides: [1, 1], padding: 'valid', outChannels: 7 },
    { shape: [2, 12, 9, 1], kernel: [3, 3], strides: [1, 1], padding: 'same', outChannels: 8 },
    { shape: [3, 7, 7, 1], kernel: [5, 5], strides: [1, 1], padding: 'same', outChannels: 12 },
    { shape: [2, 6, 10, 1], kernel: [2, 2], strides: [1, 1], padding: 'valid', outChannels: 15 },
    { shape: [1, 5, 9, 1], kernel: [3, 3], strides: [1, 1], padding: 'same', outChannels: 10 },
    // Many channels.
    { shape: [4, 14, 14, 6], kernel: [5, 5], strides: [1, 1], padding: 'valid', outChannels: 16 },
    { shape: [2, 9, 7, 3], kernel: [3, 3], strides: [2, 2], padding: 'same', outChannels: 7 },
    { shape: [3, 8, 8, 5], kernel: [2, 3], strides: [3, 1], padding: 'valid', outChannels: 13 },
    { shape: [2, 6, 6, 4], kernel: [1, 1], strides: [1, 1], padding: 'same', outChannels: 4 },
    { shape: [1, 5, 5, 2], kernel: [7, 7], strides: [1, 1], padding: 'same', outChannels: 3 },
    // More than 256 window columns (two k-blocks): 5·5·12 = 300.
    { shape: [2, 7, 7, 12], kernel: [5, 5], strides: [1, 1], padding: 'same', outChannels: 10 },
    // More than 256 output channels of reduction depth for the input gradient.
    { shape: [1, 4, 4, 3], kernel: [3, 3], strides: [1, 1], padding: 'same', outChannels: 300 },
    // One window row longer than 256 floats (a k-block per window row), and windows wider than tall.
    { shape: [2, 3, 31, 10], kernel: [2, 30], strides: [1, 1], padding: 'valid', outChannels: 9 },
    // More than 128 output pixels per image (several pixel blocks), 'same' padding with an odd total.
    { shape: [2, 13, 15, 3], kernel: [4, 4], strides: [1, 1], padding: 'same', outChannels: 11 },
    // Output rows of 38 pixels: the filter gradient's reduction in blocks of 6 output rows and a last of 4.
    { shape: [2, 12, 40, 3], kernel: [3, 3], strides: [1, 1], padding: 'valid', outChannels: 8 },
    // Strides larger than the window: image rows and columns no window reaches.
    { shape: [3, 8, 9, 2], kernel: [1, 2], strides: [3, 3], padding: 'valid', outChannels: 5 },
    { shape: [2, 9, 9, 3], kernel: [2, 2], strides: [3, 2], padding: 'same', outChannels: 6 },
    // Batches of 5, 6 and 7 images: the input gradient takes images four at a time, then the rest together.
    { shape: [5, 6, 7, 2], kernel: [3, 3], strides: [1, 1], padding: 'same', outChannels: 3 },
    { shape: [6, 14, 14, 6], kernel: [5, 5], strides: [1, 1], padding: 'valid', outChannels: 16 },
    { shape: [7, 5, 6, 4], kernel: [2, 3], strides: [2, 1], padding: 'valid', outChannels: 10 },
  ];
  for (const [i, c] of cases.entries()) {
    it(`match the naive sums: ${describeCase(c)}`, () => checkCase(c, 100 + i));
  }

  // The single-channel kernels work on blocks of up to 16 pixels of a row
  // (the last block 4, 8 or 12 wide) and channel pairs (forward), and on taps
  // in fours, which may straddle kernel rows, and channel pairs (filter
  // gradient; dy transposed four channels, then two, then one at a time).
  it('match the naive sums on single-channel images: every channel count and block width', () => {
    const widths = [1, 3, 4, 5, 8, 13, 16, 17, 22, 29, 33];
    const windows: [[number, number], [number, number], Padding][] = [
      [[5, 5], [1, 1], 'same'],
      [[3, 3], [2, 1], 'same'],
      [[2, 7], [1, 1], 'same'],
      [[1, 1], [1, 1], 'valid'],
      [[4, 2], [3, 1], 'valid'],
    ];
    const outChannels = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16];
    let trial = 0;
    for (const Co of outChannels) {
      for (const [w, W] of widths.entries()) {
        const [kernel, strides, padding] = windows[(w + Co) % windows.length];
        const H = padding === 'valid' ? kernel[0] + (trial % 4) : 1 + (trial % 6);
        checkCase(
          { shape: [1 + (trial % 3), H, Math.max(W, padding === 'valid' ? kernel[1] : 1), 1], kernel, strides, padding, outChannels: Co },
          3000 + trial++,
        );
      }
    }
  });

  it('sum a single-channel forward pass in tap order, with the bias after the sum (same bits as conv2d, then biasAdd)', () => {
    const random = makeRandom(11);
    for (const [shape, kernel, strides, padding, Co] of [
      [[3, 28, 28, 1], [5, 5], [1, 1], 'same', 6],
      [[2, 9, 13, 1], [3, 4], [2, 1], 'same', 5],
      [[2, 7, 21, 1], [2, 3], [1, 1], 'valid', 9],
    ] as [[number, number, number, number], [number, number], [number, number], Padding, number][]) {
      const g = convGeometry(shape, kernel, { strides, padding });
      const x = randomArray(shape[0] * shape[1] * shape[2], random);
      const filter = randomArray(kernel[0] * kernel[1] * Co, random);
      const bias = randomArray(Co, random);
      const y = new Float32Array(g.batch * g.outHeight * g.outWidth * Co);
      conv2dForwardWasm(x, 0, filter, 0, bias, 0, true, y, 0, g, Co);
      // Every tap in order, padding cells as 0, rounded to float32 after each step.
      for (let n = 0, i = 0; n < g.batch; n++) {
        for (let oh = 0; oh < g.outHeight; oh++) {
          for (let ow = 0; ow < g.outWidth; ow++) {
            for (let co = 0; co < Co; co++, i++) {
              let sum = 0;
              for (let ki = 0; ki < kernel[0]; ki++) {
                for (let kj = 0; kj < kernel[1]; kj++) {
                  const ih = oh * strides[0] - g.padTop + ki,
                    iw = ow - g.padLeft + kj;
                  const cell = ih >= 0 && ih < g.inHeight && iw >= 0 && iw < g.inWidth ? x[(n * g.inHeight + ih) * g.inWidth + iw] : 0;
                  sum = Math.fround(sum + Math.fround(cell * filter[(ki * kernel[1] + kj) * Co + co]));
                }
              }
              const biased = Math.fround(sum + bias[co]);
              const want = biased < 0 ? 0 : biased;
              if (!Object.is(y[i], want)) expect.fail(`x [${shape}] kernel [${kernel}] Cout ${Co}: element ${i} = ${y[i]}, expected ${want}`);
            }
          }
        }
      }
    }
  });

  it('match the naive sums on random shapes', () => {
    const random = makeRandom(77);
    const pick = (n: number): number => Math.floor(((random() + 1) / 2) * n);
    for (let trial = 0; trial < 40; trial++) {
      const kernel: [number, number] = [1 + pick(5), 1 + pick(5)];
      const padding: Padding = pick(2) === 0 ? 'same' : 'valid';
      const H = (padding === 'valid' ? kernel[0] : 1) + pick(9);
      const W = (padding === 'valid' ? kernel[1] : 1) + pick(9);
      const c: Case = {
        shape: [1 + pick(4), H, W, pick(3) === 0 ? 1 : 1 + pick(9)],
        kernel,
        strides: [1 + pick(3), pick(2) === 0 ? 1 : 1 + pick(3)],
        padding,
        outChannels: 1 + pick(19),
      };
      checkCase(c, 1000 + trial);
    }
  });

  it('handle an empty batch: no output, a zero filter gradient', () => {
    for (const channels of [1, 3]) {
      const g = convGeometry([0, 5, 5, channels], [3, 3], { strides: [1, 1], padding: 'same' });
      const dfilter = new Float32Array(9 * channels * 4).fill(Number.NaN);
      expect(conv2dBackpropFilterWasm(new Float32Array(0), 0, new Float32Array(0), 0, dfilter, 0, g, 4)).toBe(true);
      expect(dfilter.every((v) => Object.is(v, 0))).toBe(true);
      expect(conv2dForwardWasm(new Float32Array(0), 0, new Float32Array(9 * channels * 4), 0, null, 0, false, new Float32Array(0), 0, g, 4)).toBe(true);
      expect(conv2dBackpropInputWasm(new Float32Array(0), 0, new Float32Array(9 * channels * 4), 0, new Float32Array(0), 0, g, 4)).toBe(true);
    }
  });

  it('read and write at offsets inside larger arrays, touching nothing else', () => {
    const random = makeRandom(5);
    const g = convGeometry([2, 6, 6, 1], [3, 3], { strides: [1, 1], padding: 'same' });
    const x = randomArray(2 * 36 + 3, random);
    const filter = randomArray(9 * 4 + 2, random);
    const y = new Float32Array(2 * 36 * 4 + 5).fill(7);
    conv2dForwardWasm(x, 3, filter, 2, null, 0, false, y, 5, g, 4);
    const plain = new Float32Array(2 * 36 * 4);
    conv2dForwardWasm(x.slice(3), 0, filter.slice(2), 0, null, 0, false, plain, 0, g, 4);
    expect(Array.from(y.subarray(0, 5))).toEqual([7, 7, 7, 7, 7]);
    expect(Array.from(y.subarray(5))).toEqual(Array.from(plain));
  });
});
