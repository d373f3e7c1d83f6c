/**
 * A custom op from definition to training — the program behind
 * `pnpm example:custom-op`, walked through in docs/custom-ops.md.
 *
 *   1. check swish's gradient rule against finite differences (float64);
 *   2. train LeNet-5 with swish in place of relu for a few steps;
 *   3. look at the swish nodes and their gradients in the inspector;
 *   4. see which kernels a training and an evaluation run plan (the fusion rule).
 *
 *   pnpm example:custom-op               # 20 steps of 32 images
 *   pnpm example:custom-op --steps 3     # quicker (the test suite runs this)
 */
import { parseArgs } from 'node:util';
import { formatReport, gradcheck, inspectRun, type Node, tensor } from '@ndgraph/graph';
import { Trainer, defaultTrainConfig } from '@ndgraph/nn';
import { loadEmbeddedMnist } from '@ndgraph/nn/node';
import { swish } from './swish.ts';

const { values } = parseArgs({ options: { steps: { type: 'string' }, 'batch-size': { type: 'string' } } });
const steps = Number(values.steps ?? process.env.CUSTOM_OP_STEPS ?? 20);
const batchSize = Number(values['batch-size'] ?? 32);
if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`--steps: expected a whole number ≥ 1, found '${values.steps}'`);
if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`--batch-size: expected a whole number ≥ 1, found '${values['batch-size']}'`);

// 1. Gradient check. `gradcheck` builds a float64 graph from placeholders, runs
//    the symbolic gradient (our grad rule → swishGrad) and compares it with
//    central differences at every element. Include 0, both signs and large |x|,
//    where a sign slip or an overflowing exp would show.
console.log('1. gradcheck swish (float64, central differences)');
const x = tensor([-6, -2.5, -1, -0.3, 0, 0.2, 0.9, 1.7, 3, 8, -30, 30], [3, 4], 'float64');
const check = gradcheck((input) => swish(input), [x]);
console.log(check.summary);
console.log(
  `   ${check.ok ? 'ok' : 'FAILED'}: max relative error ${check.maxRelError.toExponential(2)}, max absolute error ${check.maxAbsError.toExponential(2)}`,
);
if (!check.ok) process.exit(1);

// 2. Train. Any `(x: Node) => Node` can be LeNet's activation; swish is one.
const data = loadEmbeddedMnist({ trainSize: steps * batchSize, testSize: 200, seed: 0 });
const trainer = new Trainer({ ...defaultTrainConfig, epochs: 1, batchSize, model: { activation: swish } }, data);
console.log(`\n2. LeNet-5 with swish: ${steps} steps of ${batchSize} images (momentum, lr ${trainer.config.learningRate})`);
const info = trainer.trainEpoch((s) =>
  console.log(`   step ${String(s.step).padStart(3)}  loss ${s.loss.toFixed(4)}  batch accuracy ${(s.accuracy * 100).toFixed(1)}%`),
);
console.log(
  `   after ${info.step} steps: test loss ${info.testLoss.toFixed(4)}, test accuracy ${(info.testAccuracy * 100).toFixed(1)}% on ${data.test.labels.shape[0]} images`,
);

// 3. Inspect. One run gives every node's value and gradient statistics; keep
//    the rows of the swish nodes and of the nodes whose gradient swishGrad computes.
const batch = { images: data.train.images.hi(batchSize), labels: data.train.labels.hi(batchSize) };
const report = inspectRun(trainer.session, {
  loss: trainer.loss,
  feeds: [
    [trainer.images, batch.images],
    [trainer.labels, batch.labels],
  ],
  training: true,
});
console.log('\n3. the swish nodes in the inspector (value of swish; the gradient of its input comes from swishGrad)');
console.log(formatReport(report, { filter: (row) => row.op === 'swish' || row.gradientOp === 'swishGrad' }));

// 4. The plans. Sessions apply fusion rules by themselves: the evaluation run
//    computes biasAdd → swish as one biasAddSwish kernel; the training run keeps
//    the two nodes, because swishGrad reads the pre-activation.
const kernelsOf = (fetches: Node[], training: boolean) => {
  const ran = new Map<string, number>();
  trainer.session.run(
    fetches,
    [
      [trainer.images, batch.images],
      [trainer.labels, batch.labels],
    ],
    {
      training,
      onTime: (_node, _ms, op) => ran.set(op.name, (ran.get(op.name) ?? 0) + 1),
    },
  );
  return ['biasAdd', 'swish', 'biasAddSwish', 'swishGrad'].map((op) => `${op} ×${ran.get(op) ?? 0}`).join(', ');
};
console.log('\n4. kernels the session plans');
console.log(`   training run:   ${kernelsOf([trainer.loss, ...trainer.gradients], true)}`);
console.log(`   evaluation run: ${kernelsOf([trainer.logits], false)}`);
