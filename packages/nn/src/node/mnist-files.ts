/**
 * MNIST from the four IDX files (plain or gzipped) in a directory. Node only.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DataError } from '@ndgraph/graph';
import { parseIdxImages, parseIdxLabels } from '../data/idx.ts';
import type { Dataset } from '../data/dataset.ts';

export const MNIST_FILE_NAMES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

/** The path of `name` or `name.gz` in `dir`, or null when neither exists. */
function findFile(dir: string, name: string): string | null {
  for (const candidate of [join(dir, name), join(dir, `${name}.gz`)]) {
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** The file's bytes, gunzipped when its name ends in .gz. */
function readBytes(path: string): Uint8Array {
  const raw = readFileSync(path);
  if (!path.endsWith('.gz')) return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  try {
    const unzipped = gunzipSync(raw);
    return new Uint8Array(unzipped.buffer, unzipped.byteOffset, unzipped.byteLength);
  } catch (error) {
    throw new DataError(`${path}: expected a gzip file, but it could not be decompressed (${(error as Error).message})`);
  }
}

function loadPair(imagesPath: string, labelsPath: string): Dataset {
  const images = parseIdxImages(readBytes(imagesPath), imagesPath);
  const labels = parseIdxLabels(readBytes(labelsPath), labelsPath);
  if (images.shape[1] !== 28 || images.shape[2] !== 28) {
    throw new DataError(`${imagesPath}: expected 28 x 28 MNIST images, found ${images.shape[1]} x ${images.shape[2]}`);
  }
  if (images.shape[0] !== labels.shape[0]) {
    throw new DataError(
      `count mismatch: ${imagesPath} holds ${images.shape[0]} images but ${labelsPath} holds ${labels.shape[0]} labels; expected the same number`,
    );
  }
  return { images, labels };
}

/**
 * Reads MNIST from `dir`: train-images-idx3-ubyte, train-labels-idx1-ubyte,
 * t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each plain or with `.gz`.
 * Throws DataError listing every missing file, or naming the file that is wrong.
 */
export function loadMnistIdx(dir: string): { train: Dataset; test: Dataset } {
  const names = Object.values(MNIST_FILE_NAMES);
  const paths = names.map((name) => findFile(dir, name));
  const missing = names.filter((_, i) => paths[i] === null);
  if (missing.length > 0) {
    const lookedFor = missing.map((name) => `${name} or ${name}.gz`).join(', ');
    throw new DataError(`MNIST files missing in ${dir}: looked for ${lookedFor}`);
  }
  const [trainImages, trainLabels, testImages, testLabels] = paths as string[];
  return { train: loadPair(trainImages, trainLabels), test: loadPair(testImages, testLabels) };
}
