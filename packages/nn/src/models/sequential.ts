/**
 * The sequential builder, as Keras users expect: a list of layer specs
 * applied one after the other. Each spec is plain JSON, so the list is the
 * model's architecture spec (saved with its weights); the layers are the
 * functional ones, so the graph nodes get the same names as when you call
 * them yourself (`sequential/conv/w`, `sequential/conv_1/w`, ...).
 *
 *   const net = sequential([
 *     seq.conv2d({ filters: 6, kernelSize: 5, padding: 'same' }), seq.relu(), seq.maxPool(2),
 *     seq.flatten(), seq.dense(10),
 *   ]);
 */
import { checkOptionKeys, GraphError, type Node } from '@ndgraph/graph';
import { initializerByName } from '../initializers.ts';
import { type ActivationName, activationByName, avgPool, batchNorm, conv2d, dense, dropout, flatten, maxPool, residual } from '../layers.ts';
import { type Model, model, registerModelKind } from './model.ts';

export type LayerSpec =
  | {
      type: 'conv2d';
      filters: number;
      kernelSize: number | [number, number];
      strides?: number | [number, number];
      padding?: 'same' | 'valid';
      useBias?: boolean;
      activation?: ActivationName;
      init?: string;
      name?: string;
    }
  | { type: 'dense'; units: number; useBias?: boolean; activation?: ActivationName; init?: string; name?: string }
  | { type: 'maxPool' | 'avgPool'; ksize?: number | [number, number]; strides?: number | [number, number]; padding?: 'same' | 'valid'; name?: string }
  | { type: 'flatten'; name?: string }
  | { type: 'dropout'; rate: number; name?: string }
  | { type: 'batchNorm'; momentum?: number; epsilon?: number; name?: string }
  | { type: 'activation'; activation: ActivationName }
  | { type: 'residual'; layers: LayerSpec[]; init?: string; name?: string };

/** Layer specs, written the way Keras users write layers. */
export const seq = {
  conv2d: (o: Omit<Extract<LayerSpec, { type: 'conv2d' }>, 'type'>): LayerSpec => ({ type: 'conv2d', ...o }),
  dense: (units: number, o: Omit<Extract<LayerSpec, { type: 'dense' }>, 'type' | 'units'> = {}): LayerSpec => ({ type: 'dense', units, ...o }),
  maxPool: (ksize: number | [number, number] = 2, o: { strides?: number | [number, number]; padding?: 'same' | 'valid'; name?: string } = {}): LayerSpec => ({
    type: 'maxPool',
    ksize,
    ...o,
  }),
  avgPool: (ksize: number | [number, number] = 2, o: { strides?: number | [number, number]; padding?: 'same' | 'valid'; name?: string } = {}): LayerSpec => ({
    type: 'avgPool',
    ksize,
    ...o,
  }),
  flatten: (): LayerSpec => ({ type: 'flatten' }),
  dropout: (rate: number): LayerSpec => ({ type: 'dropout', rate }),
  batchNorm: (o: { momentum?: number; epsilon?: number; name?: string } = {}): LayerSpec => ({ type: 'batchNorm', ...o }),
  activation: (activation: ActivationName): LayerSpec => ({ type: 'activation', activation }),
  relu: (): LayerSpec => ({ type: 'activation', activation: 'relu' }),
  tanh: (): LayerSpec => ({ type: 'activation', activation: 'tanh' }),
  sigmoid: (): LayerSpec => ({ type: 'activation', activation: 'sigmoid' }),
  residual: (layers: LayerSpec[], o: { init?: string; name?: string } = {}): LayerSpec => ({ type: 'residual', layers, ...o }),
};

const KEYS: Record<LayerSpec['type'], string[]> = {
  conv2d: ['filters', 'kernelSize', 'strides', 'padding', 'useBias', 'activation', 'init', 'name'],
  dense: ['units', 'useBias', 'activation', 'init', 'name'],
  maxPool: ['ksize', 'strides', 'padding', 'name'],
  avgPool: ['ksize', 'strides', 'padding', 'name'],
  flatten: ['name'],
  dropout: ['rate', 'name'],
  batchNorm: ['momentum', 'epsilon', 'name'],
  activation: ['activation'],
  residual: ['layers', 'init', 'name'],
};

/** Applies one layer spec to `x` (`where` names it in errors). */
function applyLayer(x: Node, spec: LayerSpec, where: string): Node {
  if (typeof spec !== 'object' || spec === null || !(spec.type in KEYS)) {
    throw new GraphError(`${where}: expected a layer spec { type: ${Object.keys(KEYS).join(' | ')}, ... }, found ${JSON.stringify(spec)}`);
  }
  const { type, ...options } = spec as LayerSpec & Record<string, unknown>;
  checkOptionKeys(`${where} (${type})`, options, KEYS[type]);
  const init = (name: unknown) => (typeof name === 'string' ? initializerByName(name) : undefined);
  switch (spec.type) {
    case 'conv2d':
      return conv2d(x, {
        name: spec.name,
        filters: spec.filters,
        kernelSize: spec.kernelSize,
        strides: spec.strides,
        padding: spec.padding,
        useBias: spec.useBias,
        activation: spec.activation,
        init: init(spec.init),
      });
    case 'dense':
      return dense(x, spec.units, { name: spec.name, useBias: spec.useBias, activation: spec.activation, init: init(spec.init) });
    case 'maxPool':
      return maxPool(x, { name: spec.name, ksize: spec.ksize, strides: spec.strides, padding: spec.padding });
    case 'avgPool':
      return avgPool(x, { name: spec.name, ksize: spec.ksize, strides: spec.strides, padding: spec.padding });
    case 'flatten':
      return flatten(x, { name: spec.name });
    case 'dropout':
      return dropout(x, spec.rate, { name: spec.name });
    case 'batchNorm':
      return batchNorm(x, { name: spec.name, momentum: spec.momentum, epsilon: spec.epsilon });
    case 'activation':
      return activationByName(spec.activation)(x);
    case 'residual':
      if (!Array.isArray(spec.layers)) throw new GraphError(`${where} (residual): expected layers: LayerSpec[], found ${JSON.stringify(spec.layers)}`);
      return residual(x, (h) => spec.layers.reduce((y, inner, i) => applyLayer(y, inner, `${where}.layers[${i}]`), h), {
        name: spec.name,
        init: init(spec.init),
      });
  }
}

/** A model made of `layers` in order; its spec is `{ kind: 'sequential', name, layers }`. */
export function sequential(layers: LayerSpec[], options: { name?: string } = {}): Model {
  checkOptionKeys('sequential', options, ['name']);
  if (!Array.isArray(layers) || layers.length === 0)
    throw new GraphError(`sequential: expected a non-empty array of layer specs, found ${JSON.stringify(layers)}`);
  const name = options.name ?? 'sequential';
  const copy = JSON.parse(JSON.stringify(layers)) as LayerSpec[];
  return model(name, (inputs) => inputs.graph.scope(name, () => copy.reduce((x, spec, i) => applyLayer(x, spec, `sequential ${name}: layer ${i}`), inputs)), {
    kind: 'sequential',
    name,
    layers: copy,
  });
}

registerModelKind('sequential', (spec) => sequential(spec.layers as LayerSpec[], { name: spec.name as string | undefined }));
