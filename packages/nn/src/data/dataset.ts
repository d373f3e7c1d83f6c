/**
 * A labelled image dataset: images NHWC in [0, 1], one int32 class label per image.
 * Browser-safe (no Node modules).
 */
import { DataError, copyTensor, dtypeOf, isContiguous, newTypedArray, wrap, type Tensor } from '@ndgraph/graph';

export interface Dataset {
  /** [N, 28, 28, 1] float32 in [0, 1], NHWC. */
  images: Tensor;
  /** [N] int32 class labels (0..9 for MNIST). */
  labels: Tensor;
}

/** Number of examples. */
export function datasetSize(ds: Dataset): number {
  return ds.labels.shape[0];
}

/** Number of values in one example image (28 * 28 * 1 for MNIST). */
export function exampleSize(ds: Dataset): number {
  return ds.images.shape.slice(1).reduce((a, b) => a * b, 1);
}

/** Row-major contiguous version of a tensor (the tensor itself when it already is). */
function contiguous(t: Tensor): Tensor {
  return isContiguous(t) ? t : copyTensor(t);
}

/** Checks that images and labels describe the same number of examples. */
export function checkDataset(ds: Dataset, what = 'dataset'): void {
  if (ds.labels.shape.length !== 1) throw new DataError(`${what}: expected labels of shape [N], found [${ds.labels.shape.join(',')}]`);
  if (ds.images.shape[0] !== ds.labels.shape[0]) {
    throw new DataError(`${what}: expected as many labels as images, found ${ds.images.shape[0]} images and ${ds.labels.shape[0]} labels`);
  }
  if (dtypeOf(ds.labels) !== 'int32') throw new DataError(`${what}: expected int32 labels, found ${dtypeOf(ds.labels)}`);
}

/**
 * Examples start .. start+count-1 as views on the same buffers (no copy):
 * changing the subset's values changes the original.
 */
export function subset(ds: Dataset, start: number, count: number): Dataset {
  const n = datasetSize(ds);
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > n) {
    throw new DataError(`subset: expected 0 <= start and start + count <= ${n} (whole integers), found start ${start}, count ${count}`);
  }
  const images = contiguous(ds.images);
  const labels = contiguous(ds.labels);
  const perImage = exampleSize(ds);
  return {
    images: wrap(images.data, [count, ...images.shape.slice(1)], images.offset + start * perImage),
    labels: wrap(labels.data, [count], labels.offset + start),
  };
}

/** A new dataset holding copies of the examples at `indices`, in that order. */
export function gatherExamples(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const n = datasetSize(ds);
  const images = contiguous(ds.images);
  const labels = contiguous(ds.labels);
  const perImage = exampleSize(ds);
  const imageData = newTypedArray(dtypeOf(images), indices.length * perImage);
  const labelData = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= n) throw new DataError(`gatherExamples: index ${k} is ${i}, expected a whole number in 0..${n - 1}`);
    const from = images.offset + i * perImage;
    for (let p = 0; p < perImage; p++) imageData[k * perImage + p] = images.data[from + p];
    labelData[k] = labels.data[labels.offset + i];
  }
  return {
    images: wrap(imageData, [indices.length, ...images.shape.slice(1)]),
    labels: wrap(labelData, [indices.length]),
  };
}
