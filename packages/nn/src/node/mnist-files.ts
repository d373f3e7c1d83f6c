/**
 * MNIST from the four IDX files (plain or gzipped) in a directory. Node only.
 */
import { existsSync, readFileSync, type Stats, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, constants as zlibConstants } from 'node:zlib';
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

/** Bytes per element of each IDX element type. */
const IDX_ELEMENT_BYTES: Record<number, number> = { 0x08: 1, 0x09: 1, 0x0b: 2, 0x0c: 4, 0x0d: 4, 0x0e: 8 };
/** No IDX file of ours is larger than this (MNIST's largest is 47 MB). */
const IDX_MAX_BYTES = 2 ** 31;

/** The total size an IDX file declares in its header (magic, dims, data), or a DataError naming the path. */
function idxDeclaredBytes(header: Uint8Array, path: string): number {
  if (header.length < 4 || header[0] !== 0 || header[1] !== 0 || !(header[2] in IDX_ELEMENT_BYTES) || header[3] < 1 || header[3] > 4) {
    throw new DataError(`${path}: expected an IDX file (magic 0x0000 TT DD at byte offset 0), found bytes ${Array.from(header.subarray(0, 4)).join(' ')}`);
  }
  const dims = header[3];
  if (header.length < 4 + 4 * dims)
    throw new DataError(`${path}: the IDX header is cut short: ${dims} dimensions need ${4 + 4 * dims} bytes, found ${header.length}`);
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  let count = 1;
  for (let d = 0; d < dims; d++) count *= view.getUint32(4 + 4 * d);
  const total = 4 + 4 * dims + count * IDX_ELEMENT_BYTES[header[2]];
  if (total > IDX_MAX_BYTES) throw new DataError(`${path}: the IDX header declares ${total} bytes, more than the ${IDX_MAX_BYTES} this loader reads`);
  return total;
}

/**
 * The file's bytes, gunzipped when its name ends in .gz. Refuses what is not a
 * regular file (a FIFO, a device such as /dev/zero) before reading, checks a
 * plain file's size against its header, and decompresses a .gz file only up
 * to the size its header declares.
 */
function readBytes(path: string): Uint8Array {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (error) {
    throw new DataError(`${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (!stats.isFile()) {
    const kind = stats.isFIFO() ? 'a FIFO' : stats.isCharacterDevice() ? 'a character device' : stats.isDirectory() ? 'a directory' : 'not a regular file';
    throw new DataError(`${path}: expected a regular file, found ${kind}`);
  }
  if (stats.size > IDX_MAX_BYTES) throw new DataError(`${path}: the file is ${stats.size} bytes, more than the ${IDX_MAX_BYTES} this loader reads`);
  const raw = readFileSync(path);
  if (!path.endsWith('.gz')) {
    const declared = idxDeclaredBytes(raw.subarray(0, 20), path);
    if (raw.length !== declared) throw new DataError(`${path}: the IDX header declares ${declared} bytes, but the file holds ${raw.length}`);
    return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  }
  try {
    // The header first, from a prefix of the stream; then the whole file, no larger than the header says.
    const head = gunzipSync(raw.subarray(0, Math.min(raw.length, 4096)), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    const declared = idxDeclaredBytes(head.subarray(0, 20), path);
    const unzipped = gunzipSync(raw, { maxOutputLength: declared });
    return new Uint8Array(unzipped.buffer, unzipped.byteOffset, unzipped.byteLength);
  } catch (error) {
    if (error instanceof DataError) throw error;
    if (error instanceof RangeError || (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new DataError(`${path}: decompresses to more bytes than its IDX header declares; refused`);
    }
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
