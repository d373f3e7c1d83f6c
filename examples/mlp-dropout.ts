/**
 * A multilayer perceptron with dropout, built with the sequential builder,
 * trained by the Trainer, evaluated, and saved with its architecture spec.
 *
 *   npx tsx examples/mlp-dropout.ts [--train-size N] [--epochs N] [--out runs/mlp-dropout]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultTrainConfig, seq, sequential, subset, Trainer } from '@ndgraph/nn';
import { loadEmbeddedMnist, saveModel } from '@ndgraph/nn/node';

const { values } = parseArgs({ options: { 'train-size': { type: 'string' }, epochs: { type: 'string' }, out: { type: 'string' } } });
const data = loadEmbeddedMnist({ seed: 0 });
const train = subset(data.train, 0, Number(values['train-size'] ?? 8000));

// flatten → 256 relu → dropout 0.2 → 128 relu → dropout 0.2 → 10 logits
const net = sequential(
  [seq.flatten(), seq.dense(256, { activation: 'relu' }), seq.dropout(0.2), seq.dense(128, { activation: 'relu' }), seq.dropout(0.2), seq.dense(10)],
  { name: 'mlp' },
);

const trainer = new Trainer({ ...defaultTrainConfig, epochs: Number(values.epochs ?? 4) }, { train, test: data.test }, net);
for (let e = 0; e < trainer.config.epochs; e++) {
  const info = trainer.trainEpoch();
  console.log(`epoch ${info.epoch}: train loss ${info.trainLoss.toFixed(4)}, test accuracy ${(info.testAccuracy * 100).toFixed(2)}%`);
}
const out = join(values.out ?? join('runs', 'mlp-dropout'), 'model.safetensors');
saveModel(out, trainer.graph, trainer.model, { inputShape: [28, 28, 1], classes: trainer.classes });
console.log(`architecture: ${JSON.stringify(net.spec)}`);
console.log(`saved ${out}`);
