import { describe, it, expect } from 'vitest';
import { reshape, reshapeLike, flatten, expandDims, square, scale, sum } from '@ndgraph/ops';
import { Graph, Session, ShapeError, gradients, tensor as makeTensor, type DType, type Tensor } from '@ndgraph/graph';
import { evaluate, expectClose, expectGradcheck, randomTensor, tensor, toArray } from '../helpers.ts';

const range = (n: number, dtype: DType = 'float32') =>
  makeTensor(
    Array.from({ length: n }, (_, i) => i),
    [n],
    dtype,
  );

describe('reshape, flatten and friends', () => {
  for (const dtype of ['float32', 'float64'] as DType[]) {
    it(`golden values in ${dtype}: the row-major order is kept`, () => {
      const x = tensor(
        [
          [0, 1, 2],
          [3, 4, 5],
        ],
        undefined,
        dtype,
      );
      const r = evaluate((p) => reshape(p, [3, 2]), [x]);
      expect(r.shape).toEqual([3, 2]);
      expect(r.dtype).toBe(dtype);
      expect([r.get(0, 0), r.get(0, 1), r.get(1, 0), r.get(1, 1), r.get(2, 0), r.get(2, 1)]).toEqual([0, 1, 2, 3, 4, 5]);
      expect(evaluate((p) => reshape(p, [-1]), [x]).shape).toEqual([6]);
      expect(evaluate((p) => reshape(p, [1, -1, 3]), [x]).shape).toEqual([1, 2, 3]);
      const f = evaluate(
        (p) => flatten(p),
        [
          tensor(
            [
              [
                [1, 2],
                [3, 4],
              ],
              [
                [5, 6],
                [7, 8],
              ],
            ],
            undefined,
            dtype,
          ),
        ],
      );
      expect(f.shape).toEqual([2, 4]);
      expect(toArray(f)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      const e = evaluate((p) => expandDims(p, [0, 2]), [x]);
      expect(e.shape).toEqual([1, 2, 1, 3]);
      expect(toArray(e)).toEqual([0, 1, 2, 3, 4, 5]);
    });
  }

  it('reshape infers the -1 dim at run time: [-1,4,4,16] → [-1,256] for any batch', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 4, 4, 16]);
    const y = reshape(x, [-1, 256]);
    const f = flatten(x);
    expect(y.shape).toEqual([-1, 256]);
    expect(f.shape).toEqual([-1, 256]);
    const session = new Session(g);
    for (const batch of [1, 3]) {
      const value = range(batch * 256);
      const [yv, fv] = session.run([y, f], new Map([[x, makeTensor(toArray(value), [batch, 4, 4, 16])]]));
      expect(yv.shape).toEqual([batch, 256]);
      expect(fv.shape).toEqual([batch, 256]);
      expect(yv.get(batch - 1, 255)).toBe(batch * 256 - 1);
      expect(yv.get(0, 17)).toBe(17);
    }
  });

  it('flatten handles unknown inner dims and rank 1, and rejects a scalar', () => {
    const g = new Graph();
    expect(flatten(g.placeholder('a', [-1, -1, 3])).shape).toEqual([-1, -1]);
    expect(flatten(g.placeholder('b', [5, -1, 3])).shape).toEqual([5, -1]);
    expect(flatten(g.placeholder('c', [7])).shape).toEqual([7, 1]);
    expect(() => flatten(g.placeholder('d', []))).toThrow(/flatten needs rank ≥ 1 \(a leading batch dim\), found the scalar shape \[\]/);
    const x = g.placeholder('x', [-1, -1, 3]);
    const out = new Session(g).run(flatten(x), new Map([[x, makeTensor(toArray(range(24)), [2, 4, 3])]]));
    expect(out.shape).toEqual([2, 12]);
  });

  it('returns a view of its input buffer, not a copy', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 2, 3]);
    const value = makeTensor(toArray(range(12)), [2, 2, 3]);
    const session = new Session(g);
    const feed = new Map([[x, value]]);
    for (const y of [reshape(x, [-1, 6]), flatten(x), reshapeLike(x, g.constant(makeTensor(new Array(12).fill(0), [3, 4]))), expandDims(x, [1])]) {
      // Watch the value inside the run: the view shares the fed buffer.
      // (A fetched value that is not the run's own buffer is copied out, so we look with onValue.)
      let seen: Tensor | undefined;
      const out = session.run(y, feed, {
        onValue: (node, v) => {
          if (node === y) seen = v;
        },
      });
      expect(seen!.data).toBe(value.data);
      expect(seen!.offset).toBe(value.offset);
      expect(toArray(out)).toEqual(toArray(value));
      expect(out.data).not.toBe(value.data);
    }
  });

  it('a view shares a pooled buffer without it being reused too early', () => {
    // s is an intermediate; r views it; both r and a later op on s are fetched.
    const g = new Graph();
    const x = g.placeholder('x', [2, 3], 'float64');
    const s = square(x);
    const r = reshape(s, [3, 2]);
    const t = scale(s, 10); // computed after r, reading s
    const u = scale(r, -1); // reads the view after t took a new buffer
    const session = new Session(g);
    for (let step = 0; step < 3; step++) {
      const xv = makeTensor(
        [1, 2, 3, 4, 5, 6].map((v) => v + step),
        [2, 3],
        'float64',
      );
      const [rv, tv, uv] = session.run([r, t, u], new Map([[x, xv]]));
      const squares = toArray(xv).map((v) => v * v);
      expect(toArray(rv)).toEqual(squares);
      expect(toArray(tv)).toEqual(squares.map((v) => 10 * v));
      expect(toArray(uv)).toEqual(squares.map((v) => -v));
    }
  });

  it('rejects sizes that do not fit, with messages that say what was expected and found', () => {
    const g = new Graph();
    const x = g.placeholder('x', [2, 3]);
    expect(() => reshape(x, [4])).toThrow(ShapeError);
    expect(() => reshape(x, [4])).toThrow(/\(op reshape, inputs \[2,3\] float32\): cannot reshape \[2,3\] \(6 elements\) to \[4\] \(4 elements\)/);
    expect(() => reshape(x, [-1, 4])).toThrow(/cannot reshape \[2,3\] \(6 elements\) to \[\?,4\]: 6 is not divisible by the other dims' product 4/);
    expect(() => reshape(x, [-1, -1])).toThrow(/at most one dim may be -1 \(inferred\), found \[\?,\?\]/);
    expect(() => reshape(x, [2, -3])).toThrow(/dims must be integers ≥ 0, or -1 for one inferred dim/);
    expect(() => reshapeLike(x, g.placeholder('like', [5]))).toThrow(/cannot view \[2,3\] \(6 elements\) as \[5\] \(5 elements\)/);
    expect(() => expandDims(x, [3])).toThrow(/expandDims: axes must be increasing integers in \[0, 3\) for input \[2,3\], found \[3\]/);
    // With an unknown batch the known dims are checked now...
    const b = g.placeholder('b', [-1, 3]);
    expect(() => reshape(b, [4, 2])).toThrow(/cannot reshape \[\?,3\] to \[4,2\]: 8 elements is not a multiple of the known dims' 3/);
    // ...and the rest at run time.
    const y = reshape(b, [-1, 4]);
    expect(y.shape).toEqual([-1, 4]);
    const session = new Session(g);
    expect(() => session.run(y, new Map([[b, makeTensor(toArray(range(6)), [2, 3])]]))).toThrow(
      /cannot reshape \[2,3\] \(6 elements\) to \[\?,4\]: 6 is not divisible/,
    );
    expect(toArray(session.run(y, new Map([[b, makeTensor(toArray(range(12)), [4, 3])]])))).toEqual(toArray(range(12)));
  });

  it('gradients reshape dy back, also through an unknown batch (reshapeLike)', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 2, 3], 'float64');
    const y = sum(square(reshape(x, [-1, 6])));
    const [dx] = gradients(y, [x]);
    expect(dx.shape).toEqual([-1, 2, 3]);
    const value = makeTensor(
      Array.from({ length: 18 }, (_, i) => i - 9),
      [3, 2, 3],
      'float64',
    );
    const out = new Session(g).run(dx, new Map([[x, value]]));
    expect(out.shape).toEqual([3, 2, 3]);
    expect(toArray(out)).toEqual(toArray(value).map((v) => 2 * v));
  });

  const shapes: [number[], number[]][] = [
    [[6], [2, 3]],
    [[3, 4], [-1]],
    [
      [2, 3, 3, 4],
      [2, -1],
    ],
    [
      [2, 3, 3, 4],
      [6, 3, 4],
    ],
  ];
  for (const [from, to] of shapes) {
    it(`gradcheck reshape ${JSON.stringify(from)} → ${JSON.stringify(to)}`, () => {
      expectGradcheck(`reshape ${JSON.stringify(from)}`, (p) => reshape(p, to), [randomTensor(from, 41)]);
    });
  }

  it('gradcheck flatten, reshapeLike and expandDims on a 4-D NHWC input', () => {
    const x = randomTensor([2, 3, 3, 4], 43);
    expectGradcheck('flatten', (p) => flatten(p), [x]);
    expectGradcheck('reshapeLike', (p, q) => reshapeLike(p, q), [x, randomTensor([6, 12], 3)], { wrt: [0] });
    expectGradcheck('expandDims', (p) => expandDims(p, [0, 3, 5]), [x]);
  });

  it('float32 and float64 both keep their dtype through every view op', () => {
    for (const dtype of ['float32', 'float64'] as DType[]) {
      const x = makeTensor([1, 2, 3, 4], [2, 2], dtype);
      expectClose(
        evaluate((p) => flatten(reshape(p, [4, 1])), [x]),
        [1, 2, 3, 4],
        0,
      );
      expect(evaluate((p) => flatten(p), [x]).dtype).toBe(dtype);
    }
  });
});
