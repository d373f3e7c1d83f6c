/**
 * Trains the small CNN with batchnorm and a residual block of
 * examples/models/small-cnn.ts: any function of graph nodes is a model.
 * The Trainer runs batchnorm in training mode on its steps and in eval mode
 * (running statistics) when it evaluates.
 *
 *   npx tsx examples/cnn-bn-res.ts [--train-size N] [--epochs N]
 */
import { parseArgs } from 'node:util';
import { defaultTrainConfig, subset, Trainer } from '@ndgraph/nn';
import { loadEmbeddedMnist } from '@ndgraph/nn/node';
import smallCnn from './models/small-cnn.ts';

const { values } = parseArgs({ options: { 'train-size': { type: 'string' }, epochs: { type: 'string' } } });
const data = loadEmbeddedMnist({ seed: 0 });
const train = subset(data.train, 0, Number(values['train-size'] ?? 8000));
const config = { ...defaultTrainConfig, epochs: Number(values.epochs ?? 3), learningRate: 0.01 };
const trainer = new Trainer(config, { train, test: data.test }, smallCnn);
const batchNorms = trainer.graph.nodes.filter((n) => n.op.name === 'batchNorm').length;
console.log(`model ${trainer.model.name}: ${trainer.parameters.length} trainable variables, ${batchNorms} batchnorm layers`);
for (let e = 0; e < config.epochs; e++) {
  const info = trainer.trainEpoch();
  console.log(`epoch ${info.epoch}: train loss ${info.trainLoss.toFixed(4)}, test accuracy ${(info.testAccuracy * 100).toFixed(2)}%`);
}
