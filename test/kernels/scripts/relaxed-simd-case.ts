/** The products test/kernels/relaxed-simd.test.ts compares: a LeNet-sized conv2d with bias and relu, and a matmul, on seeded inputs. */
import { Graph, Session, toArray } from '@ndgraph/graph';
import { biasAdd, conv2d, matmul, relu } from '@ndgraph/ops';
import { randomTensor } from '../../helpers.ts';

export function relaxedSimdCase(backend: 'wasm' | 'js'): number[][] {
  const g = new Graph({ backend });
  const x = g.constant(randomTensor([8, 14, 14, 6], 1, -1, 1, 'float32'));
  const w = g.constant(randomTensor([5, 5, 6, 16], 2, -0.3, 0.3, 'float32'));
  const b = g.constant(randomTensor([16], 3, -0.1, 0.1, 'float32'));
  const a = g.constant(randomTensor([64, 400], 4, -1, 1, 'float32'));
  const m = g.constant(randomTensor([400, 120], 5, -0.1, 0.1, 'float32'));
  return new Session(g, { backend }).run([relu(biasAdd(conv2d(x, w, { padding: 'valid' }), b)), matmul(a, m)]).map(toArray);
}
