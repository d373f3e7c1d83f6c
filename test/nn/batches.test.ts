import { describe, it, expect } from 'vitest';
import { DataError, Rng, toArray, wrap } from '@ndgraph/graph';
import { batchCount, batches, datasetSize, gatherExamples, subset, type Dataset } from '@ndgraph/nn';

/** n examples of 2x2x1 pixels; example i has pixels i + 0.25 * p (p = 0..3) and label i. */
function numbered(n: number): Dataset {
  const pixels = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) for (let p = 0; p < 4; p++) pixels[i * 4 + p] = i + 0.25 * p;
  return {
    images: wrap(pixels, [n, 2, 2, 1]),
    labels: wrap(
      Int32Array.from({ length: n }, (_, i) => i),
      [n],
    ),
  };
}

/** Reference Fisher–Yates, written out here, drawing from an Rng with the same seed. */
function referenceOrder(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  const rng = new Rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** Runs one epoch, copying what each batch holds (batches reuse their buffers). */
function collect(ds: Dataset, batchSize: number, rng: Rng | null, shuffle = true): { sizes: number[]; labels: number[][]; images: number[][] } {
  const out = { sizes: [] as number[], labels: [] as number[][], images: [] as number[][] };
  for (const b of batches(ds, batchSize, rng, { shuffle })) {
    out.sizes.push(b.size);
    expect(b.images.shape).toEqual([b.size, 2, 2, 1]);
    expect(b.labels.shape).toEqual([b.size]);
    out.labels.push(toArray(b.labels));
    out.images.push(toArray(b.images));
  }
  return out;
}

describe('batches', () => {
  it('visits every example exactly once, with the last partial batch kept', () => {
    const ds = numbered(23);
    const { sizes, labels, images } = collect(ds, 5, new Rng(1));
    expect(sizes).toEqual([5, 5, 5, 5, 3]);
    expect(batchCount(23, 5)).toBe(5);
    const all = labels.flat();
    expect([...all].sort((a, b) => a - b)).toEqual(Array.from({ length: 23 }, (_, i) => i));
    // Each image travels with its label.
    labels.forEach((batchLabels, b) =>
      batchLabels.forEach((label, k) => expect(images[b].slice(k * 4, k * 4 + 4)).toEqual([label, label + 0.25, label + 0.5, label + 0.75])),
    );
  });

  it('the order is a Fisher–Yates shuffle drawn from the given Rng', () => {
    const { labels } = collect(numbered(40), 7, new Rng(42));
    expect(labels.flat()).toEqual(referenceOrder(40, 42));
  });

  it('is deterministic by seed, differs across seeds and across epochs of one Rng', () => {
    const ds = numbered(50);
    const a = collect(ds, 8, new Rng(3)).labels.flat();
    expect(collect(ds, 8, new Rng(3)).labels.flat()).toEqual(a);
    expect(collect(ds, 8, new Rng(4)).labels.flat()).not.toEqual(a);
    const rng = new Rng(3);
    const epoch1 = collect(ds, 8, rng).labels.flat();
    const epoch2 = collect(ds, 8, rng).labels.flat();
    expect(epoch1).toEqual(a);
    expect(epoch2).not.toEqual(epoch1);
  });

  it('draws the shuffle when called, so the Rng state right after the call is the one to checkpoint', () => {
    const rng = new Rng(9);
    const before = JSON.stringify(rng.getState());
    const it1 = batches(numbered(10), 4, rng);
    const after = rng.getState();
    expect(JSON.stringify(after)).not.toBe(before);
    const resumed = new Rng(0);
    resumed.setState(after);
    // The next epoch from the saved state equals the next epoch of the original generator.
    expect([...it1].length).toBe(3);
    expect(collect(numbered(10), 4, resumed).labels.flat()).toEqual(collect(numbered(10), 4, rng).labels.flat());
  });

  it('without shuffling, goes in dataset order and needs no Rng', () => {
    const { labels, sizes } = collect(numbered(7), 3, null, false);
    expect(sizes).toEqual([3, 3, 1]);
    expect(labels.flat()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(() => batches(numbered(7), 3, null)).toThrow('batches: shuffle is on but no Rng was given');
  });

  it('reuses its buffers: consecutive full batches are the same tensors', () => {
    const seen: unknown[] = [];
    const buffers: unknown[] = [];
    for (const b of batches(numbered(10), 4, new Rng(0))) {
      seen.push(b.images);
      buffers.push(b.images.data);
    }
    expect(seen[0]).toBe(seen[1]);
    expect(buffers[0]).toBe(buffers[1]);
    expect(buffers[2]).toBe(buffers[0]); // the partial batch views the same buffer
  });

  it('a batch larger than the dataset gives one batch of everything', () => {
    expect(collect(numbered(3), 10, new Rng(0)).sizes).toEqual([3]);
  });

  it('rejects a bad batch size', () => {
    expect(() => batches(numbered(3), 0, new Rng(0))).toThrow(DataError);
    expect(() => batches(numbered(3), 2.5, new Rng(0))).toThrow('batches: expected a whole batch size >= 1, found 2.5');
  });
});

describe('dataset helpers', () => {
  it('subset is a view of examples start .. start+count-1', () => {
    const ds = numbered(10);
    const s = subset(ds, 3, 4);
    expect(datasetSize(s)).toBe(4);
    expect(s.images.shape).toEqual([4, 2, 2, 1]);
    expect(toArray(s.labels)).toEqual([3, 4, 5, 6]);
    expect(toArray(s.images).slice(0, 4)).toEqual([3, 3.25, 3.5, 3.75]);
    expect(s.images.data).toBe(ds.images.data);
    expect(() => subset(ds, 8, 3)).toThrow('subset: expected 0 <= start and start + count <= 10 (whole integers), found start 8, count 3');
  });

  it('batches over a subset stay inside it', () => {
    const { labels } = collect(subset(numbered(20), 5, 6), 4, new Rng(2));
    expect(labels.flat().sort((a, b) => a - b)).toEqual([5, 6, 7, 8, 9, 10]);
  });

  it('gatherExamples copies the chosen examples in order', () => {
    const g = gatherExamples(numbered(10), [7, 2, 2]);
    expect(toArray(g.labels)).toEqual([7, 2, 2]);
    expect(toArray(g.images)).toEqual([7, 7.25, 7.5, 7.75, 2, 2.25, 2.5, 2.75, 2, 2.25, 2.5, 2.75]);
    expect(() => gatherExamples(numbered(3), [0, 3])).toThrow('gatherExamples: index 1 is 3, expected a whole number in 0..2');
  });
});
