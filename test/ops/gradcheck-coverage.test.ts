/**
 * Gradient-check coverage: one table entry per op, and a test that fails when
 * an op has no entry, so a new op cannot be merged without a gradient check.
 *
 * Each entry is either
 * - a float64 gradient check `{ build, inputs, options? }`: `build` gets one
 *   placeholder per input and returns the op applied to them. Every float input
 *   is checked (`wrt` left at its default) unless the entry says otherwise, so
 *   the inputs an op reads only for their shape are checked too: their gradient
 *   is null, and finite differences must find zero; or
 * - `{ noGradient: reason, ... }` with what backs the reason up: the op has no
 *   gradient rule (then `def.grad` must be undefined and differentiating through
 *   the op must throw a GradientError that names it), or it takes only int32
 *   inputs (then building it on a float input must throw a DTypeError).
 *
 * Shapes, attributes and value ranges follow the op's own test file in test/ops
 * (and test/graph/fusion.test.ts); inputs stay away from the points where
 * an op is not differentiable (relu at 0, max-pool ties, log and sqrt at 0).
 */
import { describe, expect, it } from 'vitest';
import {
  DTypeError,
  GradientError,
  Graph,
  addN,
  registeredOps,
  gradients,
  onesLike,
  zerosLike,
  type DType,
  type GradcheckOptions,
  type Node,
  type OpDef,
  type Tensor,
} from '@ndgraph/graph';
import {
  add,
  avgPool,
  avgPoolGrad,
  batchNorm,
  batchNormGradBeta,
  batchNormGradGamma,
  batchNormGradInput,
  batchNormGradSums,
  batchNormStatistics,
  biasAdd,
  biasAddGrad,
  broadcastTo,
  conv2d,
  conv2dBackpropFilter,
  conv2dBackpropInput,
  div,
  divByCount,
  dropoutMask,
  elu,
  eluGrad,
  exp,
  expandDims,
  flatten,
  leakyRelu,
  log,
  matmul,
  maxPool,
  maxPoolGather,
  maxPoolGrad,
  mean,
  mul,
  neg,
  oneHot,
  relu,
  reluGrad,
  reshape,
  reshapeLike,
  scale,
  sigmoid,
  sigmoidGrad,
  softmax,
  softmaxCrossEntropy,
  softmaxCrossEntropyGrad,
  softmaxCrossEntropyGradLabels,
  softmaxGrad,
  softmaxGradBackpropY,
  softplus,
  sqrt,
  square,
  sub,
  sum,
  tanh,
  tanhGrad,
} from '@ndgraph/ops';
import { reduceToShapeOp } from '@ndgraph/ops/kernels';
import { expectGradcheck, randomTensor, tensor, distinctTensor } from '../helpers.ts';

// ---------------------------------------------------------------------------
// The ops that exist.

type OpDefLike = { name: string; grad?: unknown; kind?: string };
/**
 * Every op def, read now: right after '@ndgraph/ops' is imported, before this
 * file defines anything (it defines no ops; vitest gives each test file its own
 * module registry, so no other test file's ops are in it either). The engine's
 * registry holds every def passed to defineOp, which includes the engine's own
 * core ops (addN, onesLike, zerosLike) and the plan-only fused ops.
 */
const allDefs: OpDefLike[] = [...registeredOps()];

/** Source ops (placeholder, variable, constant) hold no kernel work: nothing to check. */
const opDefs = allDefs.filter((d) => d.kind === undefined);
const definedNames = new Set(opDefs.map((d) => d.name));
const defsNamed = (name: string) => opDefs.filter((d) => d.name === name);

/** Fused ops the engine has made internal (plan-only): if they stop being registered, their entries are skipped, not stale. */
const FUSED = new Set(['conv2dBiasRelu', 'conv2dBias', 'conv2dBiasReluMaxPool', 'matmulBiasRelu', 'batchNormRelu']);

/** Applies the registered op `name` from its def (for ops that have no builder). */
function registered(name: string, inputs: Node[], attrs: object): Node {
  const def = defsNamed(name)[0];
  if (!def) throw new Error(`op ${name} is not registered`);
  return inputs[0].graph.addNode(def as OpDef, inputs, attrs);
}

// ---------------------------------------------------------------------------
// Inputs.

/** Deterministic float64 values in [lo, hi) (the shared helper). */
const rand = (shape: number[], seed: number, lo = -1, hi = 1): Tensor => randomTensor(shape, seed, lo, hi);

/** Random values with |x| ≥ 0.05: no element near the kink at 0 of the relu family. */
function awayFromZero(shape: number[], seed: number): Tensor {
  const t = randomTensor(shape, seed, -2, 2);
  for (let i = 0; i < t.size; i++) t.data[i] = Math.sign(t.data[i] || 1) * (0.05 + Math.abs(t.data[i]));
  return t;
}

/** A scalar [] float64 tensor (the dy of a loss). */
const scalar = (v: number): Tensor => tensor([v], [], 'float64');

/** int32 class indices, as a constant of x's graph (labels are not differentiable: they are not inputs of the check). */
const labelsOf = (x: Node, values: number[]): Node => x.graph.constant(tensor(values, [values.length], 'int32'));

/** The running statistics of a training-mode batchNorm: variables, because it updates them in place. */
function runningStats(x: Node): [Node, Node] {
  const channels = x.shape[x.shape.length - 1];
  const g = x.graph;
  return [
    g.variable('runningMean', tensor(new Array(channels).fill(0), [channels], 'float64'), { trainable: false }),
    g.variable('runningVar', tensor(new Array(channels).fill(1), [channels], 'float64'), { trainable: false }),
  ];
}

// ---------------------------------------------------------------------------
// The table.

type Build = (...xs: Node[]) => Node;

/** A float64 gradient check of the op. */
interface Gradcheck {
  build: Build;
  inputs: Tensor[];
  options?: GradcheckOptions;
}

/** The op has no gradient rule: `def.grad` is undefined, and differentiating `through` (the op on placeholders for `inputs`) throws a GradientError naming it. */
interface NoRule {
  noGradient: string;
  through: Build;
  inputs: Tensor[];
}

/** The op's inputs are int32 only, so nothing flows back: `onFloat` (the op on a float placeholder) throws a DTypeError. */
interface IntInputsOnly {
  noGradient: string;
  onFloat: (x: Node) => Node;
}

type Entry = Gradcheck | NoRule | IntInputsOnly;

// Shared configurations.
const conv = { strides: [2, 3] as [number, number], padding: 'same' as const }; // x [1,6,7,2], filter [3,3,2,2] → dy [1,3,3,2]
const convX = rand([1, 6, 7, 2], 13);
const convW = rand([3, 3, 2, 2], 14);
const convDy = rand([1, 3, 3, 2], 15);
const maxPoolOptions = { ksize: 3, strides: 1, padding: 'same' as const }; // overlapping windows: [2,5,6,2] → [2,5,6,2]
const pooled = distinctTensor([2, 5, 6, 2], 3);
const avgPoolOptions = { ksize: 3, strides: 2, padding: 'same' as const }; // [2,5,5,2] → [2,3,3,2]
const logits = rand([4, 5], 21, -3, 3);
const floatLabels = rand([4, 5], 43, 0, 1); // rows that do not sum to 1, so the row-sum terms count
const intLabels = [0, 4, 2, 2];
const EPSILON = { epsilon: 1e-5 };

const table: Record<string, Entry> = {
  // Core ops of @ndgraph/graph (made by the same defineOp).
  addN: { build: (a, b, c) => addN([a, b, c]), inputs: [rand([2, 3], 1), rand([2, 3], 2), rand([2, 3], 3)] },
  onesLike: { build: (x) => onesLike([x]), inputs: [rand([2, 3], 4)] }, // reads only x's shape: zero gradient
  zerosLike: { build: (x) => zerosLike([x]), inputs: [rand([2, 3], 5)] },

  // Arithmetic, broadcasting both ways ([3,1,2] ⊕ [1,4,1]); b in [0.5, 2), away from 0 for div.
  add: { build: (a, b) => add(a, b), inputs: [rand([3, 1, 2], 3), rand([1, 4, 1], 7, 0.5, 2)] },
  sub: { build: (a, b) => sub(a, b), inputs: [rand([3, 1, 2], 3), rand([1, 4, 1], 7, 0.5, 2)] },
  mul: { build: (a, b) => mul(a, b), inputs: [rand([3, 1, 2], 3), rand([1, 4, 1], 7, 0.5, 2)] },
  div: { build: (a, b) => div(a, b), inputs: [rand([3, 1, 2], 3), rand([1, 4, 1], 7, 0.5, 2)] },
  neg: { build: (x) => neg(x), inputs: [rand([3, 4], 11)] },
  scale: { build: (x) => scale(x, -2.5), inputs: [rand([3, 4], 11)] },
  square: { build: (x) => square(x), inputs: [rand([3, 4], 11)] },
  broadcastTo: { build: (x, like) => broadcastTo(x, like), inputs: [rand([1, 4], 2), rand([3, 4], 4)] },
  // The op itself: the `reduceToShape` helper returns x unchanged when the shapes already agree.
  reduceToShape: { build: (x, like) => reduceToShapeOp([x, like]), inputs: [rand([3, 4], 2), rand([1, 4], 4)] },
  oneHot: { noGradient: 'its input is int32 class indices: there is nothing to differentiate', onFloat: (x) => oneHot(x, 3, 'float64') },

  // Elementwise math; log and sqrt on [0.2, 3), away from 0.
  exp: { build: (x) => exp(x), inputs: [rand([3, 4], 3, -2, 2)] },
  log: { build: (x) => log(x), inputs: [rand([3, 4], 4, 0.2, 3)] },
  sqrt: { build: (x) => sqrt(x), inputs: [rand([3, 4], 6, 0.2, 3)] },

  // Activations and their backward kernels; |x| ≥ 0.05 for the relu family.
  relu: { build: (x) => relu(x), inputs: [awayFromZero([3, 4], 19)] },
  reluGrad: { build: (dy, x) => reluGrad(dy, x), inputs: [rand([3, 4], 31), awayFromZero([3, 4], 37)] }, // zero in x away from 0
  leakyRelu: { build: (x) => leakyRelu(x, 0.1), inputs: [awayFromZero([3, 4], 19)] },
  elu: { build: (x) => elu(x, 0.7), inputs: [awayFromZero([3, 4], 19)] },
  eluGrad: { build: (dy, x) => eluGrad(dy, x, 1.3), inputs: [rand([3, 4], 31), awayFromZero([3, 4], 37)] },
  sigmoid: { build: (x) => sigmoid(x), inputs: [rand([3, 4], 23, -4, 4)] },
  sigmoidGrad: { build: (dy, y) => sigmoidGrad(dy, y), inputs: [rand([3, 4], 21), rand([3, 4], 23, 0.05, 0.95)] }, // y a sigmoid output
  tanh: { build: (x) => tanh(x), inputs: [rand([3, 4], 23, -4, 4)] },
  tanhGrad: { build: (dy, y) => tanhGrad(dy, y), inputs: [rand([3, 4], 21), rand([3, 4], 22, -0.95, 0.95)] }, // y a tanh output
  softplus: { build: (x) => softplus(x), inputs: [rand([3, 4], 23, -4, 4)] },

  // Reductions.
  sum: { build: (x) => sum(x, { axes: [0, 2] }), inputs: [rand([2, 3, 4], 13)] },
  mean: { build: (x) => mean(x, { axes: [1, 2], keepDims: true }), inputs: [rand([2, 3, 3, 4], 13)] },
  divByCount: { build: (x, like) => divByCount(x, like, [0, 2]), inputs: [rand([5], 2), rand([2, 3, 4], 3)] },

  // Views.
  reshape: { build: (x) => reshape(x, [2, -1]), inputs: [rand([2, 3, 3, 4], 41)] },
  reshapeLike: { build: (x, like) => reshapeLike(x, like), inputs: [rand([2, 3, 3, 4], 43), rand([6, 12], 3)] },
  flatten: { build: (x) => flatten(x), inputs: [rand([2, 3, 3, 4], 43)] },
  expandDims: { build: (x) => expandDims(x, [0, 3, 5]), inputs: [rand([2, 3, 3, 4], 43)] },

  // Bias.
  biasAdd: { build: (x, b) => biasAdd(x, b), inputs: [rand([2, 3, 3, 4], 51), rand([4], 53)] },
  biasAddGrad: { build: (dy) => biasAddGrad(dy), inputs: [rand([2, 3, 3, 4], 57)] },

  // Softmax.
  softmax: { build: (x) => softmax(x), inputs: [rand([2, 3, 4], 5, -3, 3)] },
  softmaxGrad: { build: (dy, y) => softmaxGrad(dy, y), inputs: [rand([2, 5], 10), rand([2, 5], 11, 0.1, 1)] }, // w.r.t. y its rule is softmaxGradBackpropY, checked here
  softmaxGradBackpropY: {
    noGradient: "third derivatives of softmax are not supported (its values are checked through softmaxGrad's gradient w.r.t. y)",
    through: (g, dy, y) => softmaxGradBackpropY(g, dy, y),
    inputs: [rand([2, 5], 12), rand([2, 5], 10), rand([2, 5], 11, 0.1, 1)],
  },

  // Softmax cross entropy: both label kinds in one check — float labels (inputs) plus int labels (a constant).
  softmaxCrossEntropy: {
    build: (x, l) => add(softmaxCrossEntropy(x, l), softmaxCrossEntropy(x, labelsOf(x, intLabels))),
    inputs: [logits, floatLabels],
  },
  softmaxCrossEntropyGrad: {
    build: (x, l, dy) => add(softmaxCrossEntropyGrad(dy, x, l), softmaxCrossEntropyGrad(dy, x, labelsOf(x, intLabels))),
    inputs: [logits, floatLabels, scalar(0.7)],
  },
  softmaxCrossEntropyGradLabels: { build: (x, dy) => softmaxCrossEntropyGradLabels(dy, x), inputs: [logits, scalar(0.7)] },

  // Batch norm in training mode (batch statistics, the harder gradient); its gradient ops have no rules of their own.
  batchNorm: {
    build: (x, gamma, beta) => batchNorm(x, gamma, beta, ...runningStats(x)),
    inputs: [rand([2, 3, 3, 2], 31, -2, 2), rand([2], 32, 0.5, 1.5), rand([2], 33)],
    options: { training: true },
  },
  batchNormStatistics: {
    noGradient: "batchNorm's gradient w.r.t. x carries the dependence of the statistics on x (checked through batchNorm)",
    through: (x, runningMean, runningVar) => batchNormStatistics(x, runningMean, runningVar, EPSILON),
    inputs: [rand([4, 3], 62, -2, 2), rand([3], 65, -0.5, 0.5), rand([3], 64, 0.5, 2)],
  },
  batchNormGradSums: {
    noGradient: "second derivatives through batch norm are not supported (its values are checked through batchNorm's gradients)",
    through: (dy, x, statistics) => batchNormGradSums(dy, x, statistics),
    inputs: [rand([4, 3], 61), rand([4, 3], 62, -2, 2), rand([3, 3], 66, 0.5, 1.5)],
  },
  batchNormGradInput: {
    noGradient: "second derivatives through batch norm are not supported (its values are checked through batchNorm's gradient w.r.t. x)",
    through: (dy, x, gamma, statistics, sums) => batchNormGradInput(dy, x, gamma, statistics, sums),
    inputs: [rand([4, 3], 61), rand([4, 3], 62, -2, 2), rand([3], 63, 0.5, 1.5), rand([3, 3], 66, 0.5, 1.5), rand([2, 3], 67)],
  },
  batchNormGradBeta: {
    noGradient: "second derivatives through batch norm are not supported (its values are checked through batchNorm's gradient w.r.t. beta)",
    through: (sums, beta) => batchNormGradBeta(sums, beta),
    inputs: [rand([2, 3], 67), rand([3], 33)],
  },
  batchNormGradGamma: {
    noGradient: "second derivatives through batch norm are not supported (its values are checked through batchNorm's gradient w.r.t. gamma)",
    through: (sums, gamma) => batchNormGradGamma(sums, gamma),
    inputs: [rand([2, 3], 67), rand([3], 63, 0.5, 1.5)],
  },

  // Dropout's mask reads x only for its shape; the seed is reset before every evaluation, so the mask stays fixed.
  dropoutMask: { build: (x) => dropoutMask(x, 0.4), inputs: [rand([3, 4, 5], 42)], options: { training: true, seed: 3 } },

  // Matmul and conv; the backprop ops' shape-only inputs (x of backpropInput, filter of backpropFilter) get a zero gradient.
  matmul: { build: (a, b) => matmul(a, b), inputs: [rand([3, 4], 5), rand([4, 2], 6)] },
  conv2d: { build: (x, w) => conv2d(x, w, conv), inputs: [rand([1, 6, 7, 2], 11), rand([3, 3, 2, 2], 12)] },
  conv2dBackpropInput: { build: (dy, w, x) => conv2dBackpropInput(dy, w, x, conv), inputs: [convDy, convW, convX] },
  conv2dBackpropFilter: { build: (dy, x, w) => conv2dBackpropFilter(dy, x, w, conv), inputs: [convDy, convX, convW] },

  // Fused layers: kernels the planner substitutes for conv2d/matmul → biasAdd → relu (fusion-rules.ts). They have
  // no builder (so they are built from their registered defs) and no gradient rule: gradients use the plain chain.
  batchNormRelu: {
    noGradient: 'a plan-only fused kernel: gradients are built on the plain batchNorm → relu chain',
    through: (x, gamma, beta, mean, variance, statistics) =>
      registered('batchNormRelu', [x, gamma, beta, mean, variance, statistics], { momentum: 0.9, epsilon: 1e-5 }),
    inputs: [rand([4, 3], 62, -2, 2), rand([3], 63, 0.5, 1.5), rand([3], 33), rand([3], 65, -0.5, 0.5), rand([3], 64, 0.5, 2), rand([3, 3], 66, 0.5, 1.5)],
  },
  conv2dBias: {
    noGradient: 'a plan-only fused kernel: gradients are built on the plain conv2d → biasAdd chain',
    through: (x, w, b) => registered('conv2dBias', [x, w, b], { strides: [2, 2], padding: 'same' }),
    inputs: [rand([2, 5, 7, 3], 7), rand([3, 3, 3, 5], 8), rand([5], 9, -0.5, 0.5)],
  },
  conv2dBiasRelu: {
    noGradient: 'a plan-only fused kernel: gradients are built on the plain conv2d → biasAdd → relu chain',
    through: (x, w, b) => registered('conv2dBiasRelu', [x, w, b], { strides: [2, 2], padding: 'same' }),
    inputs: [rand([2, 5, 7, 3], 7), rand([3, 3, 3, 5], 8), rand([5], 9, -0.5, 0.5)],
  },
  conv2dBiasReluMaxPool: {
    noGradient: 'a plan-only fused kernel (inference): gradients are built on the plain conv2d → biasAdd → relu → maxPool chain',
    through: (x, w, b) =>
      registered('conv2dBiasReluMaxPool', [x, w, b], {
        conv: { strides: [1, 1], padding: 'same' },
        pool: { ksize: [2, 2], strides: [2, 2], padding: 'valid' },
      }),
    inputs: [rand([2, 6, 7, 3], 7), rand([3, 3, 3, 5], 8), rand([5], 9, -0.5, 0.5)],
  },
  matmulBiasRelu: {
    noGradient: 'a plan-only fused kernel: gradients are built on the plain matmul → biasAdd → relu chain',
    through: (x, w, b) => registered('matmulBiasRelu', [x, w, b], {}),
    inputs: [rand([4, 6], 21), rand([6, 5], 22), rand([5], 23, -0.5, 0.5)],
  },

  // Pools; max pooling on distinct values (no ties), so its gradients in x are zero, not undefined.
  maxPool: { build: (x) => maxPool(x, maxPoolOptions), inputs: [pooled] },
  maxPoolGrad: { build: (dy, x) => maxPoolGrad(dy, x, maxPoolOptions), inputs: [rand([2, 5, 6, 2], 7), pooled] },
  maxPoolGather: { build: (g, x) => maxPoolGather(g, x, { ksize: 2 }), inputs: [rand([2, 4, 6, 2], 13), distinctTensor([2, 4, 6, 2], 11)] },
  avgPool: { build: (x) => avgPool(x, avgPoolOptions), inputs: [rand([2, 5, 5, 2], 5)] },
  avgPoolGrad: { build: (dy, x) => avgPoolGrad(dy, x, avgPoolOptions), inputs: [rand([2, 3, 3, 2], 6), rand([2, 5, 5, 2], 5)] },
};

// ---------------------------------------------------------------------------
// The tests.

const isGradcheck = (e: Entry): e is Gradcheck => 'build' in e;
const isNoRule = (e: Entry): e is NoRule => 'through' in e;
const isIntInputsOnly = (e: Entry): e is IntInputsOnly => 'onFloat' in e;

/** A fused op that is not registered is skipped, not stale (see FUSED). */
const absentFused = (name: string) => FUSED.has(name) && !definedNames.has(name);
const entries = Object.entries(table);
const live = entries.filter(([name]) => !absentFused(name));

describe('gradient-check coverage of every op', () => {
  it.each(live.filter(([, e]) => isGradcheck(e)) as [string, Gradcheck][])('%s passes the float64 gradient check', (name, entry) => {
    // The entry must exercise the op it is filed under (so the table cannot check one op in another's name).
    const g = new Graph();
    entry.build(...entry.inputs.map((t, i) => g.placeholder(`x${i}`, t.shape, t.dtype as DType)));
    expect(
      g.nodes.map((n) => n.op.name),
      `the ${name} entry builds no ${name} node`,
    ).toContain(name);
    expectGradcheck(name, entry.build, entry.inputs, entry.options);
  });

  it.skip.each(entries.filter(([name]) => absentFused(name)).map(([name]) => name))('%s (fused op, not registered)', () => {});

  it.each(live.filter(([, e]) => isNoRule(e)) as [string, NoRule][])(
    '%s has no gradient rule, and differentiating through it throws a GradientError naming it',
    (name, entry) => {
      const defs = defsNamed(name);
      expect(defs.length, `${name} is registered`).toBeGreaterThan(0);
      for (const def of defs) expect(def.grad, `${name}: the table says it has no gradient rule (${entry.noGradient})`).toBeUndefined();
      const g = new Graph();
      const xs = entry.inputs.map((t, i) => g.placeholder(`x${i}`, t.shape, 'float64'));
      const y = entry.through(...xs);
      expect(y.op.name).toBe(name);
      expect(() => gradients(sum(y), xs)).toThrow(GradientError);
      expect(() => gradients(sum(y), xs)).toThrow(`(op ${name}) has no gradient rule`);
    },
  );

  it.each(live.filter(([, e]) => isIntInputsOnly(e)) as [string, IntInputsOnly][])(
    '%s takes only int32 inputs: it has nothing to differentiate',
    (name, entry) => {
      const g = new Graph();
      expect(() => entry.onFloat(g.placeholder('x', [3], 'float64')), `${name}: ${entry.noGradient}`).toThrow(DTypeError);
    },
  );

  it('every op defined by @ndgraph/ops has a gradcheck entry', () => {
    const missing = [...definedNames].filter((name) => !(name in table));
    expect(missing, `ops without an entry in the table of test/ops/gradcheck-coverage.test.ts: ${missing.join(', ')}`).toEqual([]);
  });

  it('every entry of the table names an op that exists (no stale entries)', () => {
    expect(definedNames.size, 'found the defined ops').toBeGreaterThan(0);
    const stale = entries.map(([name]) => name).filter((name) => !definedNames.has(name) && !FUSED.has(name));
    expect(stale, `table entries naming ops that no longer exist: ${stale.join(', ')}`).toEqual([]);
  });
});
