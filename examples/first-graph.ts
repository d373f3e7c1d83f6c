/** The README's first graph, runnable: `npx tsx examples/first-graph.ts`. */
import { Graph, Session, gradients, tensor, toArray } from '@ndgraph/graph';
import { matmul, biasAdd, relu, softmaxCrossEntropy } from '@ndgraph/ops';

const g = new Graph({ seed: 0 });
const x = g.placeholder('x', [-1, 4]); // -1: batch size known at run time
const labels = g.placeholder('labels', [-1], 'int32');
const w = g.variable(
  'w',
  tensor([
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
    [1, 1, 1],
  ]),
);
const b = g.variable('b', tensor([0, 0, 0]));
const logits = g.scope('layer', () => relu(biasAdd(matmul(x, w), b))); // named layer/relu
const loss = softmaxCrossEntropy(logits, labels);
const [dw, db] = gradients(loss, [w, b]); // gradient *nodes*

const session = new Session(g);
const { lossValue, dwValue, dbValue } = session.run(
  { lossValue: loss, dwValue: dw, dbValue: db },
  { x: tensor([[1, 2, 3, 4]]), labels: tensor([2], [1], 'int32') },
);
console.log(`${logits.name}: ${logits.shape}; ${dw.name}: ${dw.shape}`);
console.log('loss', lossValue.data[0]);
console.log('dL/dw', toArray(dwValue));
console.log('dL/db', toArray(dbValue));
