import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataError, toArray } from '@ndgraph/graph';
import { datasetSize } from '@ndgraph/nn';
import { embeddedMnistDigits, loadEmbeddedMnist, splitIndices } from '@ndgraph/nn/node';

/** The package's raw digit files, read here independently of the loader. */
const digitsDir = join(dirname(createRequire(new URL('../../packages/nn/package.json', import.meta.url)).resolve('mnist')), 'digits');
const raw: number[][] = Array.from({ length: 10 }, (_, d) => (JSON.parse(readFileSync(join(digitsDir, `${d}.json`), 'utf8')) as { data: number[] }).data);
const perDigit = raw.map((data) => data.length / 784);
/** Global index (0-based over digit files 0..9 in order) → [digit, sample within the file]. */
function locate(index: number): [number, number] {
  let d = 0;
  while (index >= perDigit[d]) index -= perDigit[d++];
  return [d, index];
}

describe('splitIndices', () => {
  it('gives disjoint train and test indices of the requested sizes', () => {
    const { train, test } = splitIndices(100, 70, 20, 5);
    expect(train.length).toBe(70);
    expect(test.length).toBe(20);
    const seen = new Set<number>([...train, ...test]);
    expect(seen.size).toBe(90);
    for (const i of seen) expect(i >= 0 && i < 100).toBe(true);
  });
  it('a full split is a permutation', () => {
    const { train, test } = splitIndices(50, 30, 20, 1);
    expect([...train, ...test].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
  it('is deterministic by seed and differs across seeds', () => {
    expect(Array.from(splitIndices(1000, 800, 200, 3).train)).toEqual(Array.from(splitIndices(1000, 800, 200, 3).train));
    expect(Array.from(splitIndices(1000, 800, 200, 3).train)).not.toEqual(Array.from(splitIndices(1000, 800, 200, 4).train));
  });
  it('rejects sizes that do not fit', () => {
    expect(() => splitIndices(10, 8, 3, 0)).toThrow(DataError);
    expect(() => splitIndices(10, 8, 3, 0)).toThrow('splitIndices: expected trainSize + testSize <= 10, found 8 + 3 = 11');
    expect(() => splitIndices(10, -1, 3, 0)).toThrow('splitIndices: expected trainSize to be a whole number >= 0, found -1');
  });
});

describe('embedded MNIST', () => {
  it('holds the 10,000 digits of the package files, in file order', () => {
    expect(perDigit.reduce((a, b) => a + b, 0)).toBe(10000);
    const all = embeddedMnistDigits();
    expect(all.images.shape).toEqual([10000, 28, 28, 1]);
    expect(all.labels.shape).toEqual([10000]);
    const labels = toArray(all.labels);
    for (let d = 0; d < 10; d++) expect(labels.filter((l) => l === d).length).toBe(perDigit[d]);
    // File order: example i is sample `locate(i)` of its digit's file.
    for (const i of [0, 1, perDigit[0], 4321, 9999]) {
      const [digit, sample] = locate(i);
      expect(labels[i]).toBe(digit);
      const expected = raw[digit].slice(sample * 784, (sample + 1) * 784);
      Array.from(all.images.data.subarray(i * 784, (i + 1) * 784)).forEach((v, p) => expect(v).toBeCloseTo(expected[p], 6));
    }
  });

  it('default split: 8000 train and 2000 test, images in [0, 1], int32 labels', () => {
    const { train, test } = loadEmbeddedMnist();
    expect(datasetSize(train)).toBe(8000);
    expect(datasetSize(test)).toBe(2000);
    expect(train.images.shape).toEqual([8000, 28, 28, 1]);
    expect(test.images.shape).toEqual([2000, 28, 28, 1]);
    expect(train.images.data).toBeInstanceOf(Float32Array);
    expect(train.labels.data).toBeInstanceOf(Int32Array);
    for (const ds of [train, test]) {
      let min = Infinity,
        max = -Infinity,
        sum = 0;
      for (const v of ds.images.data) {
        if (v < min) min = v;
        if (v > max) max = v;
        sum += v;
      }
      expect(min).toBe(0);
      expect(max).toBeCloseTo(1, 6);
      // MNIST digits are mostly background: the mean pixel is about 0.13.
      expect(sum / ds.images.data.length).toBeGreaterThan(0.08);
      expect(sum / ds.images.data.length).toBeLessThan(0.2);
    }
  });

  it('every digit class appears in proportion, and train + test together hold all of each class', () => {
    const { train, test } = loadEmbeddedMnist({ trainSize: 8000, testSize: 2000, seed: 0 });
    const count = (labels: number[], d: number) => labels.filter((l) => l === d).length;
    const trainLabels = toArray(train.labels);
    const testLabels = toArray(test.labels);
    for (let d = 0; d < 10; d++) {
      expect(count(trainLabels, d) + count(testLabels, d)).toBe(perDigit[d]);
      // Hypergeometric: expected 0.8 * n_d, standard deviation about 13; 60 is a wide margin.
      expect(Math.abs(count(trainLabels, d) - 0.8 * perDigit[d])).toBeLessThan(60);
    }
  });

  it('examples are the package digits at the split indices', () => {
    const { train, test } = loadEmbeddedMnist({ trainSize: 300, testSize: 100, seed: 7 });
    const split = splitIndices(10000, 300, 100, 7);
    for (const [ds, indices] of [
      [train, split.train],
      [test, split.test],
    ] as const) {
      for (const k of [0, 1, 57, indices.length - 1]) {
        const [digit, sample] = locate(indices[k]);
        expect(ds.labels.data[k]).toBe(digit);
        const expected = raw[digit].slice(sample * 784, (sample + 1) * 784);
        const actual = Array.from(ds.images.data.subarray(k * 784, (k + 1) * 784));
        actual.forEach((v, p) => expect(v).toBeCloseTo(expected[p], 6));
      }
    }
  });

  it('is deterministic by seed and differs across seeds', () => {
    const a = loadEmbeddedMnist({ trainSize: 500, testSize: 100, seed: 11 });
    const b = loadEmbeddedMnist({ trainSize: 500, testSize: 100, seed: 11 });
    const c = loadEmbeddedMnist({ trainSize: 500, testSize: 100, seed: 12 });
    expect(toArray(a.train.labels)).toEqual(toArray(b.train.labels));
    expect(Array.from(a.train.images.data)).toEqual(Array.from(b.train.images.data));
    expect(Array.from(a.test.images.data)).toEqual(Array.from(b.test.images.data));
    expect(Array.from(a.train.images.data)).not.toEqual(Array.from(c.train.images.data));
  });

  it('rejects a split larger than the 10,000 digits', () => {
    expect(() => loadEmbeddedMnist({ trainSize: 9000, testSize: 2000 })).toThrow(
      'splitIndices: expected trainSize + testSize <= 10000, found 9000 + 2000 = 11000',
    );
  });
});
