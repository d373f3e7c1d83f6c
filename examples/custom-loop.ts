/**
 * A training loop written by hand, the way a PyTorch loop reads: build the
 * graph, then for each batch one `step` (forward, backward and the optimizer
 * update), then evaluate. No Trainer involved.
 *
 *   npx tsx examples/custom-loop.ts [--epochs N]
 */
import { parseArgs } from 'node:util';
import { Graph, Rng } from '@ndgraph/graph';
import { batches, crossEntropyLoss, evaluateWith, layers, momentum, trainingStep } from '@ndgraph/nn';
import { loadEmbeddedMnist } from '@ndgraph/nn/node';

const { values } = parseArgs({ options: { epochs: { type: 'string' } } });
const { train, test } = loadEmbeddedMnist({ trainSize: 4000, testSize: 1000, seed: 0 });

const g = new Graph({ seed: 0 });
const images = g.placeholder('images', [-1, 28, 28, 1]);
const labels = g.placeholder('labels', [-1], 'int32');
const logits = layers.dense(layers.dense(layers.flatten(images), 128, { activation: 'relu' }), 10);
const step = trainingStep(crossEntropyLoss(logits, labels), momentum({ learningRate: 0.05 }));

const rng = new Rng(1);
for (let epoch = 1; epoch <= Number(values.epochs ?? 2); epoch++) {
  let last = 0;
  for (const batch of batches(train, 64, rng)) last = step({ images: batch.images, labels: batch.labels });
  const { accuracy } = evaluateWith(step.session, images, logits, test);
  console.log(`epoch ${epoch}: last batch loss ${last.toFixed(4)}, test accuracy ${(accuracy * 100).toFixed(2)}%`);
}
