import { describe, it, expect } from 'vitest';
import {
  col2im,
  convGeometry,
  convOutputSize,
  convPadBefore,
  im2col,
  im2colWidth,
  imagesPerChunk,
  MAX_COLS_ELEMENTS,
  type ConvGeometry,
  type Padding,
} from '@ndgraph/ops/kernels';
import { randomArray } from '../helpers.ts';
import { col2imReference, im2colReference } from '../oracles/im2col.ts';

interface Case {
  shape: [number, number, number, number];
  kernel: [number, number];
  strides: [number, number];
  padding: Padding;
}

const cases: Case[] = [];
for (const padding of ['same', 'valid'] as const) {
  for (const [kernel, strides] of [
    [
      [1, 1],
      [1, 1],
    ],
    [
      [1, 1],
      [2, 2],
    ],
    [
      [2, 2],
      [1, 1],
    ],
    [
      [3, 3],
      [1, 1],
    ],
    [
      [3, 3],
      [2, 2],
    ],
    [
      [5, 5],
      [1, 1],
    ],
    [
      [5, 3],
      [2, 3],
    ],
    [
      [2, 4],
      [3, 1],
    ],
  ] as [[number, number], [number, number]][]) {
    for (const shape of [
      [1, 7, 7, 1],
      [2, 5, 9, 3],
      [3, 17, 6, 2],
    ] as [number, number, number, number][]) {
      if (padding === 'valid' && (shape[1] < kernel[0] || shape[2] < kernel[1])) continue;
      cases.push({ shape, kernel, strides, padding });
    }
  }
}
const describeCase = (c: Case) => `x [${c.shape}] kernel [${c.kernel}] strides [${c.strides}] ${c.padding}`;

describe('conv geometry', () => {
  it('output size and TF same padding, by hand', () => {
    // in 5, k 3, stride 2, same: out ceil(5/2) = 3, padTotal = (3−1)·2 + 3 − 5 = 2, before 1.
    expect(convOutputSize(5, 3, 2, 'same')).toBe(3);
    expect(convPadBefore(5, 3, 2, 'same')).toBe(1);
    // in 5, k 2, stride 2, same: out 3, padTotal = 4 + 2 − 5 = 1, before 0 (the extra cell goes after).
    expect(convOutputSize(5, 2, 2, 'same')).toBe(3);
    expect(convPadBefore(5, 2, 2, 'same')).toBe(0);
    // in 6, k 5, stride 1, same: out 6, padTotal 4, before 2.
    expect(convOutputSize(6, 5, 1, 'same')).toBe(6);
    expect(convPadBefore(6, 5, 1, 'same')).toBe(2);
    // in 4, k 2, stride 2, same: padTotal = 2 + 2 − 4 = 0.
    expect(convPadBefore(4, 2, 2, 'same')).toBe(0);
    // in 4, k 7, stride 3, same: out 2, padTotal = 3 + 7 − 4 = 6, before 3.
    expect(convOutputSize(4, 7, 3, 'same')).toBe(2);
    expect(convPadBefore(4, 7, 3, 'same')).toBe(3);
    // valid: floor((in − k) / stride) + 1, no padding.
    expect(convOutputSize(7, 3, 2, 'valid')).toBe(3);
    expect(convOutputSize(28, 5, 1, 'valid')).toBe(24);
    expect(convOutputSize(8, 3, 3, 'valid')).toBe(2);
    expect(convPadBefore(8, 3, 3, 'valid')).toBe(0);
    expect(convOutputSize(-1, 3, 1, 'same')).toBe(-1);
  });

  it('chunks keep the im2col matrix under its bound', () => {
    const g = convGeometry([10, 40, 40, 32], [5, 5], { strides: [1, 1], padding: 'same' });
    const perImage = 40 * 40 * 5 * 5 * 32;
    expect(imagesPerChunk(g)).toBe(Math.floor(MAX_COLS_ELEMENTS / perImage));
    expect(imagesPerChunk(g) * perImage).toBeLessThanOrEqual(MAX_COLS_ELEMENTS);
    expect(imagesPerChunk(convGeometry([3, 4, 4, 1], [3, 3], { strides: [1, 1], padding: 'same' }))).toBe(3);
  });
});

describe('im2col / col2im kernels', () => {
  it('im2col of a 3×3 image with a 2×2 window, by hand', () => {
    const x = new Float64Array([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const valid = convGeometry([1, 3, 3, 1], [2, 2], { strides: [1, 1], padding: 'valid' });
    // 'same' with stride 2: out 2×2, padTotal 1 → nothing before, one padding row/column after.
    const same = convGeometry([1, 3, 3, 1], [2, 2], { strides: [2, 2], padding: 'same' });
    for (const kernel of [im2col, im2colReference]) {
      const cols = new Float64Array(16);
      kernel(x, 0, valid, 0, 1, cols, 0);
      expect(Array.from(cols)).toEqual([1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9]);
      kernel(x, 0, same, 0, 1, cols, 0);
      expect(Array.from(cols)).toEqual([1, 2, 4, 5, 3, 0, 6, 0, 7, 8, 0, 0, 9, 0, 0, 0]);
    }
  });

  it('col2im of a 3×3 image with a 2×2 window adds each entry back, by hand', () => {
    const valid = convGeometry([1, 3, 3, 1], [2, 2], { strides: [1, 1], padding: 'valid' });
    for (const kernel of [col2im, col2imReference]) {
      const dx = new Float64Array(9);
      kernel(new Float64Array(16).fill(1), 0, valid, 0, 1, dx, 0);
      // How many windows cover each cell.
      expect(Array.from(dx)).toEqual([1, 2, 1, 2, 4, 2, 1, 2, 1]);
    }
  });

  it('channels stay together: a 1×1 window copies pixels', () => {
    const x = new Float64Array([1, 10, 2, 20, 3, 30, 4, 40]); // [1,2,2,2]
    const g = convGeometry([1, 2, 2, 2], [1, 1], { strides: [2, 2], padding: 'valid' });
    const cols = new Float64Array(2);
    im2col(x, 0, g, 0, 1, cols, 0);
    expect(Array.from(cols)).toEqual([1, 10]);
  });

  for (const c of cases) {
    it(`fast == reference: ${describeCase(c)}`, () => {
      const g: ConvGeometry = convGeometry(c.shape, c.kernel, { strides: c.strides, padding: c.padding });
      const [N, H, W, C] = c.shape;
      const width = im2colWidth(g);
      const rows = g.outHeight * g.outWidth;
      const xOffset = 3;
      const colsOffset = 5;
      const x = randomArray(xOffset + N * H * W * C, 7);

      // im2col over the whole batch, and over the images [1, N) only (as a chunk).
      for (const [first, count] of [
        [0, N],
        [Math.min(1, N - 1), N - Math.min(1, N - 1)],
      ]) {
        const fast = new Float64Array(colsOffset + count * rows * width + 2).fill(99);
        const reference = fast.slice();
        im2col(x, xOffset, g, first, count, fast, colsOffset);
        im2colReference(x, xOffset, g, first, count, reference, colsOffset);
        expect(Array.from(fast)).toEqual(Array.from(reference));
      }

      // col2im adds into dx (whatever it held), and touches nothing else.
      const cols = randomArray(N * rows * width, 11);
      const dxStart = randomArray(xOffset + N * H * W * C + 2, 13);
      const fast = dxStart.slice();
      const reference = dxStart.slice();
      col2im(cols, 0, g, 0, N, fast, xOffset);
      col2imReference(cols, 0, g, 0, N, reference, xOffset);
      for (let i = 0; i < fast.length; i++) expect(fast[i]).toBeCloseTo(reference[i], 12);
    });
  }

  it('col2im is the transpose of im2col: <im2col(x), c> = <x, col2im(c)>', () => {
    for (const c of cases) {
      const g = convGeometry(c.shape, c.kernel, { strides: c.strides, padding: c.padding });
      const [N, H, W, C] = c.shape;
      const x = randomArray(N * H * W * C, 17);
      const colsSize = N * g.outHeight * g.outWidth * im2colWidth(g);
      const probe = randomArray(colsSize, 19);
      const cols = new Float64Array(colsSize);
      im2col(x, 0, g, 0, N, cols, 0);
      const dx = new Float64Array(x.length);
      col2im(probe, 0, g, 0, N, dx, 0);
      let left = 0;
      let right = 0;
      for (let i = 0; i < colsSize; i++) left += cols[i] * probe[i];
      for (let i = 0; i < x.length; i++) right += x[i] * dx[i];
      expect(left, describeCase(c)).toBeCloseTo(right, 10);
    }
  });

  it('works on float32 arrays', () => {
    const g = convGeometry([2, 6, 5, 3], [3, 3], { strides: [2, 1], padding: 'same' });
    const x = Float32Array.from(randomArray(2 * 6 * 5 * 3, 23));
    const size = 2 * g.outHeight * g.outWidth * im2colWidth(g);
    const fast = new Float32Array(size);
    const reference = new Float32Array(size);
    im2col(x, 0, g, 0, 2, fast, 0);
    im2colReference(x, 0, g, 0, 2, reference, 0);
    expect(Array.from(fast)).toEqual(Array.from(reference));
    const dxFast = new Float32Array(x.length);
    const dxReference = new Float32Array(x.length);
    col2im(fast, 0, g, 0, 2, dxFast, 0);
    col2imReference(fast, 0, g, 0, 2, dxReference, 0);
    for (let i = 0; i < x.length; i++) expect(dxFast[i]).toBeCloseTo(dxReference[i], 5);
  });
});
