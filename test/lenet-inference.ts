/** LeNet-5's inference on the wasm backend, for the tests of the conv → relu → pool fusion. */
import { Graph, Session, toArray } from '@ndgraph/graph';
import { lenet5 } from '@ndgraph/nn';
import { randomTensor } from './helpers.ts';

/**
 * A fresh LeNet-5 graph and a batch of random images; the returned function
 * infers them in a new session (fusion on unless `fusion` is false) and gives
 * the logits and the ops that ran, in order.
 */
export function lenetInference(batch: number, seed: number): (fusion?: boolean) => { values: number[]; ops: string[] } {
  const g = new Graph();
  const x = g.placeholder('x', [-1, 28, 28, 1], 'float32');
  const logits = lenet5(x);
  const images = randomTensor([batch, 28, 28, 1], seed, 0, 1, 'float32');
  return (fusion = true) => {
    const ops: string[] = [];
    const out = new Session(g, { backend: 'wasm', fusion }).run(logits, [[x, images]], { onTime: (_node, _ms, op) => ops.push(op.name) });
    return { values: toArray(out), ops };
  };
}
