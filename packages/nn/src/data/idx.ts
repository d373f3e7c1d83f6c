/**
 * IDX files (the format MNIST ships in), parsed from bytes. Browser-safe.
 *
 * Layout (all integers big-endian):
 *   bytes 0-1  zero
 *   byte  2    element type (0x08 = unsigned byte)
 *   byte  3    number of dimensions
 *   then one uint32 size per dimension, then the elements in row-major order.
 * Images are 0x00000803 (N, rows, cols), labels 0x00000801 (N).
 */
import { DataError, wrap, type Tensor } from '@ndgraph/graph';

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

const ELEMENT_TYPES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

const hex32 = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

function describeMagic(magic: number): string {
  const zeroBytes = magic >>> 16;
  if (zeroBytes !== 0) return `${hex32(magic)}, which is not an IDX header (its first two bytes must be zero)`;
  const type = (magic >>> 8) & 0xff;
  const dims = magic & 0xff;
  return `${hex32(magic)} (${ELEMENT_TYPES[type] ?? `unknown element type 0x${type.toString(16).padStart(2, '0')}`}, ${dims} dimension${dims === 1 ? '' : 's'})`;
}

/** Reads and checks the header; returns the dimension sizes and the offset where the data starts. */
function readHeader(bytes: Uint8Array, source: string, expectedMagic: number, what: string): { dims: number[]; dataOffset: number } {
  const rank = expectedMagic & 0xff;
  const headerLength = 4 + 4 * rank;
  if (bytes.length < 4) {
    throw new DataError(
      `${source}: truncated header: expected ${headerLength} header bytes for IDX ${what}, found only ${bytes.length} (the file ends at byte offset ${bytes.length})`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== expectedMagic) {
    throw new DataError(
      `${source}: bad magic number at byte offset 0: expected ${describeMagic(expectedMagic)} for IDX ${what}, found ${describeMagic(magic)}`,
    );
  }
  if (bytes.length < headerLength) {
    throw new DataError(
      `${source}: truncated header: expected ${headerLength} header bytes for IDX ${what}, found only ${bytes.length} (the file ends at byte offset ${bytes.length})`,
    );
  }
  const dims: number[] = [];
  for (let d = 0; d < rank; d++) dims.push(view.getUint32(4 + 4 * d, false));
  return { dims, dataOffset: headerLength };
}

/** Checks that exactly `count` data bytes follow the header. */
function checkDataLength(bytes: Uint8Array, source: string, dims: number[], dataOffset: number, what: string): void {
  const count = dims.reduce((a, b) => a * b, 1);
  const expectedLength = dataOffset + count;
  const sizes = dims.join(' x ');
  if (bytes.length < expectedLength) {
    throw new DataError(
      `${source}: truncated data: the header declares ${sizes} ${what}, which needs ${count} data bytes from byte offset ${dataOffset} ` +
        `(a file of ${expectedLength} bytes), found ${bytes.length - dataOffset} (the file ends at byte offset ${bytes.length})`,
    );
  }
  if (bytes.length > expectedLength) {
    throw new DataError(
      `${source}: unexpected trailing bytes: the header declares ${sizes} ${what}, so the file should end at byte offset ${expectedLength}, ` +
        `found ${bytes.length - expectedLength} more bytes (file size ${bytes.length})`,
    );
  }
}

/** IDX images (magic 0x00000803) → float32 tensor [N, rows, cols, 1] with pixels scaled from 0..255 to [0, 1]. */
export function parseIdxImages(bytes: Uint8Array, source: string): Tensor {
  const { dims, dataOffset } = readHeader(bytes, source, IDX_IMAGES_MAGIC, 'images');
  const [count, rows, cols] = dims;
  if (rows === 0 || cols === 0) throw new DataError(`${source}: expected images of at least 1 x 1 pixels (header at byte offset 8), found ${rows} x ${cols}`);
  checkDataLength(bytes, source, dims, dataOffset, 'pixels');
  const pixels = new Float32Array(count * rows * cols);
  for (let i = 0; i < pixels.length; i++) pixels[i] = bytes[dataOffset + i] / 255;
  return wrap(pixels, [count, rows, cols, 1]);
}

/** IDX labels (magic 0x00000801) → int32 tensor [N]; every label must be a digit 0..9. */
export function parseIdxLabels(bytes: Uint8Array, source: string): Tensor {
  const { dims, dataOffset } = readHeader(bytes, source, IDX_LABELS_MAGIC, 'labels');
  checkDataLength(bytes, source, dims, dataOffset, 'labels');
  const labels = new Int32Array(dims[0]);
  for (let i = 0; i < labels.length; i++) {
    const label = bytes[dataOffset + i];
    if (label > 9) throw new DataError(`${source}: label at index ${i} (byte offset ${dataOffset + i}) is ${label}, expected a digit 0..9`);
    labels[i] = label;
  }
  return wrap(labels, [labels.length]);
}
