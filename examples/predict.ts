/**
 * A trained model in a fresh process: load the checkpoint `pnpm train` wrote
 * (or a model file from `saveModel`) and predict. The architecture comes from
 * the file; the loading itself is two lines.
 *
 *   npx tsx examples/predict.ts [runs/lenet5/checkpoint.safetensors] [--index N]
 */
import { parseArgs } from 'node:util';
import { loadEmbeddedMnist, loadModel } from '@ndgraph/nn/node';

const { values, positionals } = parseArgs({ options: { index: { type: 'string' } }, allowPositionals: true });
const net = loadModel(positionals[0] ?? 'runs/lenet5/checkpoint.safetensors');

const { test } = loadEmbeddedMnist({ seed: 0 });
const i = Number(values.index ?? 0);
const image = test.images.pick(i); // one [28, 28, 1] image
const { classes, probabilities } = net.predict(image);
console.log(`model ${net.model.name}: image ${i} is a ${classes[0]} (p = ${probabilities.data[classes[0]].toFixed(4)}), labelled ${test.labels.get(i)}`);
console.log(`on all ${test.labels.shape[0]} test digits: accuracy ${(net.evaluate(test).accuracy * 100).toFixed(2)}%`);
