import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DataError, toArray } from '@ndgraph/graph';
import { parseIdxImages, parseIdxLabels } from '@ndgraph/nn';
import { loadMnistIdx } from '@ndgraph/nn/node';

/** Big-endian uint32 bytes, written out by hand (independent of the parser). */
const u32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];

function idxImages(count: number, rows: number, cols: number, pixel: (i: number) => number): Uint8Array {
  const data = Array.from({ length: count * rows * cols }, (_, i) => pixel(i));
  return Uint8Array.from([0, 0, 8, 3, ...u32(count), ...u32(rows), ...u32(cols), ...data]);
}

function idxLabels(labels: number[]): Uint8Array {
  return Uint8Array.from([0, 0, 8, 1, ...u32(labels.length), ...labels]);
}

describe('parseIdxImages', () => {
  it('reads N x rows x cols bytes as [N, rows, cols, 1] float32 scaled to [0, 1]', () => {
    const bytes = idxImages(2, 2, 3, (i) => [0, 255, 51, 102, 1, 254, 10, 20, 30, 40, 50, 60][i]);
    const images = parseIdxImages(bytes, 'tiny-images');
    expect(images.shape).toEqual([2, 2, 3, 1]);
    expect(images.data).toBeInstanceOf(Float32Array);
    const expected = [0, 1, 0.2, 0.4, 1 / 255, 254 / 255, 10 / 255, 20 / 255, 30 / 255, 40 / 255, 50 / 255, 60 / 255];
    toArray(images).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
  });

  it('reads from a byte view that does not start at its buffer start', () => {
    const inner = idxImages(1, 1, 2, (i) => [0, 255][i]);
    const padded = new Uint8Array(inner.length + 5);
    padded.set(inner, 5);
    expect(toArray(parseIdxImages(padded.subarray(5), 'offset-view'))).toEqual([0, 1]);
  });

  it('rejects a labels file (bad magic), naming the source, the expected and found magic, and the offset', () => {
    expect(() => parseIdxImages(idxLabels([1, 2]), 'labels-as-images')).toThrow(DataError);
    expect(() => parseIdxImages(idxLabels([1, 2]), 'labels-as-images')).toThrow(
      'labels-as-images: bad magic number at byte offset 0: expected 0x00000803 (unsigned byte, 3 dimensions) for IDX images, found 0x00000801 (unsigned byte, 1 dimension)',
    );
  });

  it('rejects a non-IDX file', () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(() => parseIdxImages(png, 'picture.png')).toThrow(
      /picture\.png: bad magic number at byte offset 0: .* found 0x89504e47, which is not an IDX header/,
    );
  });

  it('rejects float IDX images by element type', () => {
    const floats = Uint8Array.from([0, 0, 0x0d, 3, ...u32(0), ...u32(1), ...u32(1)]);
    expect(() => parseIdxImages(floats, 'float-images')).toThrow(/found 0x00000d03 \(float32, 3 dimensions\)/);
  });

  it('truncated header', () => {
    const full = idxImages(1, 2, 2, () => 7);
    expect(() => parseIdxImages(full.subarray(0, 10), 'short-header')).toThrow(
      'short-header: truncated header: expected 16 header bytes for IDX images, found only 10 (the file ends at byte offset 10)',
    );
    expect(() => parseIdxImages(full.subarray(0, 2), 'two-bytes')).toThrow(
      'two-bytes: truncated header: expected 16 header bytes for IDX images, found only 2',
    );
  });

  it('truncated data', () => {
    const full = idxImages(3, 2, 2, (i) => i);
    expect(() => parseIdxImages(full.subarray(0, 16 + 10), 'short-images')).toThrow(
      'short-images: truncated data: the header declares 3 x 2 x 2 pixels, which needs 12 data bytes from byte offset 16 (a file of 28 bytes), found 10 (the file ends at byte offset 26)',
    );
  });

  it('trailing bytes', () => {
    const full = idxImages(1, 2, 2, (i) => i);
    const longer = Uint8Array.from([...full, 1, 2, 3]);
    expect(() => parseIdxImages(longer, 'long-images')).toThrow(
      'long-images: unexpected trailing bytes: the header declares 1 x 2 x 2 pixels, so the file should end at byte offset 20, found 3 more bytes (file size 23)',
    );
  });
});

describe('parseIdxLabels', () => {
  it('reads labels as int32 [N]', () => {
    const labels = parseIdxLabels(idxLabels([3, 0, 9, 7]), 'tiny-labels');
    expect(labels.shape).toEqual([4]);
    expect(labels.data).toBeInstanceOf(Int32Array);
    expect(toArray(labels)).toEqual([3, 0, 9, 7]);
  });

  it('rejects an images file (bad magic)', () => {
    expect(() =>
      parseIdxLabels(
        idxImages(1, 1, 1, () => 0),
        'images-as-labels',
      ),
    ).toThrow(
      'images-as-labels: bad magic number at byte offset 0: expected 0x00000801 (unsigned byte, 1 dimension) for IDX labels, found 0x00000803 (unsigned byte, 3 dimensions)',
    );
  });

  it('truncated header and data', () => {
    const full = idxLabels([1, 2, 3, 4, 5]);
    expect(() => parseIdxLabels(full.subarray(0, 6), 'l')).toThrow(
      'l: truncated header: expected 8 header bytes for IDX labels, found only 6 (the file ends at byte offset 6)',
    );
    expect(() => parseIdxLabels(full.subarray(0, 11), 'l')).toThrow(
      'l: truncated data: the header declares 5 labels, which needs 5 data bytes from byte offset 8 (a file of 13 bytes), found 3 (the file ends at byte offset 11)',
    );
  });

  it('a label outside 0..9 names its index and byte offset', () => {
    expect(() => parseIdxLabels(idxLabels([1, 2, 10, 3]), 'bad-labels')).toThrow('bad-labels: label at index 2 (byte offset 10) is 10, expected a digit 0..9');
  });
});

describe('loadMnistIdx', () => {
  let dir: string;
  const trainCount = 3;
  const testCount = 2;
  // Pixel i of the whole file is (i * 7 + offset) mod 256, so files differ and every byte value is checkable.
  const pixelOf = (offset: number) => (i: number) => (i * 7 + offset) % 256;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ndgraph-idx-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function writeSet(sub: string, gz: { [name: string]: boolean }, counts = { train: [trainCount, trainCount], test: [testCount, testCount] }): string {
    const d = join(dir, sub);
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d, { recursive: true });
    const files: [string, Uint8Array][] = [
      ['train-images-idx3-ubyte', idxImages(counts.train[0], 28, 28, pixelOf(1))],
      ['train-labels-idx1-ubyte', idxLabels(Array.from({ length: counts.train[1] }, (_, i) => (i * 3) % 10))],
      ['t10k-images-idx3-ubyte', idxImages(counts.test[0], 28, 28, pixelOf(2))],
      ['t10k-labels-idx1-ubyte', idxLabels(Array.from({ length: counts.test[1] }, (_, i) => 9 - i))],
    ];
    for (const [name, bytes] of files) {
      const path = join(d, gz[name] ? `${name}.gz` : name);
      writeFileSync(path, gz[name] ? gzipSync(bytes) : bytes);
    }
    return d;
  }
  function expectContents(ds: { train: { images: { shape: number[] }; labels: unknown }; test: { images: { shape: number[] }; labels: unknown } }): void {
    expect(ds.train.images.shape).toEqual([trainCount, 28, 28, 1]);
    expect(ds.test.images.shape).toEqual([testCount, 28, 28, 1]);
  }

  it('reads plain files', () => {
    const d = writeSet('plain', {});
    const { train, test } = loadMnistIdx(d);
    expectContents({ train, test });
    expect(toArray(train.labels)).toEqual([0, 3, 6]);
    expect(toArray(test.labels)).toEqual([9, 8]);
    const trainPixels = toArray(train.images);
    for (const i of [0, 1, 100, 783, 784, 2351]) expect(trainPixels[i]).toBeCloseTo(((i * 7 + 1) % 256) / 255, 6);
    const testPixels = toArray(test.images);
    for (const i of [0, 5, 1567]) expect(testPixels[i]).toBeCloseTo(((i * 7 + 2) % 256) / 255, 6);
  });

  it('reads gzipped files, and a mix of plain and gzipped', () => {
    const all = writeSet('gz', {
      'train-images-idx3-ubyte': true,
      'train-labels-idx1-ubyte': true,
      't10k-images-idx3-ubyte': true,
      't10k-labels-idx1-ubyte': true,
    });
    const mixed = writeSet('mixed', { 'train-images-idx3-ubyte': true, 't10k-labels-idx1-ubyte': true });
    const plain = loadMnistIdx(writeSet('plain2', {}));
    for (const d of [all, mixed]) {
      const loaded = loadMnistIdx(d);
      expect(toArray(loaded.train.images)).toEqual(toArray(plain.train.images));
      expect(toArray(loaded.test.images)).toEqual(toArray(plain.test.images));
      expect(toArray(loaded.train.labels)).toEqual([0, 3, 6]);
      expect(toArray(loaded.test.labels)).toEqual([9, 8]);
    }
  });

  it('missing files are listed', () => {
    const d = writeSet('missing', {});
    rmSync(join(d, 'train-labels-idx1-ubyte'));
    rmSync(join(d, 't10k-images-idx3-ubyte'));
    expect(() => loadMnistIdx(d)).toThrow(DataError);
    expect(() => loadMnistIdx(d)).toThrow(
      `MNIST files missing in ${d}: looked for train-labels-idx1-ubyte or train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte or t10k-images-idx3-ubyte.gz`,
    );
  });

  it('count mismatch between images and labels', () => {
    const d = writeSet('mismatch', {}, { train: [3, 3], test: [2, 4] });
    expect(() => loadMnistIdx(d)).toThrow(
      `count mismatch: ${join(d, 't10k-images-idx3-ubyte')} holds 2 images but ${join(d, 't10k-labels-idx1-ubyte')} holds 4 labels; expected the same number`,
    );
  });

  it('errors inside a file name the file path', () => {
    const d = writeSet('truncated', { 'train-images-idx3-ubyte': true });
    const path = join(d, 'train-images-idx3-ubyte.gz');
    writeFileSync(path, gzipSync(idxImages(3, 28, 28, () => 0).subarray(0, 100)));
    expect(() => loadMnistIdx(d)).toThrow(`${path}: truncated data: the header declares 3 x 28 x 28 pixels, which needs 2352 data bytes from byte offset 16`);
    writeFileSync(path, Uint8Array.from([1, 2, 3, 4, 5]));
    expect(() => loadMnistIdx(d)).toThrow(`${path}: expected a gzip file, but it could not be decompressed`);
  });
});
