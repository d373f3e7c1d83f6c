import { describe, it, expect } from 'vitest';
import { mul, softmaxCrossEntropy, softmaxCrossEntropyGrad, softmaxCrossEntropyGradLabels, square, sum } from '@ndgraph/ops';
import { DataError, DTypeError, Graph, Session, ShapeError, gradients, toArray, zeros, type DType, type Node, type Tensor } from '@ndgraph/graph';
import { evaluate, expectClose, expectGradcheck, randomTensor, tensor } from '../helpers.ts';

/** Runs the loss and its gradients (w.r.t. logits, and w.r.t. float labels) on a fresh graph. */
function lossAndGrads(logits: Tensor, labels: Tensor, dtype: DType): { loss: number; dLogits: number[]; dLabels?: number[] } {
  const g = new Graph();
  const x = g.placeholder('logits', logits.shape, dtype);
  const floatLabels = labels.dtype !== 'int32';
  const l = g.placeholder('labels', labels.shape, floatLabels ? dtype : 'int32');
  const loss = softmaxCrossEntropy(x, l);
  const grads = gradients(loss, floatLabels ? [x, l] : [x]);
  const [value, ...gradValues] = new Session(g).run(
    [loss, ...grads],
    [
      [x, logits],
      [l, labels],
    ],
  );
  return { loss: value.data[0], dLogits: toArray(gradValues[0]), dLabels: floatLabels ? toArray(gradValues[1]) : undefined };
}

describe('softmaxCrossEntropy', () => {
  // Row 0: logits [0, ln 2, ln 5] → softmax [1/8, 2/8, 5/8]; class 2 → −log(5/8) = ln 1.6.
  // Row 1: logits [1, 1, 1] → softmax [1/3, 1/3, 1/3]; class 0 → ln 3.
  const logitValues = [
    [0, Math.log(2), Math.log(5)],
    [1, 1, 1],
  ];
  const expectedLoss = (Math.log(1.6) + Math.log(3)) / 2;
  // (softmax − onehot) / N with N = 2.
  const expectedDLogits = [1 / 16, 1 / 8, -3 / 16, -1 / 3, 1 / 6, 1 / 6];

  for (const dtype of ['float32', 'float64'] as DType[]) {
    const tol = dtype === 'float32' ? 1e-6 : 1e-12;
    it(`2×3 golden loss and gradient with int labels (${dtype})`, () => {
      const r = lossAndGrads(tensor(logitValues, undefined, dtype), tensor([2, 0], undefined, 'int32'), dtype);
      expectClose([r.loss], [expectedLoss], tol);
      expectClose(r.dLogits, expectedDLogits, tol);
    });

    it(`the same example with one-hot labels gives the same loss and gradient (${dtype})`, () => {
      const r = lossAndGrads(
        tensor(logitValues, undefined, dtype),
        tensor(
          [
            [0, 0, 1],
            [1, 0, 0],
          ],
          undefined,
          dtype,
        ),
        dtype,
      );
      expectClose([r.loss], [expectedLoss], tol);
      expectClose(r.dLogits, expectedDLogits, tol);
      // d loss / d labels = −log softmax / N.
      expectClose(r.dLabels!, [Math.log(8) / 2, Math.log(4) / 2, Math.log(1.6) / 2, Math.log(3) / 2, Math.log(3) / 2, Math.log(3) / 2], tol);
    });
  }

  it('probability labels: loss = mean of −Σ labels · log softmax', () => {
    // Row 0: 0.5·ln 8 + 0.5·ln 4 = 2.5 ln 2. Row 1: 1·(−log 1/3) = ln 3.
    const r = lossAndGrads(
      tensor(logitValues, undefined, 'float64'),
      tensor(
        [
          [0.5, 0.5, 0],
          [0, 0, 1],
        ],
        undefined,
        'float64',
      ),
      'float64',
    );
    expectClose([r.loss], [(2.5 * Math.log(2) + Math.log(3)) / 2], 1e-12);
    // (softmax − labels)/2: row 0 [1/8 − 1/2, 2/8 − 1/2, 5/8]/2, row 1 [1/3, 1/3, −2/3]/2.
    expectClose(r.dLogits, [-3 / 16, -1 / 8, 5 / 16, 1 / 6, 1 / 6, -1 / 3], 1e-12);
  });

  it('logits of ±1e4 give a finite loss and finite gradients (float32 and float64)', () => {
    // Row 0: logsumexp ≈ 1e4, class 1 has logit −1e4: loss 2e4, softmax [1, 0, 0].
    // Row 1: logsumexp = 1e4 + ln 2, class 0 has logit −1e4: loss 2e4 + ln 2, softmax [0, 1/2, 1/2].
    const values = [
      [1e4, -1e4, 0],
      [-1e4, 1e4, 1e4],
    ];
    for (const dtype of ['float32', 'float64'] as DType[]) {
      const r = lossAndGrads(tensor(values, undefined, dtype), tensor([1, 0], undefined, 'int32'), dtype);
      expect(Number.isFinite(r.loss)).toBe(true);
      expectClose([r.loss], [2e4 + Math.log(2) / 2], 1e-6);
      expectClose(r.dLogits, [0.5, -0.5, 0, -0.5, 0.25, 0.25], 1e-6);
      const h = lossAndGrads(
        tensor(values, undefined, dtype),
        tensor(
          [
            [0, 1, 0],
            [1, 0, 0],
          ],
          undefined,
          dtype,
        ),
        dtype,
      );
      expectClose([h.loss], [2e4 + Math.log(2) / 2], 1e-6);
      expectClose(h.dLogits, [0.5, -0.5, 0, -0.5, 0.25, 0.25], 1e-6);
      // −log softmax / 2: row 0 [0, 2e4, 1e4]/2, row 1 [2e4 + ln 2, ln 2, ln 2]/2.
      expectClose(h.dLabels!, [0, 1e4, 5e3, 1e4 + Math.log(2) / 2, Math.log(2) / 2, Math.log(2) / 2], 1e-6);
      for (const v of [...r.dLogits, ...h.dLogits, ...h.dLabels!]) expect(Number.isFinite(v)).toBe(true);
    }
  });

  it('an empty batch has loss 0', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 3], 'float64');
    const l = g.placeholder('l', [-1], 'int32');
    const out = new Session(g).run(softmaxCrossEntropy(x, l), [
      [x, zeros([0, 3], 'float64')],
      [l, zeros([0], 'int32')],
    ]);
    expect(toArray(out)).toEqual([0]);
  });

  describe('gradcheck (float64)', () => {
    const logits = randomTensor([4, 5], 21, -3, 3);
    it('w.r.t. logits with int labels', () => {
      expectGradcheck('softmaxCrossEntropy int labels', (x, l) => softmaxCrossEntropy(x, l), [logits, tensor([0, 4, 2, 2], undefined, 'int32')]);
    });
    it('w.r.t. logits with one-hot labels, and w.r.t. the labels', () => {
      const oneHot = tensor(
        [
          [0, 1, 0, 0, 0],
          [0, 0, 0, 0, 1],
          [1, 0, 0, 0, 0],
          [0, 0, 1, 0, 0],
        ],
        undefined,
        'float64',
      );
      expectGradcheck('softmaxCrossEntropy one-hot labels', (x, l) => softmaxCrossEntropy(x, l), [logits, oneHot]);
    });
    it('w.r.t. logits and labels with probability labels and with unnormalized labels', () => {
      const raw = randomTensor([4, 5], 22, 0.1, 1);
      const probabilities = tensor(
        Array.from({ length: 4 }, (_, n) => {
          const row = toArray(raw).slice(n * 5, n * 5 + 5);
          const total = row.reduce((a, b) => a + b, 0);
          return row.map((v) => v / total);
        }),
        undefined,
        'float64',
      );
      expectGradcheck('softmaxCrossEntropy probability labels', (x, l) => softmaxCrossEntropy(x, l), [logits, probabilities]);
      // Rows not summing to 1: the gradient w.r.t. logits is softmax·Σlabels − labels.
      expectGradcheck('softmaxCrossEntropy unnormalized labels', (x, l) => softmaxCrossEntropy(x, l), [logits, raw]);
    });
    it('with large logits', () => {
      expectGradcheck('softmaxCrossEntropy large logits', (x, l) => softmaxCrossEntropy(x, l), [
        randomTensor([3, 4], 23, -40, 40),
        tensor([3, 0, 1], undefined, 'int32'),
      ]);
    });
  });

  it('int labels get no gradient; the gradient is the op softmaxCrossEntropyGrad', () => {
    const g = new Graph();
    const x = g.placeholder('x', [2, 3], 'float64');
    const l = g.placeholder('l', [2], 'int32');
    const loss = softmaxCrossEntropy(x, l);
    expect(loss.op.grad!({ graph: g, needsGrad: () => true }, g.constant(1, { dtype: 'float64' }), loss)[1]).toBeNull();
    const dx = gradients(loss, [x])[0];
    expect(dx.op.name).toBe('softmaxCrossEntropyGrad');
  });

  it('differentiates twice: float64 gradient checks of its gradients (Hessian-vector products of the loss)', () => {
    const logits = randomTensor([4, 5], 41, -3, 3);
    const intLabels = tensor([0, 3, 4, 1], undefined, 'int32');
    // Label rows that do not sum to 1, so the row-sum terms are exercised too.
    const floatLabels = randomTensor([4, 5], 43, 0, 1);
    const gradWrt = (which: 0 | 1) => (x: Node, l: Node) => gradients(softmaxCrossEntropy(x, l), [which === 0 ? x : l])[0];
    expectGradcheck('grad of softmaxCrossEntropy (int labels)', (x, l) => gradients(softmaxCrossEntropy(x, l), [x])[0], [logits, intLabels]);
    expectGradcheck('grad of softmaxCrossEntropy wrt logits (float labels)', gradWrt(0), [logits, floatLabels]);
    expectGradcheck('grad of softmaxCrossEntropy wrt labels', gradWrt(1), [logits, floatLabels]);
    // An upstream gradient that depends on the logits: the dy input of the gradient ops.
    expectGradcheck('grad of softmaxCrossEntropy² (dy path, int labels)', (x, l) => gradients(square(softmaxCrossEntropy(x, l)), [x])[0], [logits, intLabels]);
    expectGradcheck('grad of softmaxCrossEntropy² wrt labels (dy path)', (x, l) => gradients(square(softmaxCrossEntropy(x, l)), [l])[0], [logits, floatLabels]);
    // An unknown batch gives the same Hessian-vector product: the 1/N is read at run time.
    const hessianTimesV = (batch: number) => {
      const g = new Graph();
      const x = g.placeholder('x', [batch, 5], 'float64');
      const l = g.placeholder('l', [batch], 'int32');
      const [dx] = gradients(softmaxCrossEntropy(x, l), [x]);
      const [hv] = gradients(sum(mul(dx, g.constant(randomTensor([4, 5], 47)))), [x]);
      return new Session(g).run(
        hv,
        new Map([
          [x, logits],
          [l, intLabels],
        ]),
      );
    };
    expect(toArray(hessianTimesV(-1))).toEqual(toArray(hessianTimesV(4)));
  });

  describe('errors', () => {
    function runWithLabels(labels: number[], fetchGradientOnly = false): void {
      const g = new Graph();
      const x = g.placeholder('x', [-1, 3], 'float64');
      const l = g.placeholder('labels', [-1], 'int32');
      const loss = g.scope('loss', () => softmaxCrossEntropy(x, l));
      // With an explicit dy the gradient does not depend on the loss node, so the loss kernel does not run.
      const fetch = fetchGradientOnly ? gradients(loss, [x], { dy: g.constant(1, { dtype: 'float64' }) })[0] : loss;
      new Session(g).run(fetch, [
        [x, zeros([labels.length, 3], 'float64')],
        [l, tensor(labels, undefined, 'int32')],
      ]);
    }

    it('an out-of-range class index names its row and value', () => {
      expect(() => runWithLabels([0, 2, 3])).toThrow(DataError);
      expect(() => runWithLabels([0, 2, 3])).toThrow(
        /^loss\/softmaxCrossEntropy \(op softmaxCrossEntropy, inputs \[3,3\] float64, \[3\] int32\): label 3 in row 2 is not a class index in \[0, 3\)$/,
      );
      expect(() => runWithLabels([1, -1])).toThrow(/label -1 in row 1 is not a class index in \[0, 3\)/);
      // The gradient op checks too (it can run without the loss).
      expect(() => runWithLabels([7, 0], true)).toThrow(/\(op softmaxCrossEntropyGrad, .*\): label 7 in row 0 is not a class index in \[0, 3\)/);
    });

    it('labels whose batch differs from the logits name both shapes', () => {
      const g = new Graph();
      const x = g.placeholder('x', [2, 3]);
      expect(() => softmaxCrossEntropy(x, g.placeholder('l', [3], 'int32'))).toThrow(ShapeError);
      expect(() => softmaxCrossEntropy(x, g.placeholder('l2', [3], 'int32'))).toThrow(
        /int32 labels must be class indices \[N\] matching logits \[N, C\]: found labels \[3\] for logits \[2,3\]/,
      );
      expect(() => softmaxCrossEntropy(x, g.placeholder('l3', [2, 4]))).toThrow(
        /float labels must be \[N, C\] like the logits: found labels \[2,4\] for logits \[2,3\]/,
      );
      expect(() => softmaxCrossEntropy(g.placeholder('v', [6]), g.placeholder('l4', [6], 'int32'))).toThrow(/logits must be \[N, C\] \(rank 2\), found \[6\]/);
    });

    it('a batch mismatch hidden by an unknown dimension is caught at run time', () => {
      const g = new Graph();
      const x = g.placeholder('x', [-1, 3]);
      const l = g.placeholder('l', [-1], 'int32');
      const loss = softmaxCrossEntropy(x, l);
      expect(() =>
        new Session(g).run(loss, [
          [x, zeros([2, 3])],
          [l, zeros([5], 'int32')],
        ]),
      ).toThrow(/found labels \[5\] for logits \[2,3\]/);
    });

    it('float labels of another dtype are refused', () => {
      const g = new Graph();
      expect(() => softmaxCrossEntropy(g.placeholder('x', [2, 3], 'float64'), g.placeholder('l', [2, 3], 'float32'))).toThrow(DTypeError);
      expect(() => softmaxCrossEntropy(g.placeholder('x2', [2, 3], 'float64'), g.placeholder('l2', [2, 3], 'float32'))).toThrow(
        /labels must be int32 class indices or float64 probabilities like the logits, found float32/,
      );
    });

    it('the gradient ops want a scalar dy', () => {
      const g = new Graph();
      const x = g.placeholder('x', [2, 3]);
      expect(() => softmaxCrossEntropyGrad(g.placeholder('d', [2]), x, g.placeholder('l', [2], 'int32'))).toThrow(
        /dy must be the scalar \[\] gradient of the loss, found \[2\]/,
      );
      expect(() => softmaxCrossEntropyGradLabels(g.placeholder('d2', [1]), x)).toThrow(/dy must be the scalar \[\] gradient of the loss, found \[1\]/);
    });
  });

  it('scales the gradient by the incoming dy', () => {
    // dy = 3: three times the golden gradient.
    const dx = evaluate(
      (x, l, d) => softmaxCrossEntropyGrad(d, x, l),
      [tensor(logitValues, undefined, 'float64'), tensor([2, 0], undefined, 'int32'), tensor(3, [], 'float64')],
    );
    expectClose(
      dx,
      expectedDLogits.map((v) => 3 * v),
      1e-12,
    );
  });
});
