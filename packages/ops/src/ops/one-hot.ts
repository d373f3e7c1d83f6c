/**
 * oneHot(labels, depth): int32 [N] class indices → float [N, depth] with a 1
 * at each label's column. Labels are not differentiable: the gradient is null.
 * A label outside [0, depth) is an error at run time naming its row.
 */
import { defineOp, DTypeError, ShapeError, formatShape, type Node } from '@ndgraph/graph';

export interface OneHotAttrs {
  depth: number;
  dtype: 'float32' | 'float64';
}

export const oneHotOp = defineOp<OneHotAttrs>({
  name: 'oneHot',
  arity: 1,
  inferShape([labels], { depth, dtype }) {
    if (labels.dtype !== 'int32') throw new DTypeError(`labels must be int32 class indices, found ${labels.dtype}`);
    if (labels.shape.length !== 1) throw new ShapeError(`labels must be 1-D [batch], found ${formatShape(labels.shape)}`);
    if (!Number.isInteger(depth) || depth < 1) throw new ShapeError(`depth must be a positive integer, found ${depth}`);
    return { shape: [labels.shape[0], depth], dtype };
  },
  forward([labels], { depth }, ctx) {
    const out = ctx.outputZeros();
    for (let row = 0; row < labels.size; row++) {
      const c = labels.data[labels.offset + row];
      if (!(c >= 0 && c < depth)) throw new ShapeError(`label ${c} in row ${row} is outside [0, ${depth})`);
      out.data[row * depth + c] = 1;
    }
    return out;
  },
  grad: () => [null],
});

export const oneHot = (labels: Node, depth: number, dtype: 'float32' | 'float64' = 'float32', name?: string): Node =>
  oneHotOp([labels], { depth, dtype }, { name });
