/**
 * Look inside LeNet-5 — the program behind `pnpm inspect`.
 *
 * Builds LeNet-5, runs one training batch of embedded MNIST digits through it
 * (forward and backward, in a single run), prints a table with every node's
 * value and gradient statistics, and writes the graph with those statistics
 * on its nodes:
 *
 *   runs/inspect/lenet.svg    the graph drawn by Graphviz (scopes as boxes; v = value, g = gradient)
 *   runs/inspect/lenet.png    the same picture as PNG
 *   runs/inspect/lenet.dot    the Graphviz source
 *   runs/inspect/lenet.json   nodes, inputs, attributes and statistics
 *   runs/inspect/report.json  the per-node report
 *
 *   pnpm inspect
 *   pnpm inspect --batch-size 8 --gradients --out /tmp/inspect   # also draw the gradient nodes
 */
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Graph, Session, formatReport, inspectRun, toDot, toJSON } from '@ndgraph/graph';
import { crossEntropyLoss, lenet5, renderDotToSvg } from '@ndgraph/nn';
import { loadEmbeddedMnist, svgToPng } from '@ndgraph/nn/node';

const usage = `usage: pnpm inspect [options]
  --batch-size N   images in the batch (default 32)
  --seed N         seed of the weights and of the data split (default 0)
  --gradients      also draw the gradient nodes in lenet.svg (a much bigger picture)
  --anomaly        stop at the first NaN/Inf, naming the node
  --out DIR        output directory (default runs/inspect)
  --help`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'batch-size': { type: 'string' },
      seed: { type: 'string' },
      gradients: { type: 'boolean' },
      anomaly: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const batchSize = Number(values['batch-size'] ?? 32);
  const seed = Number(values.seed ?? 0);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`--batch-size: expected a whole number ≥ 1, found '${values['batch-size']}'`);
  if (!Number.isInteger(seed)) throw new RangeError(`--seed: expected a whole number, found '${values.seed}'`);
  const out = values.out ?? join('runs', 'inspect');

  // 1. One batch of digits: NHWC float32 images in [0,1] and int32 labels.
  const { train } = loadEmbeddedMnist({ trainSize: batchSize, testSize: 0, seed });

  // 2. The model and its loss. Nothing about inspection is built into it.
  const graph = new Graph({ seed });
  const images = graph.placeholder('images', [-1, 28, 28, 1]);
  const labels = graph.placeholder('labels', [-1], 'int32');
  // Every node keeps its row: the inspector fetches them all, so the session fuses none of them.
  const logits = lenet5(images);
  const loss = crossEntropyLoss(logits, labels);
  const session = new Session(graph);

  // 3. One call: forward and backward in one training run, statistics of every node and its gradient.
  const report = inspectRun(session, {
    loss,
    feeds: [
      [images, train.images],
      [labels, train.labels],
    ],
    training: true,
    anomaly: values.anomaly ?? false,
  });
  console.log(formatReport(report));

  // 4. The graph with the statistics on its nodes, as DOT, JSON, SVG and PNG.
  mkdirSync(out, { recursive: true });
  const title = `LeNet-5, one training batch of ${batchSize}: loss ${report.loss.toFixed(4)}   (v = value, g = gradient of the loss: mean μ, std σ, [min, max], % zeros)`;
  const options = { report, gradients: values.gradients ?? false, title };
  const dot = toDot([loss], options);
  const svg = await renderDotToSvg(dot);
  writeFileSync(join(out, 'lenet.dot'), dot);
  writeFileSync(join(out, 'lenet.svg'), svg);
  writeFileSync(join(out, 'lenet.json'), `${JSON.stringify(toJSON([loss], options), null, 2)}\n`);
  writeFileSync(join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  const written = ['lenet.svg', 'lenet.dot', 'lenet.json', 'report.json'];
  try {
    writeFileSync(join(out, 'lenet.png'), svgToPng(svg, { width: 1600 }));
    written.splice(1, 0, 'lenet.png');
  } catch (e) {
    console.warn(`(no PNG: ${e instanceof Error ? e.message : String(e)})`);
  }
  console.log(`\nwrote ${written.map((f) => join(out, f)).join(', ')}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exit(1);
});
