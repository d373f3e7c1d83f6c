/**
 * What softmaxCrossEntropy and its gradient ops share: the shape rule for
 * logits and labels, the run-time label check, and a stable log-sum-exp.
 * (Internal: not exported from the package.)
 */
import { DataError, DTypeError, ShapeError, formatShape, isFloatDType, type Tensor, type TensorSpec, type TypedArray } from '@ndgraph/graph';
import { dimsAgree, expectFloat, mergeDim } from '../util.ts';

/** Checks logits [N, C] against labels (int32 [N] or float [N, C]) and returns the merged [N, C]. */
export function crossEntropyShape(logits: TensorSpec, labels: TensorSpec): number[] {
  expectFloat(logits, 'logits');
  if (logits.shape.length !== 2) throw new ShapeError(`logits must be [N, C] (rank 2), found ${formatShape(logits.shape)}`);
  const [batch, classes] = logits.shape;
  if (labels.dtype === 'int32') {
    if (labels.shape.length !== 1 || !dimsAgree(labels.shape[0], batch)) {
      throw new ShapeError(
        `int32 labels must be class indices [N] matching logits [N, C]: found labels ${formatShape(labels.shape)} for logits ${formatShape(logits.shape)}`,
      );
    }
    return [mergeDim(batch, labels.shape[0]), classes];
  }
  if (!isFloatDType(labels.dtype) || labels.dtype !== logits.dtype) {
    throw new DTypeError(`labels must be int32 class indices or ${logits.dtype} probabilities like the logits, found ${labels.dtype}`);
  }
  if (labels.shape.length !== 2 || !dimsAgree(labels.shape[0], batch) || !dimsAgree(labels.shape[1], classes)) {
    throw new ShapeError(`float labels must be [N, C] like the logits: found labels ${formatShape(labels.shape)} for logits ${formatShape(logits.shape)}`);
  }
  return [mergeDim(batch, labels.shape[0]), mergeDim(classes, labels.shape[1])];
}

/** dy must be the scalar gradient of the loss. */
export function expectScalarGrad(dy: TensorSpec, logits: TensorSpec): void {
  if (dy.shape.length !== 0) throw new ShapeError(`dy must be the scalar [] gradient of the loss, found ${formatShape(dy.shape)}`);
  if (dy.dtype !== logits.dtype) throw new DTypeError(`dy is ${dy.dtype}, expected ${logits.dtype} like the logits`);
}

/** The class index of row `row`, checked to lie in [0, classes). */
export function classIndex(labels: Tensor, row: number, classes: number): number {
  const label = labels.data[labels.offset + row];
  if (!(label >= 0 && label < classes)) {
    throw new DataError(`label ${label} in row ${row} is not a class index in [0, ${classes})`);
  }
  return label;
}

/** max + log Σ exp(x − max) over `count` values from `start`: log Σ exp(x) without overflow. */
export function logSumExp(x: TypedArray, start: number, count: number): number {
  let max = -Infinity;
  for (let c = 0; c < count; c++) if (x[start + c] > max) max = x[start + c];
  let total = 0;
  for (let c = 0; c < count; c++) total += Math.exp(x[start + c] - max);
  return max + Math.log(total);
}
