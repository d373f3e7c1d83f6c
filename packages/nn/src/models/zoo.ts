/**
 * The named built-in models, each a `Model` with a JSON spec (so a saved
 * model rebuilds from its file), and `modelByName` for the CLI:
 *
 *   lenet5       LeNet-5 (models/lenet.ts), with its options
 *   mlp          flatten → dense+act (+dropout) for each hidden width → dense(classes)
 *   cnn-bn-res   a small CNN with batchnorm and a residual block:
 *                conv 3×3×16 → bn → relu → maxpool 2 → residual(conv 3×3 → bn → relu → conv 3×3 → bn) → relu
 *                → maxpool 2 → flatten → dense(classes)
 */
import { checkOptionKeys, GraphError } from '@ndgraph/graph';
import { initializerByName } from '../initializers.ts';
import { type ActivationName, activationByName, batchNorm, conv2d, dense, dropout, flatten, maxPool, residual } from '../layers.ts';
import { type LeNetOptions, lenet5 } from './lenet.ts';
import { type Model, model, registerModelKind } from './model.ts';

/** LeNet-5's options as JSON: the activation and initializer by name. */
export type LeNetSpecOptions = Omit<LeNetOptions, 'activation' | 'init'> & { activation?: ActivationName; init?: string };

/** LeNet-5 as a Model. A function activation (a custom op) is allowed; the model then has no spec. */
export function lenet5Model(options: LeNetSpecOptions | LeNetOptions = {}): Model {
  const { init, ...rest } = options as LeNetOptions & { init?: unknown };
  const initializer = typeof init === 'string' ? initializerByName(init) : (init as LeNetOptions['init']);
  const build = (x: Parameters<typeof lenet5>[0]) => lenet5(x, { ...rest, init: initializer });
  const json = typeof rest.activation !== 'function' && (init === undefined || typeof init === 'string');
  return model('lenet5', build, json ? { kind: 'lenet5', options: JSON.parse(JSON.stringify(options)) } : undefined);
}

export interface MlpOptions {
  /** Widths of the hidden layers. Default [256, 128]. */
  hidden?: number[];
  activation?: ActivationName;
  /** Dropout rate after each hidden layer (0 = none). */
  dropout?: number;
  classes?: number;
  init?: string;
}

export function mlp(options: MlpOptions = {}): Model {
  checkOptionKeys('mlp', options, ['hidden', 'activation', 'dropout', 'classes', 'init']);
  const hidden = options.hidden ?? [256, 128];
  if (!Array.isArray(hidden) || !hidden.every((w) => Number.isInteger(w) && w > 0)) {
    throw new GraphError(`mlp: expected hidden to be an array of positive integers, found ${JSON.stringify(options.hidden)}`);
  }
  const act = activationByName(options.activation ?? 'relu');
  const init = initializerByName(options.init ?? 'he');
  const build = (x: Parameters<typeof flatten>[0]) =>
    x.graph.scope('mlp', () => {
      let h = x.rank > 2 ? flatten(x) : x;
      hidden.forEach((units, i) => {
        h = x.graph.scope(`hidden${i + 1}`, () => {
          const y = act(dense(h, units, { init }));
          return options.dropout ? dropout(y, options.dropout) : y;
        });
      });
      return dense(h, options.classes ?? 10, { name: 'logits', init });
    });
  return model('mlp', build, { kind: 'mlp', options: JSON.parse(JSON.stringify(options)) });
}

export interface CnnBnResOptions {
  /** Channels of the convolutions. Default 16. */
  channels?: number;
  classes?: number;
  init?: string;
}

export function cnnBnRes(options: CnnBnResOptions = {}): Model {
  checkOptionKeys('cnn-bn-res', options, ['channels', 'classes', 'init']);
  const c = options.channels ?? 16;
  const init = initializerByName(options.init ?? 'he');
  const relu = activationByName('relu');
  const convBn = (x: Parameters<typeof conv2d>[0], name: string) =>
    x.graph.scope(name, () => batchNorm(conv2d(x, { filters: c, kernelSize: 3, padding: 'same', useBias: false, init })));
  const build = (x: Parameters<typeof conv2d>[0]) =>
    x.graph.scope('cnn', () => {
      let h = maxPool(relu(convBn(x, 'block1')), { ksize: 2 });
      h = relu(residual(h, (r) => convBn(relu(convBn(r, 'a')), 'b'), { name: 'res', init }));
      h = flatten(maxPool(h, { ksize: 2 }));
      return dense(h, options.classes ?? 10, { name: 'logits', init });
    });
  return model('cnn-bn-res', build, { kind: 'cnn-bn-res', options: JSON.parse(JSON.stringify(options)) });
}

const BUILT_INS: Record<string, (options: object) => Model> = {
  lenet5: (o) => lenet5Model(o as LeNetSpecOptions),
  mlp: (o) => mlp(o as MlpOptions),
  'cnn-bn-res': (o) => cnnBnRes(o as CnnBnResOptions),
};

export const MODEL_NAMES = Object.keys(BUILT_INS);

/** A built-in model by name, with its options. */
export function modelByName(name: string, options: object = {}): Model {
  const make = BUILT_INS[name];
  if (!make) throw new GraphError(`unknown model '${name}'; expected one of ${MODEL_NAMES.join(', ')} (or a file exporting a model)`);
  return make(options);
}

for (const kind of MODEL_NAMES) registerModelKind(kind, (spec) => modelByName(kind, (spec.options as object) ?? {}));
