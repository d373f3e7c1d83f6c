/**
 * Layers: small functions that create variables (in a scope named after the
 * layer) and call ops. They take and return graph nodes, so a model is plain
 * function composition, and every variable and intermediate keeps a readable
 * name such as `lenet/conv1/w`. Every layer takes its name in its options
 * object (`{ name }`), and rejects options it does not know. Exported from
 * @ndgraph/nn as the `layers` namespace (`layers.conv2d`), apart from the ops
 * of the same names.
 */
import { checkOptionKeys, type Graph, type Node, GraphError, ShapeError, formatShape, zeros, full } from '@ndgraph/graph';
import {
  add,
  avgPool as avgPoolOp,
  batchNorm as batchNormOp,
  biasAdd,
  conv2d as conv2dOp,
  dropout as dropoutOp,
  elu,
  flatten as flattenOp,
  leakyRelu,
  matmul,
  maxPool as maxPoolOp,
  relu,
  sigmoid,
  tanh,
} from '@ndgraph/ops';
import { type Initializer, heNormal, zeros as zerosInit } from './initializers.ts';

export type Activation = (x: Node) => Node;
export type ActivationName = 'relu' | 'leakyRelu' | 'elu' | 'sigmoid' | 'tanh' | 'linear';

/** The built-in activations by name. */
export const activations: Record<ActivationName, Activation> = {
  relu: (x) => relu(x),
  leakyRelu: (x) => leakyRelu(x, 0.01),
  elu: (x) => elu(x, 1),
  sigmoid: (x) => sigmoid(x),
  tanh: (x) => tanh(x),
  linear: (x) => x,
};

export function activationByName(name: string): Activation {
  const a = (activations as Record<string, Activation>)[name];
  if (!a) throw new GraphError(`unknown activation '${name}'; expected one of ${Object.keys(activations).join(', ')}`);
  return a;
}

function resolveActivation(a: Activation | ActivationName | undefined): Activation | undefined {
  return typeof a === 'string' ? activationByName(a) : a;
}

function knownDim(x: Node, axis: number, layer: string): number {
  const d = x.shape[axis < 0 ? x.shape.length + axis : axis];
  if (d === undefined || d < 0) throw new ShapeError(`${layer}: input ${x.name} ${formatShape(x.shape)} needs a known size on axis ${axis}`);
  return d;
}

export interface DenseOptions {
  name?: string;
  init?: Initializer;
  useBias?: boolean;
  activation?: Activation | ActivationName;
}

/** y = activation(x·W + b), x [N, in], W [in, units]. */
export function dense(x: Node, units: number, options: DenseOptions = {}): Node {
  checkOptionKeys('dense', options, ['name', 'init', 'useBias', 'activation']);
  const g = x.graph;
  return g.scope(options.name ?? 'dense', () => {
    if (x.rank !== 2) throw new ShapeError(`dense: expected a 2-D input [batch, features], found ${x.name} ${formatShape(x.shape)}; flatten it first`);
    if (!Number.isInteger(units) || units < 1) throw new GraphError(`dense: units must be a positive integer, found ${JSON.stringify(units)}`);
    const inputs = knownDim(x, 1, 'dense');
    const w = g.variable('w', (options.init ?? heNormal)([inputs, units], g.rng, floatOf(x)));
    let y = matmul(x, w);
    if (options.useBias ?? true) y = biasAdd(y, g.variable('b', zerosInit([units], g.rng, floatOf(x))));
    const act = resolveActivation(options.activation);
    return act ? act(y) : y;
  });
}

export interface Conv2dOptions {
  name?: string;
  filters: number;
  kernelSize: number | [number, number];
  strides?: number | [number, number];
  padding?: 'same' | 'valid';
  init?: Initializer;
  useBias?: boolean;
  activation?: Activation | ActivationName;
}

/** y = activation(conv2d(x, W) + b), NHWC, W [kh, kw, cin, filters]. */
export function conv2d(x: Node, options: Conv2dOptions): Node {
  checkOptionKeys('conv2d', options, ['name', 'filters', 'kernelSize', 'strides', 'padding', 'init', 'useBias', 'activation']);
  const g = x.graph;
  return g.scope(options.name ?? 'conv', () => {
    if (x.rank !== 4) throw new ShapeError(`conv2d: expected an NHWC input, found ${x.name} ${formatShape(x.shape)}`);
    const [kh, kw] = typeof options.kernelSize === 'number' ? [options.kernelSize, options.kernelSize] : (options.kernelSize ?? []);
    if (![kh, kw].every((k) => Number.isInteger(k) && k > 0))
      throw new GraphError(`conv2d: kernelSize must be a positive integer or a pair of them, found ${JSON.stringify(options.kernelSize)}`);
    if (!Number.isInteger(options.filters) || options.filters < 1)
      throw new GraphError(`conv2d: filters must be a positive integer, found ${JSON.stringify(options.filters)}`);
    const cin = knownDim(x, 3, 'conv2d');
    const w = g.variable('w', (options.init ?? heNormal)([kh, kw, cin, options.filters], g.rng, floatOf(x)));
    const geometry = { strides: options.strides ?? 1, padding: options.padding ?? 'valid' } as const;
    let y = conv2dOp(x, w, geometry);
    if (options.useBias ?? true) y = biasAdd(y, g.variable('b', zerosInit([options.filters], g.rng, floatOf(x))));
    const act = resolveActivation(options.activation);
    return act ? act(y) : y;
  });
}

export interface PoolOptions {
  name?: string;
  ksize?: number | [number, number];
  strides?: number | [number, number];
  padding?: 'same' | 'valid';
}

const POOL_KEYS = ['name', 'ksize', 'strides', 'padding'];

export function maxPool(x: Node, options: PoolOptions = {}): Node {
  checkOptionKeys('maxPool', options, POOL_KEYS);
  return x.graph.scope(options.name ?? 'maxPool', () =>
    maxPoolOp(x, { ksize: options.ksize ?? 2, strides: options.strides, padding: options.padding ?? 'valid' }),
  );
}

export function avgPool(x: Node, options: PoolOptions = {}): Node {
  checkOptionKeys('avgPool', options, POOL_KEYS);
  return x.graph.scope(options.name ?? 'avgPool', () =>
    avgPoolOp(x, { ksize: options.ksize ?? 2, strides: options.strides, padding: options.padding ?? 'valid' }),
  );
}

export function flatten(x: Node, options: { name?: string } = {}): Node {
  checkOptionKeys('flatten', options, ['name']);
  return x.graph.scope(options.name ?? 'flatten', () => flattenOp(x));
}

export interface BatchNormOptions {
  name?: string;
  /** Running averages: running = momentum·running + (1 − momentum)·batch. */
  momentum?: number;
  epsilon?: number;
}

/** Batch normalization over every axis but the last, with learned scale γ and shift β. */
export function batchNorm(x: Node, options: BatchNormOptions = {}): Node {
  checkOptionKeys('batchNorm', options, ['name', 'momentum', 'epsilon']);
  const g = x.graph;
  return g.scope(options.name ?? 'batchNorm', () => {
    const c = knownDim(x, -1, 'batchNorm');
    const dtype = floatOf(x);
    const gamma = g.variable('gamma', full([c], 1, dtype));
    const beta = g.variable('beta', zeros([c], dtype));
    const runningMean = g.variable('runningMean', zeros([c], dtype), { trainable: false });
    const runningVar = g.variable('runningVar', full([c], 1, dtype), { trainable: false });
    return batchNormOp(x, gamma, beta, runningMean, runningVar, { momentum: options.momentum ?? 0.9, epsilon: options.epsilon ?? 1e-5 });
  });
}

/** Inverted dropout: drops with probability `rate` in training runs, identity in eval runs. */
export function dropout(x: Node, rate: number, options: { name?: string } = {}): Node {
  checkOptionKeys('dropout', options, ['name']);
  return dropoutOp(x, rate, options.name ?? 'dropout'); // the op makes its own `name/mask` and `name/mul`
}

export interface ResidualOptions {
  name?: string;
  /** Initializer of the 1×1 projection used when f(x) changes the channel count. */
  init?: Initializer;
}

/**
 * A residual block: x + f(x). When f changes the number of channels (or
 * features), x goes through a 1×1 convolution (or a dense layer) first, as in
 * He et al. (2016). Spatial size must be kept by f (use 'same' padding).
 */
export function residual(x: Node, f: (x: Node) => Node, options: ResidualOptions = {}): Node {
  checkOptionKeys('residual', options, ['name', 'init']);
  const g = x.graph;
  return g.scope(options.name ?? 'residual', () => {
    const fx = g.scope('branch', () => f(x));
    let shortcut = x;
    const cin = x.shape[x.rank - 1];
    const cout = fx.shape[fx.rank - 1];
    if (fx.rank !== x.rank) throw new ShapeError(`residual: the branch returned ${formatShape(fx.shape)} for input ${formatShape(x.shape)}; ranks must agree`);
    if (x.rank === 4 && (x.shape[1] !== fx.shape[1] || x.shape[2] !== fx.shape[2])) {
      throw new ShapeError(
        `residual: the branch changed the spatial size ${formatShape(x.shape)} → ${formatShape(fx.shape)}; use 'same' padding inside the block`,
      );
    }
    if (cin !== cout) {
      shortcut =
        x.rank === 4
          ? conv2d(x, { name: 'projection', filters: cout, kernelSize: 1, padding: 'same', init: options.init, useBias: false })
          : dense(x, cout, { name: 'projection', init: options.init, useBias: false });
    }
    return add(shortcut, fx);
  });
}

function floatOf(x: Node): 'float32' | 'float64' {
  if (x.dtype === 'int32') throw new ShapeError(`layers need float inputs, found ${x.name} ${x.dtype}`);
  return x.dtype;
}

export type { Graph };
