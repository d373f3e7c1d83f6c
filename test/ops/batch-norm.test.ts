import { describe, it, expect } from 'vitest';
import { batchNorm, batchNormGradGamma, batchNormGradInput, batchNormGradSums, batchNormStatistics } from '@ndgraph/ops';
import { Graph, GraphError, GradientError, Session, ShapeError, gradients, toArray, type DType, type Node, type Tensor } from '@ndgraph/graph';
import { mul, sum } from '@ndgraph/ops';
import { expectClose, expectGradcheck, randomTensor, tensor } from '../helpers.ts';

const EPS = 1e-5;

/** A graph with x fed and gamma, beta and the running statistics as variables. */
function setup(x: Tensor, gamma: number[], beta: number[], runningMean: number[], runningVar: number[], dtype: DType, momentum?: number) {
  const g = new Graph();
  const xs = g.placeholder('x', x.shape, dtype);
  const vars = {
    gamma: g.variable('gamma', tensor(gamma, undefined, dtype)),
    beta: g.variable('beta', tensor(beta, undefined, dtype)),
    runningMean: g.variable('runningMean', tensor(runningMean, undefined, dtype), { trainable: false }),
    runningVar: g.variable('runningVar', tensor(runningVar, undefined, dtype), { trainable: false }),
  };
  const y = batchNorm(xs, vars.gamma, vars.beta, vars.runningMean, vars.runningVar, momentum === undefined ? {} : { momentum });
  const session = new Session(g);
  const run = (training: boolean) => toArray(session.run(y, [[xs, x]], { training }));
  const running = () => ({ mean: toArray(g.valueOf(vars.runningMean)), variance: toArray(g.valueOf(vars.runningVar)) });
  return { g, y, run, running };
}

describe('batchNorm forward, by hand', () => {
  for (const dtype of ['float32', 'float64'] as DType[]) {
    const tol = dtype === 'float32' ? 1e-6 : 1e-12;

    it(`[2,2] training: batch statistics, running averages after one and two runs (${dtype})`, () => {
      // x = [[1, 2], [3, 6]]. Channel 0: {1, 3}, mean 2, biased variance 1, unbiased 2.
      // Channel 1: {2, 6}, mean 4, biased variance 4, unbiased 8.
      const { run, running } = setup(
        tensor(
          [
            [1, 2],
            [3, 6],
          ],
          undefined,
          dtype,
        ),
        [1, 2],
        [0, 1],
        [0, 0],
        [1, 1],
        dtype,
      );
      const a = Math.sqrt(1 + EPS),
        b = Math.sqrt(4 + EPS);
      // y = γ(x − μ)/√(σ² + ε) + β: channel 0 ±1/a, channel 1 1 ± 2·2/b.
      expectClose(run(true), [-1 / a, 1 - 4 / b, 1 / a, 1 + 4 / b], tol);
      // momentum 0.9: mean 0.9·0 + 0.1·[2, 4]; variance 0.9·1 + 0.1·[2, 8] (unbiased batch variance).
      let r = running();
      expectClose(r.mean, [0.2, 0.4], tol);
      expectClose(r.variance, [1.1, 1.7], tol);
      // A second training run with the same batch: the output is the same; the averages move again.
      expectClose(run(true), [-1 / a, 1 - 4 / b, 1 / a, 1 + 4 / b], tol);
      r = running();
      expectClose(r.mean, [0.9 * 0.2 + 0.2, 0.9 * 0.4 + 0.4], tol); // [0.38, 0.76]
      expectClose(r.variance, [0.9 * 1.1 + 0.2, 0.9 * 1.7 + 0.8], tol); // [1.19, 2.33]
    });

    it(`[2,2] eval: running statistics, nothing updated (${dtype})`, () => {
      // Running mean [1, 2], running variance [4, 16]: channel 0 (x − 1)/2, channel 1 2(x − 2)/4 + 1.
      const { run, running } = setup(
        tensor(
          [
            [1, 2],
            [3, 6],
          ],
          undefined,
          dtype,
        ),
        [1, 2],
        [0, 1],
        [1, 2],
        [4, 16],
        dtype,
      );
      const a = Math.sqrt(4 + EPS),
        b = Math.sqrt(16 + EPS);
      expectClose(run(false), [0, 1, 2 / a, 1 + 8 / b], tol);
      expectClose(running().mean, [1, 2], 0);
      expectClose(running().variance, [4, 16], 0);
    });

    it(`[2,1,2,2] NHWC: statistics over N, H and W (${dtype})`, () => {
      // Channel 0 holds {1, 3, 5, 7}: mean 4, biased variance 5, unbiased 20/3.
      // Channel 1 holds {10, 20, 30, 40}: mean 25, biased variance 125, unbiased 500/3.
      const x = tensor(
        [
          [
            [
              [1, 10],
              [3, 20],
            ],
          ],
          [
            [
              [5, 30],
              [7, 40],
            ],
          ],
        ],
        undefined,
        dtype,
      );
      const { run, running } = setup(x, [2, 0.5], [1, -1], [0, 0], [1, 1], dtype, 0.5);
      const s0 = Math.sqrt(5 + EPS),
        s1 = Math.sqrt(125 + EPS);
      const expected = [
        [1, 10],
        [3, 20],
        [5, 30],
        [7, 40],
      ].flatMap(([c0, c1]) => [(2 * (c0 - 4)) / s0 + 1, (0.5 * (c1 - 25)) / s1 - 1]);
      expectClose(run(true), expected, tol);
      // momentum 0.5: mean 0.5·0 + 0.5·[4, 25]; variance 0.5·1 + 0.5·[20/3, 500/3].
      const v1 = [0.5 + 10 / 3, 0.5 + 250 / 3];
      expectClose(running().mean, [2, 12.5], tol);
      expectClose(running().variance, v1, tol);
      run(true);
      expectClose(running().mean, [3, 18.75], tol);
      expectClose(running().variance, [0.5 * v1[0] + 10 / 3, 0.5 * v1[1] + 250 / 3], tol);
      // Eval after two training runs uses those averages and leaves them alone.
      const mean = [3, 18.75];
      const variance = [0.5 * v1[0] + 10 / 3, 0.5 * v1[1] + 250 / 3];
      const evalExpected = [
        [1, 10],
        [3, 20],
        [5, 30],
        [7, 40],
      ].flatMap(([c0, c1]) => [(2 * (c0 - mean[0])) / Math.sqrt(variance[0] + EPS) + 1, (0.5 * (c1 - mean[1])) / Math.sqrt(variance[1] + EPS) - 1]);
      expectClose(run(false), evalExpected, tol);
      expectClose(running().mean, mean, tol);
    });
  }

  it('the default momentum is 0.9 and epsilon 1e-5 (TensorFlow convention)', () => {
    // One channel {0, 2}: mean 1, biased variance 1, unbiased 2; y = ±1/√(1 + 1e-5).
    const { run, running } = setup(tensor([[0], [2]], undefined, 'float64'), [1], [0], [10], [10], 'float64');
    expectClose(run(true), [-1 / Math.sqrt(1 + 1e-5), 1 / Math.sqrt(1 + 1e-5)], 1e-12);
    expectClose(running().mean, [0.9 * 10 + 0.1 * 1], 1e-12);
    expectClose(running().variance, [0.9 * 10 + 0.1 * 2], 1e-12);
  });
});

describe('batchNorm gradients', () => {
  /** Training-mode build: the running statistics are variables (batchNorm updates them in place). */
  const trainingBuild = (channels: number) => (x: Node, gamma: Node, beta: Node) => {
    const g = x.graph;
    const runningMean = g.variable('runningMean', tensor(new Array(channels).fill(0), [channels], 'float64'), { trainable: false });
    const runningVar = g.variable('runningVar', tensor(new Array(channels).fill(1), [channels], 'float64'), { trainable: false });
    return batchNorm(x, gamma, beta, runningMean, runningVar);
  };

  for (const shape of [
    [4, 3],
    [2, 3, 3, 2],
  ]) {
    const channels = shape[shape.length - 1];
    const x = randomTensor(shape, 31, -2, 2);
    const gamma = randomTensor([channels], 32, 0.5, 1.5);
    const beta = randomTensor([channels], 33);
    it(`gradcheck training mode ${JSON.stringify(shape)} w.r.t. x, gamma, beta`, () => {
      expectGradcheck(`batchNorm training ${JSON.stringify(shape)}`, trainingBuild(channels), [x, gamma, beta], { training: true });
    });
    it(`gradcheck eval mode ${JSON.stringify(shape)} w.r.t. x, gamma, beta`, () => {
      const runningMean = randomTensor([channels], 34, -0.5, 0.5);
      const runningVar = randomTensor([channels], 35, 0.5, 2);
      expectGradcheck(`batchNorm eval ${JSON.stringify(shape)}`, (a, b, c, m, v) => batchNorm(a, b, c, m, v), [x, gamma, beta, runningMean, runningVar], {
        wrt: [0, 1, 2],
      });
    });
  }

  it('golden gradients: eval dx = dy·γ/√(var + ε); training dx sums to 0 per channel; dβ = Σ dy', () => {
    const g = new Graph();
    const x = g.placeholder('x', [2, 2], 'float64');
    const gamma = g.variable('gamma', tensor([1, 2], undefined, 'float64'));
    const beta = g.variable('beta', tensor([0, 1], undefined, 'float64'));
    const rm = g.variable('rm', tensor([1, 2], undefined, 'float64'), { trainable: false });
    const rv = g.variable('rv', tensor([4, 16], undefined, 'float64'), { trainable: false });
    const y = batchNorm(x, gamma, beta, rm, rv);
    const dy = g.constant(
      tensor(
        [
          [1, 2],
          [3, 4],
        ],
        undefined,
        'float64',
      ),
    );
    const [dx, dGamma, dBeta] = gradients(y, [x, gamma, beta], { dy });
    const session = new Session(g);
    const feeds: [Node, Tensor][] = [
      [
        x,
        tensor(
          [
            [1, 2],
            [3, 6],
          ],
          undefined,
          'float64',
        ),
      ],
    ];
    const a = Math.sqrt(4 + EPS),
      b = Math.sqrt(16 + EPS);
    const evalGrads = session.run([dx, dGamma, dBeta], feeds, { training: false });
    expectClose(evalGrads[0], [1 / a, (2 * 2) / b, 3 / a, (4 * 2) / b], 1e-12);
    // x̂ (eval) = [[0, 0], [2/a, 4/b]]: dγ = Σ dy·x̂ = [3·2/a, 4·4/b].
    expectClose(evalGrads[1], [6 / a, 16 / b], 1e-12);
    expectClose(evalGrads[2], [4, 6], 1e-12);
    const trainGrads = session.run([dx, dGamma, dBeta], feeds, { training: true });
    const dxTrain = toArray(trainGrads[0]);
    // With two values per channel x̂ = ∓1·(σ/√(σ²+ε)), and dx = (γ/σ)(dy − mean dy − x̂·mean(dy·x̂)).
    // Channel 0: σ² = 1, dy = {1, 3}: mean dy = 2, x̂ = ∓1/√(1+ε), mean(dy·x̂) = (3 − 1)/(2√(1+ε)) = 1/√(1+ε).
    const s0 = Math.sqrt(1 + EPS);
    expectClose([dxTrain[0], dxTrain[2]], [(1 / s0) * (1 - 2 + (1 / s0) * (1 / s0)), (1 / s0) * (3 - 2 - (1 / s0) * (1 / s0))], 1e-12);
    expect(Math.abs(dxTrain[0] + dxTrain[2])).toBeLessThan(1e-12);
    expect(Math.abs(dxTrain[1] + dxTrain[3])).toBeLessThan(1e-12);
    // dγ in training uses the batch x̂: channel 0 (3 − 1)/√(1+ε), channel 1 σ² = 4, dy = {2, 4}: (4 − 2)·2/√(4+ε).
    expectClose(trainGrads[1], [2 / s0, 4 / Math.sqrt(4 + EPS)], 1e-12);
    expectClose(trainGrads[2], [4, 6], 1e-12);
  });

  it('the running statistics get no gradient, and the gradient ops have none of their own', () => {
    const g = new Graph();
    const x = g.placeholder('x', [2, 3], 'float64');
    const p = (n: string) => g.placeholder(n, [3], 'float64');
    const y = batchNorm(x, p('gamma'), p('beta'), p('mean'), p('var'));
    const grads = y.op.grad!(
      { graph: g, needsGrad: () => true },
      g.constant(
        tensor(
          [
            [1, 1, 1],
            [1, 1, 1],
          ],
          undefined,
          'float64',
        ),
      ),
      y,
    );
    expect(grads.map((n) => n?.op.name ?? null)).toEqual(['batchNormGradInput', 'batchNormGradGamma', 'batchNormGradBeta', null, null, null]);
    // One statistics node and one sums node serve the forward op and both gradients.
    const statistics = y.inputs[5];
    expect(statistics.op.name).toBe('batchNormStatistics');
    expect(grads[0]!.inputs[3]).toBe(statistics);
    expect(grads[0]!.inputs[4]).toBe(grads[1]!.inputs[0]);
    expect(grads[1]!.inputs[0].op.name).toBe('batchNormGradSums');
    const dx = gradients(y, [x], {
      dy: g.constant(
        tensor(
          [
            [1, 1, 1],
            [1, 1, 1],
          ],
          undefined,
          'float64',
        ),
      ),
    })[0];
    expect(() =>
      gradients(dx, [x], {
        dy: g.constant(
          tensor(
            [
              [1, 1, 1],
              [1, 1, 1],
            ],
            undefined,
            'float64',
          ),
        ),
      }),
    ).toThrow(GradientError);
  });
});

describe('batchNorm in float32 against float64', () => {
  // float32 networks normalize in float32 lanes with per-channel coefficients made in float64 (rounded once);
  // the statistics and the gradient sums stay float64. Both are checked against the float64 op on the same values.
  /** y, dx, dgamma, dbeta of a weighted sum of y, in one dtype, training or eval mode. */
  function run(dtype: DType, x: Tensor, weights: Tensor, gamma: Tensor, beta: Tensor, training: boolean): number[][] {
    const g = new Graph();
    const channels = x.shape[x.shape.length - 1];
    const xs = g.placeholder('x', x.shape, dtype);
    const as = (t: Tensor) => tensor(toArray(t), t.shape, dtype);
    const gammaNode = g.variable('gamma', as(gamma));
    const betaNode = g.variable('beta', as(beta));
    const runningMean = g.variable('mean', tensor(new Array(channels).fill(0.5), [channels], dtype), { trainable: false });
    const runningVar = g.variable('var', tensor(new Array(channels).fill(2), [channels], dtype), { trainable: false });
    const y = batchNorm(xs, gammaNode, betaNode, runningMean, runningVar);
    const loss = sum(mul(y, g.constant(as(weights))));
    const grads = gradients(loss, [xs, gammaNode, betaNode]);
    return new Session(g).run([y, ...grads], [[xs, as(x)]], { training }).map(toArray);
  }
  const maxAbs = (v: number[]) => Math.max(...v.map(Math.abs));

  for (const [shape, offset] of [
    [[64, 7], 0],
    [[4, 5, 5, 6], 3],
    [[3, 4, 4, 16], -20],
  ] as const) {
    for (const training of [true, false]) {
      it(`${JSON.stringify(shape)}, values around ${offset}, ${training ? 'training' : 'eval'}: within 1e-6 of each output's largest value`, () => {
        const channels = shape[shape.length - 1];
        const x = randomTensor([...shape], 71, offset - 2, offset + 2);
        // Round the inputs to float32 first, so both runs see the same values.
        const f32 = (t: Tensor) => tensor(Array.from(new Float32Array(toArray(t))), t.shape, 'float64');
        const inputs = [f32(x), f32(randomTensor([...shape], 72)), f32(randomTensor([channels], 73, 0.5, 1.5)), f32(randomTensor([channels], 74))] as const;
        const single = run('float32', ...inputs, training);
        const double = run('float64', ...inputs, training);
        double.forEach((reference, k) => {
          const bound = 1e-6 * maxAbs(reference);
          const worst = Math.max(...reference.map((r, i) => Math.abs(single[k][i] - r)));
          expect(worst, `output ${k}: largest difference ${worst}, bound ${bound}`).toBeLessThanOrEqual(bound);
        });
      });
    }
  }
});

describe('batchNorm errors', () => {
  it('training mode needs the running statistics to be variables (they are updated in place)', () => {
    const g = new Graph();
    const x = g.placeholder('x', [2, 2]);
    const [gamma, beta, mean, variance] = ['gamma', 'beta', 'mean', 'var'].map((n) => g.placeholder(n, [2]));
    const y = g.scope('bn', () => batchNorm(x, gamma, beta, mean, variance));
    const feeds = Object.fromEntries(['gamma', 'beta', 'mean', 'var'].map((n) => [n, tensor([1, 1])]));
    const session = new Session(g);
    expect(() =>
      session.run(
        y,
        {
          ...feeds,
          x: tensor([
            [1, 2],
            [3, 4],
          ]),
        },
        { training: true },
      ),
    ).toThrow(GraphError);
    expect(() =>
      session.run(
        y,
        {
          ...feeds,
          x: tensor([
            [1, 2],
            [3, 4],
          ]),
        },
        { training: true },
      ),
    ).toThrow(
      /^bn\/batchNorm \(op batchNorm, .*\): in training mode input 3 \(runningMean\) must be a variable, because batch norm updates it in place; found mean \(op placeholder, \[2\] float32\)/,
    );
    // Eval mode reads them only, so any node will do.
    expect(
      toArray(
        session.run(
          y,
          {
            ...feeds,
            x: tensor([
              [1, 2],
              [3, 4],
            ]),
          },
          { training: false },
        ),
      ).length,
    ).toBe(4);
  });

  it('training mode needs at least two values per channel', () => {
    const { run } = setup(tensor([[1, 2, 3]], undefined, 'float32'), [1, 1, 1], [0, 0, 0], [0, 0, 0], [1, 1, 1], 'float32');
    expect(() => run(true)).toThrow(/training-mode batch norm needs at least 2 values per channel to estimate a variance, found 1 \(x \[1,3\]\)/);
    expect(run(false)).toHaveLength(3);
  });

  it('per-channel parameters must be [C]; x must have rank ≥ 2', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 3]);
    const c3 = g.placeholder('c3', [3]);
    expect(() => batchNorm(x, g.placeholder('gamma', [4]), c3, c3, c3)).toThrow(ShapeError);
    expect(() => batchNorm(x, g.placeholder('gamma2', [4]), c3, c3, c3)).toThrow(
      /gamma must be \[C\] = \[3\], one value per channel of x \[\?,3\], found \[4\]/,
    );
    expect(() => batchNorm(x, c3, c3, c3, g.placeholder('var', [1, 3]))).toThrow(
      /runningVar must be \[C\] = \[3\], one value per channel of x \[\?,3\], found \[1,3\]/,
    );
    expect(() => batchNorm(g.placeholder('v', [3]), c3, c3, c3, c3)).toThrow(/x must be \[N, C\] or \[N, H, W, C\] \(channels last, rank ≥ 2\), found \[3\]/);
    expect(() => batchNorm(x, g.placeholder('g64', [3], 'float64'), c3, c3, c3)).toThrow(/gamma is float64, expected float32 like x/);
    const statistics = batchNormStatistics(x, c3, c3, { epsilon: 1e-5 });
    expect(statistics.spec).toEqual({ shape: [3, 3], dtype: 'float64' });
    const sums = batchNormGradSums(g.placeholder('dy0', [5, 3]), x, statistics);
    expect(sums.spec).toEqual({ shape: [2, 3], dtype: 'float64' });
    expect(() => batchNormGradInput(g.placeholder('dy', [2, 4]), x, c3, statistics, sums)).toThrow(/dy \[2,4\] must have the shape of x \[\?,3\]/);
    expect(() => batchNormGradInput(g.placeholder('dy1', [2, 3]), x, c3, sums, sums)).toThrow(
      /statistics must be \[3, C\] = \[3, 3\] for x \[2,3\], found \[2,3\]/,
    );
    expect(() => batchNormGradSums(g.placeholder('dy3', [2, 3]), x, c3)).toThrow(
      /statistics must be float64 \(per-channel statistics are float64 for every x\), found float32/,
    );
    expect(batchNormGradGamma(sums, c3).spec).toEqual({ shape: [3], dtype: 'float32' });
    expect(() => batchNormGradGamma(sums, g.placeholder('c4', [4]))).toThrow(/sums must be \[2, C\] = \[2, 4\] for gamma \[4\], found \[2,3\]/);
  });

  it('bad momentum or epsilon say the value', () => {
    const g = new Graph();
    const x = g.placeholder('x', [2, 3]);
    const c = g.placeholder('c', [3]);
    expect(() => batchNorm(x, c, c, c, c, { momentum: 1.5 })).toThrow(/^batchNorm \(op batchNorm\): momentum must be in \[0, 1\], found 1.5$/);
    expect(() => batchNorm(x, c, c, c, c, { epsilon: 0 }, 'bn')).toThrow(/^bn \(op batchNorm\): epsilon must be a positive number, found 0$/);
    expect(() => batchNormStatistics(x, c, c, { epsilon: -1 })).toThrow(/\(op batchNormStatistics, .*\): epsilon must be a positive number, found -1$/);
  });
});
