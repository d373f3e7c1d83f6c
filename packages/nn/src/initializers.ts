/**
 * Weight initializers. Each one is a function `(shape, rng, dtype?) => Tensor`
 * that draws every value from the seeded generator, so the same seed gives the
 * same tensor bit for bit.
 *
 * Fans (how many inputs feed one output unit, and how many outputs one input reaches):
 *   dense weight [in, out]            fanIn = in,           fanOut = out
 *   conv filter  [kh, kw, cin, cout]  fanIn = kh·kw·cin,    fanOut = kh·kw·cout
 *   (any rank ≥ 3: the leading dims form the receptive field, the last two are in/out channels)
 *   1-D [n] or a scalar               fanIn = fanOut = size
 *
 * The "normal" initializers draw from a plain (not truncated) normal
 * distribution. The "uniform" ones draw from [-limit, limit), with the limit
 * chosen so the variance matches the normal variant: Var(U[-a, a]) = a²/3.
 *
 *   heNormal        std   = √(2 / fanIn)              (He et al. 2015, a.k.a. MSRA; for ReLU nets)
 *   heUniform       limit = √(6 / fanIn)
 *   xavierNormal    std   = √(2 / (fanIn + fanOut))   (Glorot & Bengio 2010; glorotNormal is the same)
 *   xavierUniform   limit = √(6 / (fanIn + fanOut))
 *   lecunNormal     std   = √(1 / fanIn)              (LeCun et al. 1998)
 *   lecunUniform    limit = √(3 / fanIn)
 */
import { type DType, type Rng, type Tensor, GraphError, ShapeError, formatShape, shapeSize, zeros as zeroTensor } from '@ndgraph/graph';

export type FloatDType = 'float32' | 'float64';

/** Makes a tensor of the given shape, drawing any random values from `rng`. */
export type Initializer = (shape: readonly number[], rng: Rng, dtype?: FloatDType) => Tensor;

export interface Fans {
  fanIn: number;
  fanOut: number;
}

/** The fan-in and fan-out of a weight of this shape (see the table at the top of the file). */
export function computeFans(shape: readonly number[]): Fans {
  if (shape.length <= 1) {
    const size = shapeSize(shape);
    return { fanIn: size, fanOut: size };
  }
  let receptiveField = 1;
  for (let i = 0; i < shape.length - 2; i++) receptiveField *= shape[i];
  return { fanIn: receptiveField * shape[shape.length - 2], fanOut: receptiveField * shape[shape.length - 1] };
}

function checkShape(shape: readonly number[], who: string): void {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new ShapeError(`${who}: expected a concrete shape of non-negative integers, found ${formatShape(shape)}`);
  }
}

/** A tensor whose elements are `draw()` in row-major order. */
function fill(shape: readonly number[], dtype: DType, draw: () => number): Tensor {
  const t = zeroTensor(shape, dtype);
  const data = t.data;
  for (let i = 0; i < data.length; i++) data[i] = draw();
  return t;
}

/** A fan of zero only happens for a tensor with no elements; avoid dividing by it. */
const atLeastOne = (fan: number) => Math.max(1, fan);

function normalWithStd(who: string, stdOf: (fans: Fans) => number): Initializer {
  return (shape, rng, dtype = 'float32') => {
    checkShape(shape, who);
    const std = stdOf(computeFans(shape));
    return fill(shape, dtype, () => std * rng.normal());
  };
}

function uniformWithLimit(who: string, limitOf: (fans: Fans) => number): Initializer {
  return (shape, rng, dtype = 'float32') => {
    checkShape(shape, who);
    const limit = limitOf(computeFans(shape));
    // uniform() is in [0, 1), so this is in [-limit, limit).
    return fill(shape, dtype, () => (2 * rng.uniform() - 1) * limit);
  };
}

export const heNormal: Initializer = normalWithStd('heNormal', ({ fanIn }) => Math.sqrt(2 / atLeastOne(fanIn)));
export const heUniform: Initializer = uniformWithLimit('heUniform', ({ fanIn }) => Math.sqrt(6 / atLeastOne(fanIn)));
export const xavierNormal: Initializer = normalWithStd('xavierNormal', ({ fanIn, fanOut }) => Math.sqrt(2 / atLeastOne(fanIn + fanOut)));
export const xavierUniform: Initializer = uniformWithLimit('xavierUniform', ({ fanIn, fanOut }) => Math.sqrt(6 / atLeastOne(fanIn + fanOut)));
export const glorotNormal: Initializer = xavierNormal;
export const glorotUniform: Initializer = xavierUniform;
export const lecunNormal: Initializer = normalWithStd('lecunNormal', ({ fanIn }) => Math.sqrt(1 / atLeastOne(fanIn)));
export const lecunUniform: Initializer = uniformWithLimit('lecunUniform', ({ fanIn }) => Math.sqrt(3 / atLeastOne(fanIn)));

/** Plain normal with a fixed standard deviation (and mean), whatever the shape. */
export function normal(std: number, mean = 0): Initializer {
  if (!(Number.isFinite(std) && std >= 0) || !Number.isFinite(mean)) {
    throw new RangeError(`normal: expected a finite std ≥ 0 and a finite mean, found std ${std}, mean ${mean}`);
  }
  return (shape, rng, dtype = 'float32') => {
    checkShape(shape, 'normal');
    return fill(shape, dtype, () => mean + std * rng.normal());
  };
}

/** Uniform in [-limit, limit) with a fixed limit, whatever the shape. */
export function uniform(limit: number): Initializer {
  if (!(Number.isFinite(limit) && limit >= 0)) throw new RangeError(`uniform: expected a finite limit ≥ 0, found ${limit}`);
  return uniformWithLimit('uniform', () => limit);
}

/** Every element equal to `value`; draws nothing from the generator. */
export function constant(value: number): Initializer {
  return (shape, _rng, dtype = 'float32') => {
    checkShape(shape, 'constant');
    const t = zeroTensor(shape, dtype);
    t.data.fill(value);
    return t;
  };
}

export const zeros: Initializer = constant(0);
export const ones: Initializer = constant(1);

const NAMED: Record<string, Initializer> = {
  he: heNormal,
  'he-normal': heNormal,
  msra: heNormal,
  'he-uniform': heUniform,
  'msra-uniform': heUniform,
  xavier: xavierNormal,
  'xavier-normal': xavierNormal,
  glorot: xavierNormal,
  'glorot-normal': xavierNormal,
  'xavier-uniform': xavierUniform,
  'glorot-uniform': xavierUniform,
  lecun: lecunNormal,
  'lecun-normal': lecunNormal,
  'lecun-uniform': lecunUniform,
  zeros,
  ones,
};

/** The names `initializerByName` accepts, for error messages and help text. */
export const INITIALIZER_NAMES: readonly string[] = [...Object.keys(NAMED), 'normal:<std>', 'uniform:<limit>', 'constant:<value>'];

/**
 * An initializer from its name: 'he' | 'msra' | 'he-uniform' | 'xavier' | 'glorot' |
 * 'xavier-uniform' | 'lecun' | 'lecun-uniform' | 'zeros' | 'ones', or a
 * parameterized one: 'normal:0.01' (std), 'uniform:0.05' (limit), 'constant:0.1'.
 */
export function initializerByName(name: string): Initializer {
  const key = name.trim().toLowerCase();
  if (Object.hasOwn(NAMED, key)) return NAMED[key];
  const colon = key.indexOf(':');
  if (colon > 0) {
    const kind = key.slice(0, colon);
    const text = key.slice(colon + 1).trim();
    const value = text === '' ? NaN : Number(text);
    if (kind === 'normal' || kind === 'uniform' || kind === 'constant') {
      if (!Number.isFinite(value)) throw new GraphError(`initializer '${name}': expected a number after '${kind}:', found '${text}'`);
      if (kind === 'normal') return normal(value);
      if (kind === 'uniform') return uniform(value);
      return constant(value);
    }
  }
  throw new GraphError(`unknown initializer '${name}'; expected one of: ${INITIALIZER_NAMES.join(', ')}`);
}
