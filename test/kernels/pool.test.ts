import { describe, it, expect } from 'vitest';
import { avgPoolBackward, avgPoolForward, convGeometry, maxPoolBackward, maxPoolForward, type Padding } from '@ndgraph/ops/kernels';
import { uniformRandom } from '../helpers.ts';
import { avgPoolBackwardReference, avgPoolForwardReference, maxPoolBackwardReference, maxPoolForwardReference } from '../oracles/pool.ts';

/** Values in [-1, 1), or small integers (many ties) when `integers`. */
function randomArray(n: number, seed: number, integers = false): Float64Array {
  const uniform = uniformRandom(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = uniform();
    out[i] = integers ? Math.floor(u * 4) : u * 2 - 1;
  }
  return out;
}

interface Case {
  shape: [number, number, number, number];
  ksize: [number, number];
  strides: [number, number];
  padding: Padding;
}

const cases: Case[] = [];
for (const padding of ['valid', 'same'] as const) {
  for (const [ksize, strides] of [
    [
      [2, 2],
      [2, 2],
    ],
    [
      [3, 3],
      [2, 2],
    ],
    [
      [3, 3],
      [1, 1],
    ],
    [
      [1, 1],
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
      [5, 5],
      [2, 2],
    ],
  ] as [[number, number], [number, number]][]) {
    for (const shape of [
      [1, 7, 7, 1],
      [2, 5, 8, 3],
      [3, 17, 6, 2],
    ] as [number, number, number, number][]) {
      if (padding === 'valid' && (shape[1] < ksize[0] || shape[2] < ksize[1])) continue;
      cases.push({ shape, ksize, strides, padding });
    }
  }
}
const label = (c: Case) => `x [${c.shape}] ksize [${c.ksize}] strides [${c.strides}] ${c.padding}`;

describe('pooling kernels', () => {
  for (const c of cases) {
    it(`fast == reference: ${label(c)}`, () => {
      const g = convGeometry(c.shape, c.ksize, { strides: c.strides, padding: c.padding });
      const inSize = c.shape.reduce((a, b) => a * b, 1);
      const outSize = c.shape[0] * g.outHeight * g.outWidth * c.shape[3];
      const xOffset = 2;
      const outOffset = 3;
      for (const integers of [false, true]) {
        const x = randomArray(xOffset + inSize, 5, integers);
        const dy = randomArray(outOffset + outSize, 9);

        for (const [fast, reference] of [
          [maxPoolForward, maxPoolForwardReference],
          [avgPoolForward, avgPoolForwardReference],
        ]) {
          const a = new Float64Array(outOffset + outSize + 1).fill(99);
          const b = a.slice();
          fast(x, xOffset, g, a, outOffset);
          reference(x, xOffset, g, b, outOffset);
          for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 12);
        }

        // Backward kernels add into dx: start from the same non-zero contents.
        const dxStart = randomArray(xOffset + inSize + 1, 21);
        const a = dxStart.slice();
        const b = dxStart.slice();
        maxPoolBackward(dy, outOffset, x, xOffset, g, a, xOffset);
        maxPoolBackwardReference(dy, outOffset, x, xOffset, g, b, xOffset);
        for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 12);
        const c2 = dxStart.slice();
        const d2 = dxStart.slice();
        avgPoolBackward(dy, outOffset, g, c2, xOffset);
        avgPoolBackwardReference(dy, outOffset, g, d2, xOffset);
        for (let i = 0; i < c2.length; i++) expect(c2[i]).toBeCloseTo(d2[i], 12);
      }
    });
  }

  it('max pool: first max wins ties, padding never wins, NaN propagates', () => {
    // One channel, 2×3 image, one 2×3 window ('valid').
    const g = convGeometry([1, 2, 3, 1], [2, 3], { strides: [1, 1], padding: 'valid' });
    for (const [forward, backward] of [
      [maxPoolForward, maxPoolBackward],
      [maxPoolForwardReference, maxPoolBackwardReference],
    ] as const) {
      const x = new Float64Array([1, 5, 2, 5, 0, 5]);
      const out = new Float64Array(1);
      forward(x, 0, g, out, 0);
      expect(out[0]).toBe(5);
      const dx = new Float64Array(6);
      backward(new Float64Array([7]), 0, x, 0, g, dx, 0);
      expect(Array.from(dx)).toEqual([0, 7, 0, 0, 0, 0]);

      const negatives = new Float64Array([-3, -2, -4, -5]); // [1,2,2,1] with 'same' 3×3 windows: padding must not give 0
      const gs = convGeometry([1, 2, 2, 1], [3, 3], { strides: [1, 1], padding: 'same' });
      const pooled = new Float64Array(4);
      forward(negatives, 0, gs, pooled, 0);
      expect(Array.from(pooled)).toEqual([-2, -2, -2, -2]);

      const withNaN = new Float64Array([1, NaN, 3, NaN, 0, 9]);
      forward(withNaN, 0, g, out, 0);
      expect(out[0]).toBeNaN();
      const dxNaN = new Float64Array(6);
      backward(new Float64Array([1]), 0, withNaN, 0, g, dxNaN, 0);
      expect(Array.from(dxNaN)).toEqual([0, 1, 0, 0, 0, 0]);
    }
  });

  it('average pool divides by the number of real cells', () => {
    // 3×3 image, 2×2 windows, stride 2, 'same': one padding row and column after, so
    // window cell counts are 4, 2, 2, 1.
    const g = convGeometry([1, 3, 3, 1], [2, 2], { strides: [2, 2], padding: 'same' });
    const x = new Float64Array([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const [forward, backward] of [
      [avgPoolForward, avgPoolBackward],
      [avgPoolForwardReference, avgPoolBackwardReference],
    ] as const) {
      const out = new Float64Array(4);
      forward(x, 0, g, out, 0);
      expect(Array.from(out)).toEqual([(1 + 2 + 4 + 5) / 4, (3 + 6) / 2, (7 + 8) / 2, 9]);
      const dx = new Float64Array(9);
      backward(new Float64Array([4, 2, 6, 1]), 0, g, dx, 0);
      expect(Array.from(dx)).toEqual([1, 1, 1, 1, 1, 1, 3, 3, 1]);
    }
  });

  it('works on float32 arrays', () => {
    const g = convGeometry([2, 7, 6, 3], [3, 3], { strides: [2, 2], padding: 'same' });
    const x = Float32Array.from(randomArray(2 * 7 * 6 * 3, 31));
    const n = 2 * g.outHeight * g.outWidth * 3;
    const a = new Float32Array(n);
    const b = new Float32Array(n);
    maxPoolForward(x, 0, g, a, 0);
    maxPoolForwardReference(x, 0, g, b, 0);
    expect(Array.from(a)).toEqual(Array.from(b));
    avgPoolForward(x, 0, g, a, 0);
    avgPoolForwardReference(x, 0, g, b, 0);
    for (let i = 0; i < n; i++) expect(a[i]).toBeCloseTo(b[i], 5);
  });
});
