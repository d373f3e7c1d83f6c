import { describe, it, expect } from 'vitest';
import { matmul } from '@ndgraph/ops';
import { matmulOp } from '@ndgraph/ops/kernels';
import { DTypeError, Graph, ShapeError, Session, gradients, onesLike, type Node, type Tensor } from '@ndgraph/graph';
import { evaluate, expectClose, expectGradcheck, randomTensor, tensor, toArray } from '../helpers.ts';

/** Row-major transpose of a 2-D tensor, for feeding transposed storage. */
function transposed(t: Tensor): Tensor {
  const [r, c] = t.shape;
  const v = toArray(t);
  const out: number[] = [];
  for (let j = 0; j < c; j++) for (let i = 0; i < r; i++) out.push(v[i * c + j]);
  return tensor(out, [c, r], t.data instanceof Float64Array ? 'float64' : 'float32');
}

/** Plain matrix product of row-major arrays. */
function product(a: number[], b: number[], m: number, k: number, n: number): number[] {
  const out = new Array<number>(m * n).fill(0);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) out[i * n + j] += a[i * k + p] * b[p * n + j];
  return out;
}

const combos = [
  { transposeA: false, transposeB: false },
  { transposeA: true, transposeB: false },
  { transposeA: false, transposeB: true },
  { transposeA: true, transposeB: true },
];

describe('matmul', () => {
  const a = tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const b = tensor([
    [7, 8],
    [9, 10],
    [11, 12],
  ]);

  it('golden values in every transpose combination', () => {
    // [[1,2,3],[4,5,6]]·[[7,8],[9,10],[11,12]] = [[58,64],[139,154]], worked by hand.
    for (const options of combos) {
      const left = options.transposeA ? transposed(a) : a;
      const right = options.transposeB ? transposed(b) : b;
      const y = evaluate((p, q) => matmul(p, q, options), [left, right]);
      expect(y.shape).toEqual([2, 2]);
      expectClose(y, [58, 64, 139, 154]);
    }
    // [[1,2],[3,4]]ᵀ·[[1,2],[3,4]] = [[10,14],[14,20]]
    const s = tensor([
      [1, 2],
      [3, 4],
    ]);
    expectClose(
      evaluate((p) => matmul(p, p, { transposeA: true }), [s]),
      [10, 14, 14, 20],
    );
    expectClose(
      evaluate((p) => matmul(p, p, { transposeB: true }), [s]),
      [5, 11, 11, 25],
    );
  });

  it('matches a plain triple loop on larger odd shapes, float32 and float64', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const x = randomTensor([17, 33], 3, -1, 1, dtype);
      const w = randomTensor([33, 7], 4, -1, 1, dtype);
      const expected = product(toArray(x), toArray(w), 17, 33, 7);
      expectClose(
        evaluate((p, q) => matmul(p, q), [x, w]),
        expected,
        dtype === 'float32' ? 1e-5 : 1e-12,
      );
      expectClose(
        evaluate((p, q) => matmul(p, q, { transposeA: true, transposeB: true }), [transposed(x), transposed(w)]),
        expected,
        dtype === 'float32' ? 1e-5 : 1e-12,
      );
    }
  });

  it('shape rule: unknown batch flows through, inner dims are checked', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 120]);
    const w = g.placeholder('w', [120, 84]);
    expect(matmul(x, w).shape).toEqual([-1, 84]);
    expect(matmul(w, x, { transposeA: true, transposeB: true }).shape).toEqual([84, -1]);
    const v = g.placeholder('v', [84, 10]);
    expect(() => matmul(x, v)).toThrow(ShapeError);
    expect(() => g.scope('fc3', () => matmul(x, v))).toThrow(
      /fc3\/matmul \(op matmul, inputs \[\?,120\] float32, \[84,10\] float32\): inner dimensions do not match: a \[\?,120\] · b \[84,10\]/,
    );
    expect(() => matmul(w, w)).toThrow(/inner dimensions do not match: a \[120,84\] · b \[120,84\] \(84 vs 120\)/);
    expect(() => matmul(w, v, { transposeA: true })).toThrow(/inner dimensions do not match: a \[120,84\]ᵀ · b \[84,10\]/);
    expect(matmul(x, x, { transposeB: true }).shape).toEqual([-1, -1]);
    expect(() => matmul(x, g.placeholder('r3', [120, 2, 2]))).toThrow(/b must have rank 2/);
  });

  it('dtype rule: both inputs the same float type', () => {
    const g = new Graph();
    const x = g.placeholder('x', [2, 3], 'float32');
    expect(() => matmul(x, g.placeholder('y', [3, 2], 'float64'))).toThrow(DTypeError);
    expect(() => matmul(x, g.placeholder('z', [3, 2], 'int32'))).toThrow(DTypeError);
  });

  it('the engine checks the run-time shape', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 3]);
    const w = g.placeholder('w', [-1, 2]);
    const y = matmul(x, w);
    expect(() =>
      new Session(g).run(y, [
        [x, tensor([[1, 2, 3]])],
        [
          w,
          tensor([
            [1, 2],
            [3, 4],
          ]),
        ],
      ]),
    ).toThrow(/inner dimensions do not match: a \[1,3\] · b \[2,2\]/);
  });

  for (const options of combos) {
    it(`gradcheck transposeA=${options.transposeA} transposeB=${options.transposeB}`, () => {
      // op(a) [3,4] · op(b) [4,2]
      const left = randomTensor(options.transposeA ? [4, 3] : [3, 4], 5);
      const right = randomTensor(options.transposeB ? [2, 4] : [4, 2], 6);
      expectGradcheck(`matmul ${JSON.stringify(options)}`, (p, q) => matmul(p, q, options), [left, right]);
    });
  }

  it('gradient nodes are matmuls (so they differentiate again)', () => {
    const g = new Graph();
    const x = g.placeholder('x', [3, 4], 'float64');
    const w = g.placeholder('w', [4, 2], 'float64');
    const y = matmul(x, w);
    const [gx, gw] = gradients(y, [x, w], { dy: onesLike([y]) });
    expect(gx.op).toBe(matmulOp.def);
    expect(gw.op).toBe(matmulOp.def);
  });

  it('the op builder without attributes multiplies without transposes', () => {
    expectClose(
      evaluate((p, q) => matmulOp([p, q]), [a, b]),
      [58, 64, 139, 154],
    );
  });

  describe('second order: y = sum(x·x·x) for a 3×3 x', () => {
    const x0 = randomTensor([3, 3], 21);
    const cube = (x: Node) => matmul(matmul(x, x), x);
    /** dy/dx of sum(x³), built as a gradient node (dy = ones is the gradient of sum). */
    const firstGradient = (x: Node) => {
      const y = cube(x);
      return gradients(y, [x], { dy: onesLike([y]) })[0];
    };

    it('gradcheck of x·x·x', () => {
      expectGradcheck('matmul x·x·x', cube, [x0]);
    });

    it('the first gradient matches the closed form J(X²)ᵀ + XᵀJXᵀ + (X²)ᵀJ, J = ones', () => {
      const X = toArray(x0);
      const t = (m: number[]) => [0, 1, 2].flatMap((i) => [0, 1, 2].map((j) => m[j * 3 + i]));
      const J = new Array(9).fill(1);
      const X2 = product(X, X, 3, 3, 3);
      const terms = [product(J, t(X2), 3, 3, 3), product(product(t(X), J, 3, 3, 3), t(X), 3, 3, 3), product(t(X2), J, 3, 3, 3)];
      const expected = terms[0].map((v, i) => v + terms[1][i] + terms[2][i]);
      expectClose(evaluate(firstGradient, [x0]), expected, 1e-12);
    });

    it('gradients(sum(dy/dx ⊙ v)) matches finite differences of the first gradient', () => {
      // gradcheck projects the first-gradient node onto a fixed random v and
      // compares its symbolic gradient with central differences of it.
      expectGradcheck('matmul second order', firstGradient, [x0]);
    });
  });
});
