/**
 * A small CNN with batchnorm and a residual block, written as a plain
 * function of graph nodes with the functional layers — the kind of file
 * `pnpm train --model ./examples/models/small-cnn.ts` takes (its default
 * export is the model).
 */
import type { Node } from '@ndgraph/graph';
import { layers, model } from '@ndgraph/nn';
import { relu } from '@ndgraph/ops';

const { batchNorm, conv2d, dense, flatten, maxPool, residual } = layers;

/** conv 3×3 (no bias: batchnorm shifts) → batchnorm, in a scope of its own. */
const convBn = (x: Node, name: string, filters: number) =>
  x.graph.scope(name, () => batchNorm(conv2d(x, { filters, kernelSize: 3, padding: 'same', useBias: false })));

export function smallCnn(images: Node): Node {
  return images.graph.scope('smallCnn', () => {
    let x = maxPool(relu(convBn(images, 'stem', 12)), { ksize: 2 }); // [N, 14, 14, 12]
    x = relu(residual(x, (h) => convBn(relu(convBn(h, 'a', 12)), 'b', 12), { name: 'block' }));
    x = flatten(maxPool(x, { ksize: 2 })); // [N, 7·7·12]
    return dense(x, 10, { name: 'logits' });
  });
}

export default model('small-cnn', smallCnn);
