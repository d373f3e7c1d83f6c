/**
 * The page of examples/browser: fetches the MNIST IDX files, parses them
 * without `fs`, starts a helper thread when the page is cross-origin
 * isolated, and trains LeNet-5 for one epoch on the first images. Bundle it
 * and serve it with `npx tsx examples/browser/serve.ts` (docs/browser.md).
 */
import { defaultTrainConfig, parseIdxImages, parseIdxLabels, subset, Trainer } from '@ndgraph/nn';
import { enableWasmThreadsInBrowser } from '@ndgraph/ops/browser';

const page = globalThis as { ndgraphResult?: unknown; ndgraphError?: string };
const log = (line: string) => {
  const pre = document.getElementById('log');
  if (pre) pre.textContent += `${line}\n`;
};
const status = (text: string) => {
  const p = document.getElementById('status');
  if (p) p.textContent = text;
};

/** One IDX file's bytes, gunzipped in the page when its name ends in .gz. */
async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const body = url.endsWith('.gz') ? response.body!.pipeThrough(new DecompressionStream('gzip')) : response.body!;
  return new Uint8Array(await new Response(body).arrayBuffer());
}

async function main(): Promise<void> {
  const threads = globalThis.crossOriginIsolated ? await enableWasmThreadsInBrowser(2) : 1;
  log(`kernels: ${threads} thread(s) (cross-origin isolated: ${globalThis.crossOriginIsolated})`);
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(
    ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'].map((name) => fetchBytes(`./data/${name}`)),
  );
  const train = { images: parseIdxImages(trainImages, 'train images'), labels: parseIdxLabels(trainLabels, 'train labels') };
  const test = { images: parseIdxImages(testImages, 'test images'), labels: parseIdxLabels(testLabels, 'test labels') };
  const size = Number(new URLSearchParams(location.search).get('train') ?? 4096);
  log(`data: ${train.labels.shape[0]} training and ${test.labels.shape[0]} test images; training on the first ${size}`);
  const trainer = new Trainer({ ...defaultTrainConfig, epochs: 1 }, { train: subset(train, 0, size), test: subset(test, 0, 1000) });
  status('training…');
  const info = trainer.trainEpoch((s) => {
    if (s.stepInEpoch % 16 === 0) log(`step ${s.step}: loss ${s.loss.toFixed(4)}`);
  });
  const result = { threads, steps: info.step, trainLoss: info.trainLoss, testAccuracy: info.testAccuracy, imagesPerSecond: info.imagesPerSecond };
  log(
    `epoch 1: train loss ${info.trainLoss.toFixed(4)}, test accuracy ${(info.testAccuracy * 100).toFixed(2)}% on 1000 images, ${info.imagesPerSecond.toFixed(0)} img/s`,
  );
  status('done');
  page.ndgraphResult = result;
}

main().catch((error: unknown) => {
  page.ndgraphError = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  status(`error: ${page.ndgraphError}`);
});
