import { describe, it, expect } from 'vitest';
import { avgPool, avgPoolGrad, biasAdd, conv2d, maxPool, maxPoolGather, maxPoolGrad, relu, square, sum } from '@ndgraph/ops';
import { avgPoolGradOp, maxPoolGatherOp, maxPoolGradOp, maxPoolOp, type PoolOptions } from '@ndgraph/ops/kernels';
import { Graph, GraphError, ShapeError, gradients, onesLike, type Node, type Tensor } from '@ndgraph/graph';
import { evaluate, expectClose, expectGradcheck, randomTensor, tensor, distinctTensor } from '../helpers.ts';

/** A 5×5 one-channel image with x[i, j] = 5i + j. */
const ramp = tensor(
  Array.from({ length: 25 }, (_, k) => k),
  [1, 5, 5, 1],
  'float64',
);

describe('maxPool', () => {
  const x = tensor([1, 3, 2, 4, 5, 0, 7, 1, 6, 2, 3, 8, 0, 9, 4, 5], [1, 4, 4, 1]);

  it('2×2 windows, stride 2 (the default), by hand', () => {
    const y = evaluate((p) => maxPool(p, { ksize: 2 }), [x]);
    expect(y.shape).toEqual([1, 2, 2, 1]);
    expectClose(y, [5, 7, 9, 8]);
    // dy [1,2,3,4] goes to the cells holding 5, 7, 9 and 8.
    const dx = evaluate((d, p) => maxPoolGrad(d, p, { ksize: 2 }), [tensor([1, 2, 3, 4], [1, 2, 2, 1]), x]);
    expectClose(dx, [0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 4, 0, 3, 0, 0]);
  });

  it('channels are pooled independently', () => {
    // pixels (c0, c1): (1, 8), (4, 5), (3, 6), (2, 7)
    const xc = tensor([1, 8, 4, 5, 3, 6, 2, 7], [1, 2, 2, 2]);
    expectClose(
      evaluate((p) => maxPool(p, { ksize: 2 }), [xc]),
      [4, 8],
    );
    expectClose(
      evaluate((d, p) => maxPoolGrad(d, p, { ksize: 2 }), [tensor([1, 1], [1, 1, 1, 2]), xc]),
      [0, 1, 1, 0, 0, 0, 0, 0],
    );
  });

  it('ksize 3, stride 2: ties go to the first max in row-major order; overlapping windows add up', () => {
    const tied = tensor(
      [
        [1, 2, 3, 2, 1],
        [4, 9, 9, 0, 2],
        [3, 9, 5, 9, 1],
        [0, 1, 2, 3, 4],
        [7, 0, 6, 0, 7],
      ].flat(),
      [1, 5, 5, 1],
    );
    const opts = { ksize: 3, strides: 2 } as const;
    expectClose(
      evaluate((p) => maxPool(p, opts), [tied]),
      [9, 9, 9, 9],
    );
    // Window (0,0) holds 9s at (1,1), (1,2), (2,1): the first is (1,1). Window (0,1): (1,2) before (2,3).
    // Window (1,0): (2,1). Window (1,1): (2,3).
    const dx = evaluate((d, p) => maxPoolGrad(d, p, opts), [tensor([1, 2, 3, 4], [1, 2, 2, 1]), tied]);
    expectClose(
      dx,
      [
        [0, 0, 0, 0, 0],
        [0, 1, 2, 0, 0],
        [0, 3, 0, 4, 0],
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0],
      ].flat(),
    );
    // The centre cell lies in all four windows; as their max it collects 1 + 2 + 3 + 4.
    const peak = tensor([...Array(12).fill(0), 10, ...Array(12).fill(0)], [1, 5, 5, 1]);
    const dxPeak = evaluate((d, p) => maxPoolGrad(d, p, opts), [tensor([1, 2, 3, 4], [1, 2, 2, 1]), peak]);
    expectClose(dxPeak, [...Array(12).fill(0), 10, ...Array(12).fill(0)]);
  });

  it("'same' padding, ksize 3, stride 2: windows are clipped and padding never wins", () => {
    // out 3×3, padTotal = 2·2 + 3 − 5 = 2, one padding row/column before. Window rows {0,1}, {1,2,3}, {3,4}.
    const opts = { ksize: 3, strides: 2, padding: 'same' } as const;
    // Max of 5i + j is at the window's bottom-right real cell: rows 1, 3, 4 and columns 1, 3, 4.
    expectClose(
      evaluate((p) => maxPool(p, opts), [ramp]),
      [6, 8, 9, 16, 18, 19, 21, 23, 24],
    );
    // On −x − 1 (all negative) the max is at the top-left real cell, never the zero padding.
    const negative = tensor(
      Array.from({ length: 25 }, (_, k) => -k - 1),
      [1, 5, 5, 1],
    );
    expectClose(
      evaluate((p) => maxPool(p, opts), [negative]),
      [-1, -2, -4, -6, -7, -9, -16, -17, -19],
    );
  });

  it('shape rule and errors', () => {
    const g = new Graph();
    const x4 = g.placeholder('x', [-1, 24, 24, 6]);
    expect(maxPool(x4, { ksize: 2 }).shape).toEqual([-1, 12, 12, 6]);
    expect(maxPool(x4, { ksize: 3, strides: 2 }).shape).toEqual([-1, 11, 11, 6]);
    expect(maxPool(x4, { ksize: 3, strides: 2, padding: 'same' }).shape).toEqual([-1, 12, 12, 6]);
    expect(maxPool(x4, { ksize: [2, 3], strides: [1, 3] }).shape).toEqual([-1, 23, 8, 6]);
    const small = g.placeholder('small', [1, 2, 8, 1]);
    expect(() => maxPool(small, { ksize: 3 })).toThrow(ShapeError);
    expect(() => g.scope('pool', () => maxPool(small, { ksize: 3 }))).toThrow(
      /pool\/maxPool \(op maxPool, inputs \[1,2,8,1\] float32\): input height 2 is smaller than the window height 3/,
    );
    expect(() => maxPool(x4, { ksize: 0 })).toThrow(GraphError);
    expect(() => maxPool(x4, { ksize: 2, padding: 'full' as 'same' })).toThrow(/padding must be 'same' or 'valid'/);
    expect(() => maxPoolOp([x4], { ksize: [2, 2] } as never)).toThrow(/attrs.strides must be a pair/);
    expect(() => maxPool(g.placeholder('flat', [2, 784]), { ksize: 2 })).toThrow(/input must have rank 4/);
    const dy = g.placeholder('dy', [-1, 11, 11, 6]);
    expect(maxPoolGrad(dy, x4, { ksize: 3, strides: 2 }).shape).toEqual([-1, 24, 24, 6]);
    expect(() => maxPoolGrad(dy, x4, { ksize: 2 })).toThrow(/dy must have the maxPool output shape \[\?,12,12,6\], found \[\?,11,11,6\]/);
  });

  it('float32', () => {
    expectClose(
      evaluate(
        (p) => maxPool(p, { ksize: 3, strides: 2, padding: 'same' }),
        [
          tensor(
            Array.from({ length: 25 }, (_, k) => k),
            [1, 5, 5, 1],
            'float32',
          ),
        ],
      ),
      [6, 8, 9, 16, 18, 19, 21, 23, 24],
    );
  });

  const gradConfigs: [number[], { ksize: number | [number, number]; strides?: number | [number, number]; padding?: 'same' | 'valid' }][] = [
    [[2, 5, 5, 3], { ksize: 3, strides: 2 }],
    [[1, 6, 7, 2], { ksize: 2, padding: 'same' }],
    [[2, 5, 6, 2], { ksize: 3, strides: 1, padding: 'same' }],
    [[1, 7, 7, 1], { ksize: [2, 3], strides: [1, 2] }],
  ];
  for (const [shape, opts] of gradConfigs) {
    it(`gradcheck (no ties) x [${shape}] ${JSON.stringify(opts)}`, () => {
      expectGradcheck(`maxPool ${JSON.stringify(opts)}`, (p) => maxPool(p, opts), [distinctTensor(shape, 3)]);
    });
  }

  it('its gradient is maxPoolGrad, whose gradient with respect to dy is maxPoolGather (and none with respect to x)', () => {
    const g = new Graph();
    const x = g.placeholder('x', [1, 4, 4, 1], 'float64');
    const y = maxPool(x, { ksize: 2 });
    const [dx] = gradients(y, [x], { dy: onesLike([y]) });
    expect(dx.op).toBe(maxPoolGradOp.def);
    const dy = g.placeholder('dy', [1, 2, 2, 1], 'float64');
    const back = maxPoolGrad(dy, x, { ksize: 2 });
    const [ddy, dxOfBack] = gradients(back, [dy, x], { dy: onesLike([back]) });
    expect(ddy.op).toBe(maxPoolGatherOp.def);
    expect(ddy.shape).toEqual([1, 2, 2, 1]);
    expect(dxOfBack.op.name).toBe('zerosLike'); // no path: the chosen cells only jump at ties
  });
});

describe('maxPoolGather (the transpose of maxPoolGrad)', () => {
  it('each window takes g at its first maximum, by hand (ties and positiveOnly too)', () => {
    // ksize 3, stride 2 on a 3×3 image: one window; x's max 9 is at (1,1).
    const x = tensor([1, 2, 3, 4, 9, 6, 7, 8, 5], [1, 3, 3, 1], 'float64');
    const grad = tensor([10, 20, 30, 40, 50, 60, 70, 80, 90], [1, 3, 3, 1], 'float64');
    expectClose(
      evaluate((q, p) => maxPoolGather(q, p, { ksize: 3, strides: 2 }), [grad, x]),
      [50],
    );
    // Ties go to the first cell in row-major order, as in maxPoolGrad: cells (0,1) and (1,0) tie at 4.
    const tied = tensor([0, 4, 4, 1], [1, 2, 2, 1], 'float64');
    expectClose(
      evaluate((q, p) => maxPoolGather(q, p, { ksize: 2 }), [tensor([1, 2, 3, 4], [1, 2, 2, 1], 'float64'), tied]),
      [2],
    );
    // positiveOnly: a window whose maximum is not positive gives 0.
    const twoWindows = tensor([-3, -1, 5, 2], [1, 1, 4, 1], 'float64');
    const q = tensor([7, 8, 9, 10], [1, 1, 4, 1], 'float64');
    expectClose(
      evaluate((a, b) => maxPoolGather(a, b, { ksize: [1, 2], positiveOnly: true }), [q, twoWindows]),
      [0, 9],
    );
    expectClose(
      evaluate((a, b) => maxPoolGather(a, b, { ksize: [1, 2] }), [q, twoWindows]),
      [8, 9],
    );
  });

  it('is the transpose of maxPoolGrad: <maxPoolGrad(dy, x), g> = <dy, maxPoolGather(g, x)>, overlapping windows and padding included', () => {
    const cases: [PoolOptions, boolean][] = [
      [{ ksize: 3, strides: 2, padding: 'same' }, false],
      [{ ksize: 2 }, true],
      [{ ksize: [2, 3], strides: 1 }, false],
    ];
    for (const [options, positiveOnly] of cases) {
      const x = distinctTensor([2, 5, 6, 3], 3);
      const grad = randomTensor([2, 5, 6, 3], 5);
      const pooled = evaluate((p) => maxPool(p, options), [x]);
      const dy = randomTensor(pooled.shape, 7);
      const attrs = { ...options, positiveOnly };
      const scattered = evaluate((d, p) => maxPoolGrad(d, p, attrs), [dy, x]);
      const gathered = evaluate((q, p) => maxPoolGather(q, p, attrs), [grad, x]);
      const dot = (a: Tensor, b: Tensor) => Array.from(a.data).reduce((sum, v, i) => sum + v * b.data[i], 0);
      expect(dot(scattered, grad)).toBeCloseTo(dot(dy, gathered), 12);
    }
  });

  it('passes the float64 gradient check, and so do second derivatives through max pooling', () => {
    const x = distinctTensor([2, 4, 6, 2], 11);
    expectGradcheck('maxPoolGather', (q, p) => maxPoolGather(q, p, { ksize: 2 }), [randomTensor([2, 4, 6, 2], 13), x]);
    // d/dx of the gradient of sum(maxPool(x)²): through maxPoolGrad's own gradient.
    const gradOfSquaredPool = (p: Node) => gradients(sum(square(maxPool(p, { ksize: 3, strides: 2, padding: 'same' }))), [p])[0];
    expectGradcheck('second derivative through maxPool', gradOfSquaredPool, [distinctTensor([1, 5, 5, 2], 17)]);
    // And through a conv layer followed by a pool (which sessions fuse into maxPoolGrad with positiveOnly).
    const gradOfLayer = (p: Node, w: Node, b: Node) =>
      gradients(sum(square(maxPool(relu(biasAdd(conv2d(p, w, { padding: 'same' }), b)), { ksize: 2 }))), [p])[0];
    expectGradcheck('second derivative through maxPool(relu(conv2d + bias))', gradOfLayer, [
      randomTensor([1, 4, 4, 2], 19),
      randomTensor([3, 3, 2, 3], 23),
      randomTensor([3], 29, -0.5, 0.5),
    ]);
  });

  it('rejects g of another shape than x', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 4, 4, 3]);
    expect(() => maxPoolGather(g.placeholder('g', [-1, 4, 5, 3]), x, { ksize: 2 })).toThrow(/g must have x's shape \[\?,4,4,3\], found \[\?,4,5,3\]/);
  });
});

describe('avgPool', () => {
  it('2×2 windows, by hand', () => {
    const x = tensor([1, 3, 2, 4, 5, 0, 7, 1, 6, 2, 3, 8, 0, 9, 4, 5], [1, 4, 4, 1]);
    expectClose(
      evaluate((p) => avgPool(p, { ksize: 2 }), [x]),
      [2.25, 3.5, 4.25, 5],
    );
    // Each dy is shared equally by the 4 cells of its window.
    const dx = evaluate((d, p) => avgPoolGrad(d, p, { ksize: 2 }), [tensor([4, 8, 12, 16], [1, 2, 2, 1]), x]);
    expectClose(dx, [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  });

  it("'same' padding divides by the number of real cells (ksize 3, stride 2)", () => {
    // Window rows {0,1}, {1,2,3}, {3,4} (likewise columns); the mean of 5i + j over a block is 5·mean(i) + mean(j),
    // with row means 0.5, 2, 3.5: corners divide by 4 and edges by 6, not 9.
    const opts = { ksize: 3, strides: 2, padding: 'same' } as const;
    expectClose(
      evaluate((p) => avgPool(p, opts), [ramp]),
      [3, 4.5, 6, 10.5, 12, 13.5, 18, 19.5, 21],
      1e-12,
    );
    // Gradient of the sum: dx[i, j] = r(i)·r(j), where r sums 1/(rows of window) over the windows holding row i:
    // r = [1/2, 1/2 + 1/3, 1/3, 1/3 + 1/2, 1/2].
    const r = [1 / 2, 5 / 6, 1 / 3, 5 / 6, 1 / 2];
    const dx = evaluate((d, p) => avgPoolGrad(d, p, opts), [tensor(Array(9).fill(1), [1, 3, 3, 1], 'float64'), ramp]);
    expectClose(
      dx,
      r.flatMap((ri) => r.map((rj) => ri * rj)),
      1e-12,
    );
  });

  it('float32 and shape errors', () => {
    expectClose(
      evaluate((p) => avgPool(p, { ksize: 2, strides: 1 }), [tensor([1, 2, 3, 4, 5, 6], [1, 2, 3, 1], 'float32')]),
      [3, 4],
    );
    const g = new Graph();
    const x = g.placeholder('x', [-1, 6, 6, 2]);
    expect(avgPool(x, { ksize: 2 }).shape).toEqual([-1, 3, 3, 2]);
    expect(() => avgPool(g.placeholder('tiny', [1, 1, 1, 1]), { ksize: 2 })).toThrow(/input height 1 is smaller than the window height 2/);
    expect(() => avgPoolGrad(g.placeholder('dy', [-1, 2, 3, 2]), x, { ksize: 2 })).toThrow(
      /dy must have the avgPool output shape \[\?,3,3,2\], found \[\?,2,3,2\]/,
    );
  });

  const gradConfigs: [number[], { ksize: number | [number, number]; strides?: number | [number, number]; padding?: 'same' | 'valid' }][] = [
    [[2, 5, 5, 3], { ksize: 3, strides: 2 }],
    [[1, 6, 7, 2], { ksize: 2, padding: 'same' }],
    [[2, 5, 5, 2], { ksize: 3, strides: 2, padding: 'same' }],
    [[1, 7, 6, 1], { ksize: [3, 2], strides: [1, 2], padding: 'same' }],
  ];
  for (const [shape, opts] of gradConfigs) {
    it(`gradcheck avgPool and avgPoolGrad (w.r.t. dy) x [${shape}] ${JSON.stringify(opts)}`, () => {
      const x = randomTensor(shape, 5);
      expectGradcheck(`avgPool ${JSON.stringify(opts)}`, (p) => avgPool(p, opts), [x]);
      const outShape = evaluate((p) => avgPool(p, opts), [x]).shape;
      expectGradcheck(`avgPoolGrad ${JSON.stringify(opts)}`, (d, p) => avgPoolGrad(d, p, opts), [randomTensor(outShape, 6), x], { wrt: [0] });
    });
  }

  it('its gradient is avgPoolGrad, whose gradient is avgPool again', () => {
    const g = new Graph();
    const x = g.placeholder('x', [1, 4, 4, 1], 'float64');
    const y = avgPool(x, { ksize: 2 });
    const [dx] = gradients(y, [x], { dy: onesLike([y]) });
    expect(dx.op).toBe(avgPoolGradOp.def);
    const dy = g.placeholder('dy', [1, 2, 2, 1], 'float64');
    const back = avgPoolGrad(dy, x, { ksize: 2 });
    const [ddy] = gradients(back, [dy], { dy: onesLike([back]) });
    expect(ddy.op.name).toBe('avgPool');
  });
});
