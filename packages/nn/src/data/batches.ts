/**
 * Mini-batches over one epoch of a dataset, in a seeded shuffled order.
 * Browser-safe.
 */
import { DataError, copyTensor, dtypeOf, isContiguous, newTypedArray, wrap, type Rng, type Tensor } from '@ndgraph/graph';
import { datasetSize, exampleSize, type Dataset } from './dataset.ts';

export interface Batch {
  /** [size, ...image shape], a view on a buffer reused by the next batch. */
  images: Tensor;
  /** [size] int32, a view on a buffer reused by the next batch. */
  labels: Tensor;
  /** Number of examples in this batch (batchSize, or fewer for the last one). */
  size: number;
}

export interface BatchOptions {
  /** Visit the examples in a random order drawn from `rng` (default true); otherwise in dataset order. */
  shuffle?: boolean;
}

/**
 * One epoch of mini-batches. Every example is visited exactly once; the last
 * batch holds the remainder (it is used, not dropped) when the dataset size is
 * not a multiple of `batchSize`.
 *
 * The order is a Fisher–Yates shuffle drawn from `rng` at the moment
 * `batches()` is called (not lazily on the first `next()`), so the generator's
 * state right after the call is the state to save in a checkpoint.
 *
 * Buffers are allocated once per call and reused: a yielded batch (and its
 * tensors) is valid only until the next one is requested. Copy it if you need
 * to keep it. Training therefore allocates nothing per step.
 */
export function batches(ds: Dataset, batchSize: number, rng: Rng | null, options: BatchOptions = {}): IterableIterator<Batch> {
  const { shuffle = true } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new DataError(`batches: expected a whole batch size >= 1, found ${batchSize}`);
  const n = datasetSize(ds);
  if (ds.images.shape[0] !== n) throw new DataError(`batches: expected as many images as labels, found ${ds.images.shape[0]} images and ${n} labels`);

  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (shuffle) {
    if (!rng) throw new DataError('batches: shuffle is on but no Rng was given (pass an Rng, or { shuffle: false })');
    rng.shuffle(order);
  }
  return iterateBatches(ds, Math.min(batchSize, Math.max(n, 1)), order);
}

function* iterateBatches(ds: Dataset, batchSize: number, order: Int32Array): Generator<Batch, void, undefined> {
  const images = isContiguous(ds.images) ? ds.images : copyTensor(ds.images);
  const labels = isContiguous(ds.labels) ? ds.labels : copyTensor(ds.labels);
  const imageShape = images.shape.slice(1);
  const perImage = exampleSize(ds);
  const n = order.length;

  const imageBuffer = newTypedArray(dtypeOf(images), batchSize * perImage);
  const labelBuffer = new Int32Array(batchSize);
  const full: Batch = { images: wrap(imageBuffer, [batchSize, ...imageShape]), labels: wrap(labelBuffer, [batchSize]), size: batchSize };

  const src = images.data;
  const srcLabels = labels.data;
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    for (let k = 0; k < size; k++) {
      const example = order[start + k];
      const from = images.offset + example * perImage;
      const to = k * perImage;
      for (let p = 0; p < perImage; p++) imageBuffer[to + p] = src[from + p];
      labelBuffer[k] = srcLabels[labels.offset + example];
    }
    // Only the last, partial batch needs views of a smaller shape (made once).
    yield size === batchSize ? full : { images: wrap(imageBuffer, [size, ...imageShape]), labels: wrap(labelBuffer, [size]), size };
  }
}

/** Number of batches in one epoch (the last partial batch counts). */
export function batchCount(datasetLength: number, batchSize: number): number {
  return Math.ceil(datasetLength / batchSize);
}
