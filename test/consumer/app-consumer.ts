// (b) A TypeScript consumer of the packed packages, type-checked with a default strict config.
import { Graph, gradients, Session, type Node, type Tensor, tensor } from '@ndgraph/graph';
import { defaultTrainConfig, layers, type Model, model, seq, sequential, Trainer } from '@ndgraph/nn';
import { loadModel } from '@ndgraph/nn/node';
import { matmul, relu, softmaxCrossEntropy } from '@ndgraph/ops';
import { enableWasmThreads } from '@ndgraph/ops/node';

const g = new Graph({ seed: 0 });
const x: Node = g.placeholder('x', [-1, 4]);
const w = g.variable(
  'w',
  tensor([
    [1, 0],
    [0, 1],
    [1, 1],
    [0, 0],
  ]),
);
const labels = g.placeholder('labels', [-1], 'int32');
const loss = softmaxCrossEntropy(relu(matmul(x, w)), labels);
const [dw] = gradients(loss, [w]);
const out: Tensor = new Session(g).run(dw, { x: tensor([[1, 2, 3, 4]]), labels: tensor([1], [1], 'int32') });
const net: Model = model('mine', (images) => layers.dense(layers.flatten(images), 10));
const seqNet: Model = sequential([seq.flatten(), seq.dense(10)]);
const threads: number = enableWasmThreads(1);
export { defaultTrainConfig, loadModel, net, out, seqNet, threads, Trainer };
