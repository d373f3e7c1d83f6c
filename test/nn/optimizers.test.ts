import { describe, it, expect } from 'vitest';
import { tensor, toArray, wrap, DTypeError, GraphError, ShapeError, type Tensor, type DType } from '@ndgraph/graph';
import { sgd, momentum, nesterov, adam, adamw, rmsprop, adagrad, createOptimizer, stepDecay, type Optimizer, DEFAULT_LEARNING_RATES } from '@ndgraph/nn';
import { expectClose } from '../helpers.ts';

/** Runs `optimizer` on one parameter for the given gradients; returns the weights after each step. */
function trajectory(optimizer: Optimizer, initial: number[], grads: number[][], dtype: DType = 'float64'): number[][] {
  const value = tensor(initial, [initial.length], dtype);
  const out: number[][] = [];
  for (const g of grads) {
    optimizer.step([{ name: 'w', value, grad: tensor(g, [g.length], dtype) }]);
    out.push(toArray(value));
  }
  return out;
}

function expectTrajectory(actual: number[][], expected: number[][], tol = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => expectClose(a, expected[i], tol));
}

describe('sgd', () => {
  it('w ← w − lr·g, scalar and vector', () => {
    expectTrajectory(trajectory(sgd({ learningRate: 0.1 }), [1], [[0.5], [0.5], [-2]]), [[0.95], [0.9], [1.1]]);
    expectTrajectory(
      trajectory(
        sgd({ learningRate: 0.1 }),
        [1, -2],
        [
          [0.5, 1],
          [0, -3],
        ],
      ),
      [
        [0.95, -2.1],
        [0.95, -1.8],
      ],
    );
  });

  it('weight decay adds wd·w to the gradient', () => {
    // step 1: g = 0.5 + 0.1·1 = 0.6 → 1 − 0.06 = 0.94; step 2: g = 0.5 + 0.094 = 0.594 → 0.94 − 0.0594
    expectTrajectory(trajectory(sgd({ learningRate: 0.1, weightDecay: 0.1 }), [1], [[0.5], [0.5]]), [[0.94], [0.8806]]);
  });
});

describe('momentum (v ← μv − lr·g; w ← w + v)', () => {
  it('three steps by hand', () => {
    // v1 = −0.05, w1 = 0.95; v2 = −0.045 − 0.05 = −0.095, w2 = 0.855; v3 = −0.0855 − 0.05 = −0.1355, w3 = 0.7195
    expectTrajectory(trajectory(momentum({ learningRate: 0.1 }), [1], [[0.5], [0.5], [0.5]]), [[0.95], [0.855], [0.7195]]);
  });

  it('vector with changing gradients and μ = 0.5', () => {
    // v1 = [−0.1, 0.2], w1 = [0.9, 0.2]; v2 = [−0.05 − 0.3, 0.1 + 0] = [−0.35, 0.1], w2 = [0.55, 0.3]
    expectTrajectory(
      trajectory(
        momentum({ learningRate: 0.1, momentum: 0.5 }),
        [1, 0],
        [
          [1, -2],
          [3, 0],
        ],
      ),
      [
        [0.9, 0.2],
        [0.55, 0.3],
      ],
    );
  });

  it('weight decay', () => {
    // g1 = 0.5 + 0.2 = 0.7 → v1 = −0.07, w1 = 0.93; g2 = 0.5 + 0.186 = 0.686 → v2 = −0.063 − 0.0686 = −0.1316, w2 = 0.7984
    expectTrajectory(trajectory(momentum({ learningRate: 0.1, momentum: 0.9, weightDecay: 0.2 }), [1], [[0.5], [0.5]]), [[0.93], [0.7984]]);
  });
});

describe('nesterov (v ← μv − lr·g; w ← w + μv − lr·g)', () => {
  it('two steps by hand', () => {
    // v1 = −0.05, w1 = 1 − 0.045 − 0.05 = 0.905; v2 = −0.095, w2 = 0.905 − 0.0855 − 0.05 = 0.7695
    expectTrajectory(trajectory(nesterov({ learningRate: 0.1 }), [1], [[0.5], [0.5]]), [[0.905], [0.7695]]);
  });
});

describe('adam', () => {
  it('bias-corrected moments, three steps by hand', () => {
    const [b1, b2, eps, lr] = [0.9, 0.999, 1e-8, 0.1];
    let m = 0;
    let v = 0;
    let w = 1;
    const expected: number[][] = [];
    const grads = [0.5, -1, 2];
    grads.forEach((g, i) => {
      const t = i + 1;
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      w -= (lr * (m / (1 - b1 ** t))) / (Math.sqrt(v / (1 - b2 ** t)) + eps);
      expected.push([w]);
    });
    // The first step of Adam moves every weight by almost exactly lr·sign(g).
    expect(expected[0][0]).toBeCloseTo(0.9, 7);
    // Step 2 worked out: m̂ = −0.055/0.19 = −0.289474, v̂ = 0.00124975/0.001999 = 0.625188, √v̂ = 0.790688
    // → w2 = 0.9 + 0.1·0.289474/0.790688 ≈ 0.936610
    expect(expected[1][0]).toBeCloseTo(0.9 + (0.1 * 0.289473684) / 0.790688, 6);
    expectTrajectory(
      trajectory(
        adam({ learningRate: lr }),
        [1],
        grads.map((g) => [g]),
      ),
      expected,
    );
  });

  it('defaults to lr 1e-3', () => {
    const opt = adam();
    expect(opt.learningRate()).toBe(1e-3);
    expectTrajectory(trajectory(opt, [0], [[4]]), [[-1e-3]], 1e-9);
  });

  it('L2 weight decay goes through the moments; adamw decouples it', () => {
    // adam, wd 0.5, w 1, g 0: g' = 0.5 → the first step is still ≈ lr·sign(g') = 0.1
    expectTrajectory(trajectory(adam({ learningRate: 0.1, weightDecay: 0.5 }), [1], [[0]]), [[0.9]], 1e-7);
    // adamw, wd 0.01: w1 = 1 − 0.1·(1 + 0.01·1) = 0.899
    expectTrajectory(trajectory(adamw({ learningRate: 0.1, weightDecay: 0.01 }), [1], [[0.5]]), [[0.899]], 1e-7);
    // adamw with a zero gradient only decays: w1 = 1 − 0.1·0.01·1
    expectTrajectory(trajectory(adamw({ learningRate: 0.1, weightDecay: 0.01 }), [1], [[0]]), [[0.999]], 1e-12);
  });
});

describe('rmsprop (s ← ρs + (1−ρ)g²; w ← w − lr·g/(√s + ε))', () => {
  it('two steps by hand', () => {
    const s1 = 0.1 * 0.25; // 0.025
    const w1 = 1 - (0.01 * 0.5) / (Math.sqrt(s1) + 1e-8); // 1 − 0.005/0.158113883 ≈ 0.968377 (ε shifts the 9th digit)
    const s2 = 0.9 * s1 + 0.1 * 4; // g = −2
    const w2 = w1 + (0.01 * 2) / (Math.sqrt(s2) + 1e-8);
    expect(w1).toBeCloseTo(0.9683772234, 8);
    expectTrajectory(trajectory(rmsprop({ learningRate: 0.01 }), [1], [[0.5], [-2]]), [[w1], [w2]]);
  });
});

describe('adagrad (s ← s + g²; w ← w − lr·g/(√s + ε))', () => {
  it('two steps by hand', () => {
    // s1 = 0.25, w1 = 1 − 0.05/0.5 = 0.9; s2 = 1.25, w2 = 0.9 + 0.1/√1.25 = 0.98944271910 (ε = 1e-8 moves them by ~2e-9)
    expectTrajectory(trajectory(adagrad({ learningRate: 0.1 }), [1], [[0.5], [-1]]), [[0.9], [0.9894427191]], 1e-8);
    // With ε = 0.5 its effect is visible: w1 = 1 − 0.05/(0.5 + 0.5) = 0.95
    expectTrajectory(trajectory(adagrad({ learningRate: 0.1, epsilon: 0.5 }), [1], [[0.5]]), [[0.95]]);
  });

  it('defaults to lr 0.01', () => {
    expect(adagrad().learningRate()).toBe(0.01);
  });
});

describe('common behaviour', () => {
  const factories: [string, () => Optimizer][] = [
    ['sgd', () => sgd({ learningRate: 0.1, weightDecay: 0.01 })],
    ['momentum', () => momentum({ learningRate: 0.1, weightDecay: 0.01 })],
    ['nesterov', () => nesterov({ learningRate: 0.1, momentum: 0.8 })],
    ['adam', () => adam({ learningRate: 0.01 })],
    ['adamw', () => adamw({ learningRate: 0.01, weightDecay: 0.1 })],
    ['rmsprop', () => rmsprop({ learningRate: 0.01 })],
    ['adagrad', () => adagrad({ learningRate: 0.1 })],
  ];
  const grads = [
    [0.3, -1.2, 2.0, 0.01],
    [-0.7, 0.4, 1.1, -0.2],
    [0.5, 0.5, -0.5, 0.9],
    [1.5, -0.1, 0.2, 0.3],
  ];
  const start = [0.5, -0.25, 1.0, 2.0];

  for (const [label, make] of factories) {
    it(`${label}: getState → setState on a new optimizer continues identically`, () => {
      const run = (opt: Optimizer, value: Tensor, g: number[][]) => {
        for (const row of g) {
          opt.step([
            { name: 'layer/w', value, grad: tensor(row, [2, 2], 'float32') },
            { name: 'layer/b', value: bias, grad: tensor([row[0]], [1], 'float32') },
          ]);
        }
      };
      const bias = tensor([0.1], [1], 'float32');
      const a = make();
      const wa = tensor(start, [2, 2], 'float32');
      run(a, wa, grads.slice(0, 2));
      const state = a.getState();
      expect(state.step).toBe(2);

      // Copies: scribbling on the returned state does not reach the optimizer.
      for (const t of Object.values(state.slots)) t.data.fill(123);
      const fresh = a.getState();
      const b = make();
      b.setState(fresh);
      expect(b.getState().step).toBe(2);
      expect(Object.keys(b.getState().slots)).toEqual(Object.keys(fresh.slots));

      const wb = tensor(toArray(wa), [2, 2], 'float32');
      const biasBefore = toArray(bias);
      run(a, wa, grads.slice(2));
      bias.data.set(biasBefore);
      run(b, wb, grads.slice(2));
      expect(Array.from(wb.data)).toEqual(Array.from(wa.data));
      expect(wa.data).toBeInstanceOf(Float32Array);
    });

    it(`${label}: float32 follows the float64 result`, () => {
      const w64 = trajectory(make(), start, grads, 'float64');
      const w32 = trajectory(make(), start, grads, 'float32');
      w32.forEach((row, i) => expectClose(row, w64[i], 1e-5));
    });
  }

  it('slot names follow `${param}/${slot}`', () => {
    const opt = adam();
    opt.step([{ name: 'conv1/w', value: tensor([1, 2]), grad: tensor([1, 1]) }]);
    expect(Object.keys(opt.getState().slots)).toEqual(['conv1/w/m', 'conv1/w/v']);
    const mom = momentum({ learningRate: 0.1 });
    mom.step([{ name: 'fc/b', value: tensor([1]), grad: tensor([1]) }]);
    expect(Object.keys(mom.getState().slots)).toEqual(['fc/b/v']);
    const s = sgd({ learningRate: 0.1 });
    s.step([{ name: 'fc/b', value: tensor([1]), grad: tensor([1]) }]);
    expect(s.getState()).toEqual({ step: 1, slots: {} });
  });

  it('updates the live buffer in place, including a view at an offset', () => {
    const buffer = new Float64Array([9, 1, 2, 9]);
    const value = wrap(buffer, [2], 1);
    const grad = wrap(new Float64Array([7, 10, 20]), [2], 1);
    sgd({ learningRate: 0.1 }).step([{ name: 'w', value, grad }]);
    expect(Array.from(buffer)).toEqual([9, 0, 0, 9]);
  });

  it('setState validates and names the slot', () => {
    const opt = adam();
    opt.step([{ name: 'conv1/w', value: tensor([1, 2]), grad: tensor([1, 1]) }]);
    const good = opt.getState();
    expect(() => opt.setState({ step: 1, slots: { ...good.slots, 'conv1/w/m': tensor([1, 2, 3]) } })).toThrow(ShapeError);
    expect(() => opt.setState({ step: 1, slots: { ...good.slots, 'conv1/w/m': tensor([1, 2, 3]) } })).toThrow(
      /slot 'conv1\/w\/m' has shape \[3\], expected \[2\]/,
    );
    expect(() => opt.setState({ step: 1, slots: { 'conv1/w/velocity': tensor([1, 2]) } })).toThrow(
      /unexpected slot 'conv1\/w\/velocity'; expected '<param>\/m' or '<param>\/v'/,
    );
    expect(() => opt.setState({ step: 1, slots: { 'conv1/w/m': tensor([1, 2]) } })).toThrow(/slot 'conv1\/w\/v' is missing/);
    expect(() => opt.setState({ step: 1, slots: { 'conv1/w/m': tensor([1, 2]), 'conv1/w/v': tensor([1, 2], [2], 'int32') } })).toThrow(DTypeError);
    expect(() => opt.setState({ step: -1, slots: {} })).toThrow(/step to be an integer ≥ 0, found -1/);
    expect(() => sgd({ learningRate: 1 }).setState({ step: 0, slots: { 'w/v': tensor([1]) } })).toThrow(/sgd keeps no slots/);

    // A fresh optimizer cannot know the shapes yet: a mismatch surfaces at the first step, naming the slot.
    const fresh = momentum({ learningRate: 0.1 });
    fresh.setState({ step: 3, slots: { 'fc/w/v': tensor([0, 0, 0]) } });
    expect(() => fresh.step([{ name: 'fc/w', value: tensor([1, 2]), grad: tensor([1, 1]) }])).toThrow(
      /slot 'fc\/w\/v' has shape \[3\], but parameter 'fc\/w' has shape \[2\]/,
    );
  });

  it('a float64 state restores into a float32 model', () => {
    const a = momentum({ learningRate: 0.1 });
    const w = tensor([1], [1], 'float32');
    a.step([{ name: 'w', value: w, grad: tensor([0.5], [1], 'float32') }]);
    const state = a.getState();
    const b = momentum({ learningRate: 0.1 });
    b.setState({ step: state.step, slots: { 'w/v': tensor(toArray(state.slots['w/v']), [1], 'float64') } });
    const w2 = tensor(toArray(w), [1], 'float32');
    b.step([{ name: 'w', value: w2, grad: tensor([0.5], [1], 'float32') }]);
    expectClose(w2, [0.855], 1e-6);
  });

  it('rejects a gradient of the wrong shape or an integer parameter', () => {
    const opt = sgd({ learningRate: 0.1 });
    expect(() => opt.step([{ name: 'fc/w', value: tensor([1, 2]), grad: tensor([1, 2, 3]) }])).toThrow(
      /sgd: gradient of 'fc\/w' has shape \[3\], expected the parameter's shape \[2\]/,
    );
    expect(() => opt.step([{ name: 'ids', value: tensor([1], [1], 'int32'), grad: tensor([1]) }])).toThrow(DTypeError);
  });

  it('rejects bad options', () => {
    expect(() => momentum({ learningRate: 0.1, momentum: 1 })).toThrow(/momentum: expected momentum in \[0, 1\), found 1/);
    expect(() => adam({ beta2: -0.1 })).toThrow(/adam: expected beta2 in \[0, 1\), found -0.1/);
    expect(() => sgd({ learningRate: NaN })).toThrow(RangeError);
    expect(() => sgd({ learningRate: 0.1, weightDecay: -1 })).toThrow(/weightDecay ≥ 0/);
  });
});

describe('learning-rate schedules in optimizers', () => {
  it('the schedule is asked for step 0, 1, 2, ... and learningRate() tells the next one', () => {
    const opt = sgd({ learningRate: (step) => 0.1 / (step + 1) });
    const value = tensor([1], [1], 'float64');
    expect(opt.learningRate()).toBeCloseTo(0.1, 15);
    opt.step([{ name: 'w', value, grad: tensor([1], [1], 'float64') }]);
    expect(opt.learningRate()).toBeCloseTo(0.05, 15);
    opt.step([{ name: 'w', value, grad: tensor([1], [1], 'float64') }]);
    expect(opt.learningRate()).toBeCloseTo(0.1 / 3, 15);
    // w = 1 − 0.1 − 0.05
    expectClose(value, [0.85], 1e-12);
  });

  it('momentum folds the scheduled rate into the velocity', () => {
    const opt = momentum({ learningRate: stepDecay({ initial: 0.1, factor: 0.5, every: 1 }), momentum: 0.9 });
    // v1 = −0.1·1 = −0.1, w1 = 0.9; v2 = −0.09 − 0.05·1 = −0.14, w2 = 0.76
    expectTrajectory(trajectory(opt, [1], [[1], [1]]), [[0.9], [0.76]]);
  });

  it('a restored state resumes the schedule where it was', () => {
    const schedule = stepDecay({ initial: 1, factor: 0.1, every: 2 });
    const a = sgd({ learningRate: schedule });
    const value = tensor([0], [1], 'float64');
    for (let i = 0; i < 3; i++) a.step([{ name: 'w', value, grad: tensor([1], [1], 'float64') }]);
    const b = sgd({ learningRate: schedule });
    b.setState(a.getState());
    expect(b.learningRate()).toBeCloseTo(0.1, 15);
  });

  it('a schedule returning NaN is reported with the step', () => {
    const opt = sgd({ learningRate: (step) => (step < 1 ? 0.1 : NaN) });
    const p = { name: 'w', value: tensor([1]), grad: tensor([1]) };
    opt.step([p]);
    expect(() => opt.step([p])).toThrow(/sgd: the learning-rate schedule gave NaN at step 1/);
  });
});

describe('createOptimizer', () => {
  it('by name', () => {
    for (const name of ['sgd', 'momentum', 'nesterov', 'adam', 'adamw', 'rmsprop', 'adagrad']) {
      expect(createOptimizer(name, { learningRate: 0.01 }).name).toBe(name);
    }
    expect(createOptimizer('Adam').learningRate()).toBe(1e-3);
    // The factory passes the options through: momentum with μ = 0.5 gives the hand values above.
    expectTrajectory(
      trajectory(
        createOptimizer('momentum', { learningRate: 0.1, momentum: 0.5 }),
        [1, 0],
        [
          [1, -2],
          [3, 0],
        ],
      ),
      [
        [0.9, 0.2],
        [0.55, 0.3],
      ],
    );
  });

  it('unknown names and options are errors that list the valid ones', () => {
    expect(() => createOptimizer('lbfgs', { learningRate: 0.1 })).toThrow(GraphError);
    expect(() => createOptimizer('lbfgs', { learningRate: 0.1 })).toThrow(
      /unknown optimizer 'lbfgs'; expected one of: sgd, momentum, nesterov, adam, adamw, rmsprop, adagrad/,
    );
    expect(() => createOptimizer('sgd', { learningRate: 0.1, beta1: 0.9 })).toThrow(
      /createOptimizer\('sgd'\): unknown option 'beta1'; sgd accepts learningRate, weightDecay/,
    );
  });

  it('each optimizer has a default learning rate', () => {
    for (const [name, rate] of Object.entries(DEFAULT_LEARNING_RATES)) expect(createOptimizer(name).learningRate(), name).toBe(rate);
    expect(createOptimizer('adam', { learningRate: 0.01 }).learningRate()).toBe(0.01);
  });
});
