import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import * as fs from 'node:fs';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor, toArray, DataError, DTypeError, GraphError, type Tensor } from '@ndgraph/graph';
import { encodeSafetensors, decodeSafetensors } from '@ndgraph/nn';
import { writeFileAtomic, saveSafetensors, loadSafetensors } from '@ndgraph/nn/node';

/** Builds a safetensors file by hand: u64 LE header length, the header text as given, then the data bytes. */
function handMade(header: string | object, data: number[] | Uint8Array = [], declaredLength?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  const n = declaredLength ?? json.length;
  for (let i = 0; i < 8; i++) out[i] = Math.floor(n / 2 ** (8 * i)) & 0xff;
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Little-endian bytes of float32 values. */
function f32Bytes(values: number[]): Uint8Array {
  const bytes = new Uint8Array(4 * values.length);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(4 * i, v, true));
  return bytes;
}

function expectDataError(bytes: Uint8Array, pattern: RegExp, source = 'model.safetensors'): void {
  let error: unknown;
  try {
    decodeSafetensors(bytes, source);
  } catch (e) {
    error = e;
  }
  expect(error, `expected a DataError matching ${pattern}`).toBeInstanceOf(DataError);
  const message = (error as Error).message;
  expect(message.startsWith(`${source}: `), message).toBe(true);
  expect(message).toMatch(pattern);
  expect(message).toMatch(/\(at byte offset \d+\)$/);
}

describe('safetensors encoding', () => {
  it('lays out the bytes as the format says', () => {
    const bytes = encodeSafetensors({ w: tensor([1, 2], [2], 'float32') }, { format: 'pt' });
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const n = Number(view.getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0); // data starts 8-byte aligned
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header).toEqual({ __metadata__: { format: 'pt' }, w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } });
    // 1.0f = 0x3f800000, 2.0f = 0x40000000, little-endian
    expect(Array.from(bytes.subarray(8 + n))).toEqual([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40]);
    // Padding is spaces.
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text).toMatch(/^\{.*\} *$/);
  });

  it('round-trips float32, float64 and int32, a scalar and empty tensors', () => {
    const tensors: Record<string, Tensor> = {
      'conv1/w': tensor([0.5, -1.25, 3e-8, 1e30, -0, 7], [1, 2, 3, 1], 'float32'),
      'fc/b': tensor([Math.PI, -Math.E, 1e-300, Number.MAX_VALUE], [4], 'float64'),
      labels: tensor([0, -1, 2147483647, -2147483648, 9], [5], 'int32'),
      scalar: tensor(2.5, [], 'float64'),
      empty: tensor([], [0], 'float32'),
      emptyMatrix: tensor([], [2, 0, 3], 'int32'),
      special: tensor([Infinity, -Infinity, NaN], [3], 'float32'),
    };
    const decoded = decodeSafetensors(encodeSafetensors(tensors));
    expect(Object.keys(decoded.tensors)).toEqual(Object.keys(tensors));
    for (const [name, t] of Object.entries(tensors)) {
      const back = decoded.tensors[name];
      expect(back.shape, name).toEqual(t.shape);
      expect(back.data.constructor, name).toBe(t.data.constructor);
      expect(toArray(back), name).toEqual(toArray(t));
    }
    expect(Object.is(toArray(decoded.tensors['conv1/w'])[4], -0)).toBe(true);
    expect(decoded.metadata).toEqual({});
  });

  it('metadata round-trips', () => {
    const metadata = { epoch: '3', optimizer: 'adam', note: 'üñí©ødé "quoted" {braces}' };
    const decoded = decodeSafetensors(encodeSafetensors({ x: tensor([1]) }, metadata));
    expect(decoded.metadata).toEqual(metadata);
    expect(decodeSafetensors(encodeSafetensors({}, { only: 'metadata' }))).toEqual({ tensors: {}, metadata: { only: 'metadata' } });
  });

  it('writes views in their logical (row-major) order', () => {
    const matrix = tensor(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      undefined,
      'float64',
    );
    const transposed = matrix.transpose(1, 0); // [[1,4],[2,5],[3,6]], not contiguous
    const back = decodeSafetensors(encodeSafetensors({ t: transposed })).tensors.t;
    expect(back.shape).toEqual([3, 2]);
    expect(toArray(back)).toEqual([1, 4, 2, 5, 3, 6]);
  });

  it('decodes a hand-made file with an unpadded header and unaligned data, from a subarray', () => {
    // Header of odd length, so the float64 data starts at an odd address.
    const header = '{"b":{"dtype":"F64","shape":[1],"data_offsets":[4,12]},"a":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}';
    const data = new Uint8Array(12);
    const dv = new DataView(data.buffer);
    dv.setInt32(0, -7, true);
    dv.setFloat64(4, 0.1, true);
    const file = handMade(header, data);
    expect((8 + header.length) % 2).toBe(1);
    const padded = new Uint8Array(file.length + 3);
    padded.set(file, 3);
    const { tensors } = decodeSafetensors(padded.subarray(3));
    expect(toArray(tensors.a)).toEqual([-7]);
    expect(tensors.a.shape).toEqual([]);
    expect(tensors.a.data).toBeInstanceOf(Int32Array);
    expect(toArray(tensors.b)).toEqual([0.1]);
  });

  it('refuses what it cannot write', () => {
    expect(() => encodeSafetensors({ __metadata__: tensor([1]) })).toThrow(GraphError);
    expect(() => encodeSafetensors({ x: tensor([1]) }, { n: 3 as unknown as string })).toThrow(/metadata 'n' must be a string, found number/);
    const bad = tensor([1]);
    (bad as { data: unknown }).data = new Uint8Array([1]);
    expect(() => encodeSafetensors({ x: bad })).toThrow(DTypeError);
  });
});

describe('safetensors decoding errors', () => {
  const good = encodeSafetensors({ w: tensor([1, 2, 3], [3], 'float32'), b: tensor([4], [1], 'float64') }, { epoch: '1' });
  const headerLength = Number(new DataView(good.buffer).getBigUint64(0, true));
  const dataStart = 8 + headerLength;

  it('truncated before the header length ends', () => {
    for (const cut of [0, 1, 7]) {
      expectDataError(
        good.slice(0, cut),
        new RegExp(`truncated safetensors file: expected at least 8 bytes for the header length, found ${cut} bytes \\(at byte offset 0\\)`),
      );
    }
  });

  it('truncated inside the header', () => {
    for (const cut of [8, 20, dataStart - 1]) {
      expectDataError(
        good.slice(0, cut),
        new RegExp(
          `header length ${headerLength} runs past the end of the file: expected at most ${cut - 8} \\(the file has ${cut} bytes\\), found ${headerLength}`,
        ),
      );
    }
  });

  it('truncated inside the data', () => {
    // 'w' holds bytes [0, 12), 'b' bytes [12, 20) of the data block.
    expectDataError(
      good.slice(0, dataStart + 16),
      /tensor 'b': data_offsets \[12, 20\] run past the end of the file: expected end ≤ 16 .*, found 20 \(at byte offset \d+\)/,
    );
    expectDataError(
      good.slice(0, dataStart + 5),
      new RegExp(`tensor 'w': data_offsets \\[0, 12\\] run past the end of the file: expected end ≤ 5 .*found 12 \\(at byte offset ${dataStart}\\)`),
    );
    expectDataError(good.slice(0, dataStart), /run past the end of the file: expected end ≤ 0/);
  });

  it('a corrupted header length', () => {
    const huge = good.slice();
    huge[7] = 0x80; // 2^63 + N
    expectDataError(huge, /header length 92233720368547\d+ runs past the end of the file/);
    const short = good.slice();
    new DataView(short.buffer).setBigUint64(0, BigInt(headerLength - 10), true);
    expectDataError(short, /header is not valid JSON: expected a JSON object, found .*\(at byte offset 8\)/);
    const zero = good.slice();
    new DataView(zero.buffer).setBigUint64(0, 0n, true);
    expectDataError(zero, /header is not valid JSON/);
  });

  it('bad JSON, bad UTF-8, not an object', () => {
    expectDataError(handMade('{"w": {"dtype": "F32",'), /header is not valid JSON: expected a JSON object, found "\{\\"w\\": \{\\"dtype\\": \\"F32\\",/);
    expectDataError(handMade('[1, 2]'), /header is not a JSON object: .* found an array \(at byte offset 8\)/);
    expectDataError(handMade('null'), /header is not a JSON object: .*found null/);
    const invalidUtf8 = handMade('{"x":1}');
    invalidUtf8[9] = 0xff;
    expectDataError(invalidUtf8, /header is not valid UTF-8: expected 7 bytes of UTF-8 JSON, found invalid byte sequences \(at byte offset 8\)/);
  });

  it('unknown or unsupported dtype', () => {
    expectDataError(
      handMade({ w: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, [0, 0, 0, 0]),
      /tensor 'w': unsupported dtype: expected one of F32, F64, I32, found "F16"/,
    );
    expectDataError(handMade({ w: { dtype: 'float32', shape: [1], data_offsets: [0, 4] } }, [0, 0, 0, 0]), /unsupported dtype: .*found "float32"/);
    expectDataError(handMade({ w: { shape: [1], data_offsets: [0, 4] } }, [0, 0, 0, 0]), /unsupported dtype: .*found undefined/);
  });

  it('bad shape or data_offsets fields', () => {
    expectDataError(
      handMade({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, [0, 0, 0, 0]),
      /tensor 'w': bad shape: expected an array of non-negative integers, found \[-1\]/,
    );
    expectDataError(handMade({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, [0, 0, 0, 0]), /bad shape/);
    expectDataError(
      handMade({ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }, [0, 0, 0, 0]),
      /tensor 'w': bad data_offsets: expected \[begin, end\] with non-negative integers, found \[0\]/,
    );
    expectDataError(handMade({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, [0, 0, 0, 0]), /expected begin ≤ end, found \[4, 0\]/);
    expectDataError(handMade({ w: 'nope' }), /tensor 'w': expected \{ dtype, shape, data_offsets \}, found "nope"/);
    expectDataError(handMade({ __metadata__: { epoch: 3 } }), /metadata 'epoch': expected a string value, found 3/);
    expectDataError(handMade({ __metadata__: [] }), /'__metadata__' must be an object of strings/);
  });

  it('offsets that do not match shape × item size', () => {
    const header = { w: { dtype: 'F64', shape: [2, 2], data_offsets: [0, 16] } };
    expectDataError(
      handMade(header, new Uint8Array(16)),
      /tensor 'w': data_offsets \[0, 16\] do not fit the shape: expected 32 bytes \(\[2,2\] × 8-byte F64\), found 16/,
    );
  });

  it('overlapping tensors, holes and trailing garbage', () => {
    const data = f32Bytes([1, 2, 3]);
    expect(data.length).toBe(12);
    const overlap = handMade({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, data);
    const headerLen = overlap.length - 8 - 12;
    expectDataError(
      overlap,
      new RegExp(`tensor 'b' overlaps tensor 'a': expected data_offsets to start at 8 or later, found \\[4, 12\\] \\(at byte offset ${8 + headerLen + 4}\\)`),
    );
    const hole = handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, data);
    expectDataError(hole, /hole in the data block before tensor 'b': expected it to start at 4, found \[8, 12\]/);
    const startsLate = handMade({ b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, data);
    expectDataError(startsLate, /hole in the data block before tensor 'b': expected it to start at 0/);
    const trailing = new Uint8Array(good.length + 3);
    trailing.set(good);
    expectDataError(
      trailing,
      new RegExp(
        `trailing bytes after the last tensor: expected the file to end at byte ${good.length}, found 3 more bytes \\(at byte offset ${good.length}\\)`,
      ),
    );
  });

  it('names the source', () => {
    expectDataError(good.slice(0, 3), /truncated/, 'runs/a/checkpoint.safetensors');
    expect(() => decodeSafetensors(good.slice(0, 3))).toThrow(/^<bytes>: truncated/);
  });

  it('a tensor named __proto__ stays an ordinary entry', () => {
    const file = handMade('{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32Bytes([5]));
    const { tensors } = decodeSafetensors(file);
    expect(Object.keys(tensors)).toEqual(['__proto__']);
    expect(toArray(Object.getOwnPropertyDescriptor(tensors, '__proto__')!.value)).toEqual([5]); // an own key, not the prototype
    expect(Object.getPrototypeOf(tensors)).toBe(Object.prototype);
  });
});

describe('checkpoint files (Node)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ndgraph-ckpt-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('saveSafetensors / loadSafetensors round-trip and leave no temp file', () => {
    const path = join(dir, 'model.safetensors');
    saveSafetensors(path, { w: tensor([1, 2, 3], [3], 'float32'), step: tensor([42], [1], 'int32') }, { epoch: '2' });
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    const { tensors, metadata } = loadSafetensors(path);
    expect(toArray(tensors.w)).toEqual([1, 2, 3]);
    expect(toArray(tensors.step)).toEqual([42]);
    expect(metadata).toEqual({ epoch: '2' });
    // Overwriting replaces the file whole.
    saveSafetensors(path, { w: tensor([9], [1], 'float64') });
    expect(toArray(loadSafetensors(path).tensors.w)).toEqual([9]);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
  });

  it('loadSafetensors names the file in its errors', () => {
    const path = join(dir, 'broken.safetensors');
    writeFileSync(path, new Uint8Array([1, 2, 3]));
    expect(() => loadSafetensors(path)).toThrow(DataError);
    expect(() => loadSafetensors(path)).toThrow(`${path}: truncated safetensors file`);
  });

  it('a write that fails halfway leaves the old target intact and no temp file', () => {
    const path = join(dir, 'ckpt.bin');
    writeFileSync(path, 'old contents');
    const bytes = new Uint8Array(1000).fill(7);
    let calls = 0;
    expect(() =>
      writeFileAtomic(path, bytes, {
        fileSystem: {
          // Writes the first 100 bytes for real, then fails like a full disk.
          writeSync: (fd, buffer, offset, _length, position) => {
            if (calls++ === 0) return fs.writeSync(fd, buffer, offset, 100, position);
            throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
          },
        },
      }),
    ).toThrow(/ENOSPC/);
    expect(calls).toBe(2); // the short write was retried from byte 100, then failed
    expect(readFileSync(path, 'utf8')).toBe('old contents');
    expect(readdirSync(dir)).toEqual(['ckpt.bin']);
  });

  it('fsync or rename failures clean up too', () => {
    const path = join(dir, 'ckpt.bin');
    writeFileSync(path, 'old');
    expect(() =>
      writeFileAtomic(path, new Uint8Array([1, 2]), {
        fileSystem: {
          fsyncSync: () => {
            throw new Error('EIO: fsync failed');
          },
        },
      }),
    ).toThrow(/EIO/);
    expect(readdirSync(dir)).toEqual(['ckpt.bin']);
    // A directory where the file should go makes the real rename fail.
    const blocked = join(dir, 'blocked');
    mkdirSync(join(blocked, 'inside'), { recursive: true });
    expect(() => writeFileAtomic(blocked, new Uint8Array([1, 2]))).toThrow();
    expect(readdirSync(dir).sort()).toEqual(['blocked', 'ckpt.bin']);
    expect(readFileSync(path, 'utf8')).toBe('old');
  });

  it('the target directory disappearing mid-write leaves nothing behind', () => {
    const sub = join(dir, 'run');
    mkdirSync(sub);
    const path = join(sub, 'ckpt.safetensors');
    let seenTemp = '';
    expect(() =>
      writeFileAtomic(path, new Uint8Array(64), {
        fileSystem: {
          fsyncSync: () => {
            seenTemp = readdirSync(sub)[0];
            rmSync(sub, { recursive: true, force: true });
          },
        },
      }),
    ).toThrow(/ENOENT/);
    expect(seenTemp).toMatch(new RegExp(`^ckpt\\.safetensors\\.tmp-${process.pid}-[0-9a-f]{12}$`));
    expect(existsSync(sub)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a missing directory fails before anything is written', () => {
    expect(() => writeFileAtomic(join(dir, 'nope', 'x.bin'), new Uint8Array([1]))).toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });
});
