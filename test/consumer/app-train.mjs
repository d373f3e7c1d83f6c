// (a) A plain Node ESM consumer of the packed packages: a tiny model trained on synthetic data.
import { tensor } from '@ndgraph/graph';
import { defaultTrainConfig, fit, seq, sequential } from '@ndgraph/nn';

const n = 256;
const images = new Float32Array(n * 16);
const labels = new Int32Array(n);
for (let i = 0; i < n; i++) {
  labels[i] = i % 4;
  for (let j = 0; j < 16; j++) images[i * 16 + j] = (j % 4 === labels[i] ? 1 : 0) + 0.1 * Math.sin(i + j);
}
const data = { images: tensor(images, [n, 4, 4, 1]), labels: tensor(labels, [n], 'int32') };
const net = sequential([seq.flatten(), seq.dense(16, { activation: 'relu' }), seq.dense(4)]);
const { epochs } = fit(net, { train: data, test: data }, { ...defaultTrainConfig, epochs: 3, batchSize: 32 });
const report = { losses: epochs.map((e) => e.trainLoss), accuracy: epochs[2].testAccuracy };
if (typeof process !== 'undefined' && process.versions?.node) console.log(JSON.stringify(report));
else globalThis.ndgraphResult = report;
