/**
 * The safetensors checkpoint format (as written by Hugging Face's `safetensors`),
 * encoded and decoded in memory so it works in the browser too:
 *
 *   bytes 0..8        N, the header length, an unsigned 64-bit little-endian integer
 *   bytes 8..8+N      UTF-8 JSON header:
 *                       { "<tensor name>": { "dtype": "F32" | "F64" | "I32",
 *                                            "shape": [d0, d1, ...],
 *                                            "data_offsets": [begin, end] },
 *                         ...,
 *                         "__metadata__": { "<key>": "<string value>" } }   (optional)
 *                     padded with spaces so the data starts at a multiple of 8 bytes
 *   bytes 8+N..       the tensors' raw little-endian bytes; offsets count from byte 8+N
 *
 * The data block must be covered exactly: tensors neither overlap nor leave
 * holes, and nothing follows the last one. Every check on decoding throws a
 * DataError naming the source, what was expected, what was found and the byte
 * offset in the file.
 */
import { type DType, type Tensor, DataError, GraphError, dtypeOf, newTypedArray, shapeSize, wrap } from '@ndgraph/graph';

/** safetensors dtype code ↔ our dtype, with the size of one element in bytes. */
const CODES: Record<string, { dtype: DType; itemSize: number }> = {
  F32: { dtype: 'float32', itemSize: 4 },
  F64: { dtype: 'float64', itemSize: 8 },
  I32: { dtype: 'int32', itemSize: 4 },
};
const CODE_OF: Record<DType, string> = { float32: 'F32', float64: 'F64', int32: 'I32' };

const METADATA_KEY = '__metadata__';
const HEADER_LENGTH_BYTES = 8;

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export interface DecodedSafetensors {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

/** Sets a property even if its name is '__proto__' (names come from the file). */
function setEntry<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Encodes tensors (any layout; float32, float64 or int32) and string metadata
 * as safetensors bytes. Tensors are laid out in the order of the record's keys.
 */
export function encodeSafetensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors);
  const header: Record<string, unknown> = {};
  if (metadata !== undefined && Object.keys(metadata).length > 0) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') throw new GraphError(`encodeSafetensors: metadata '${key}' must be a string, found ${typeof value}`);
    }
    setEntry(header, METADATA_KEY, metadata);
  }
  let dataLength = 0;
  for (const name of names) {
    if (name === METADATA_KEY) throw new GraphError(`encodeSafetensors: '${METADATA_KEY}' is reserved for metadata and cannot name a tensor`);
    const t = tensors[name];
    const code = CODE_OF[dtypeOf(t)];
    const size = t.size * CODES[code].itemSize;
    setEntry(header, name, { dtype: code, shape: t.shape.slice(), data_offsets: [dataLength, dataLength + size] });
    dataLength += size;
  }

  const json = new TextEncoder().encode(JSON.stringify(header));
  // Pad with spaces (valid JSON whitespace) so the data block starts 8-byte aligned.
  const headerLength = Math.ceil((HEADER_LENGTH_BYTES + json.length) / 8) * 8 - HEADER_LENGTH_BYTES;
  const bytes = new Uint8Array(HEADER_LENGTH_BYTES + headerLength + dataLength);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  bytes.set(json, HEADER_LENGTH_BYTES);
  bytes.fill(0x20, HEADER_LENGTH_BYTES + json.length, HEADER_LENGTH_BYTES + headerLength);

  let position = HEADER_LENGTH_BYTES + headerLength;
  for (const name of names) {
    position = writeElements(view, position, tensors[name]);
  }
  return bytes;
}

/** Writes a tensor's elements in row-major order, little-endian, from `position`; returns the position after them. */
function writeElements(view: DataView, position: number, t: Tensor): number {
  const dtype = dtypeOf(t);
  const rank = t.shape.length;
  const index = new Array<number>(rank).fill(0);
  for (let i = 0; i < t.size; i++) {
    // Strided read, so views and transposes are written in their logical order.
    let p = t.offset;
    for (let k = 0; k < rank; k++) p += index[k] * t.stride[k];
    const x = t.data[p];
    if (dtype === 'float32') view.setFloat32(position, x, true);
    else if (dtype === 'float64') view.setFloat64(position, x, true);
    else view.setInt32(position, x, true);
    position += CODES[CODE_OF[dtype]].itemSize;
    for (let k = rank - 1; k >= 0; k--) {
      if (++index[k] < t.shape[k]) break;
      index[k] = 0;
    }
  }
  return position;
}

/** Decodes safetensors bytes. `source` (a file name, say) is named in every error. */
export function decodeSafetensors(bytes: Uint8Array, source = '<bytes>'): DecodedSafetensors {
  const fail = (offset: number, message: string): never => {
    throw new DataError(`${source}: ${message} (at byte offset ${offset})`);
  };
  const fileLength = bytes.length;
  if (fileLength < HEADER_LENGTH_BYTES) {
    fail(0, `truncated safetensors file: expected at least ${HEADER_LENGTH_BYTES} bytes for the header length, found ${fileLength} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(fileLength - HEADER_LENGTH_BYTES)) {
    fail(
      0,
      `header length ${declared} runs past the end of the file: expected at most ${fileLength - HEADER_LENGTH_BYTES} (the file has ${fileLength} bytes), found ${declared}`,
    );
  }
  const headerLength = Number(declared);
  const dataStart = HEADER_LENGTH_BYTES + headerLength;
  const dataLength = fileLength - dataStart;

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(HEADER_LENGTH_BYTES, dataStart));
  } catch {
    return fail(HEADER_LENGTH_BYTES, `header is not valid UTF-8: expected ${headerLength} bytes of UTF-8 JSON, found invalid byte sequences`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    const preview = text.length > 40 ? `${JSON.stringify(text.slice(0, 40))}…` : JSON.stringify(text);
    return fail(HEADER_LENGTH_BYTES, `header is not valid JSON: expected a JSON object, found ${preview} (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    fail(
      HEADER_LENGTH_BYTES,
      `header is not a JSON object: expected { "<name>": { dtype, shape, data_offsets }, ... }, found ${Array.isArray(header) ? 'an array' : String(header)}`,
    );
  }
  const entries = header as Record<string, unknown>;

  const metadata: Record<string, string> = {};
  if (Object.hasOwn(entries, METADATA_KEY)) {
    const raw = entries[METADATA_KEY];
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      fail(HEADER_LENGTH_BYTES, `'${METADATA_KEY}' must be an object of strings, found ${JSON.stringify(raw)}`);
    }
    for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof value !== 'string') fail(HEADER_LENGTH_BYTES, `metadata '${key}': expected a string value, found ${JSON.stringify(value)}`);
      setEntry(metadata, key, value as string);
    }
  }

  // Check each entry on its own, then that together they tile the data block.
  const checked: { name: string; entry: HeaderEntry; itemSize: number; dtype: DType }[] = [];
  for (const name of Object.keys(entries)) {
    if (name === METADATA_KEY) continue;
    const entry = entries[name] as Partial<HeaderEntry> | null;
    const where = `tensor '${name}'`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      fail(HEADER_LENGTH_BYTES, `${where}: expected { dtype, shape, data_offsets }, found ${JSON.stringify(entry)}`);
    }
    const { dtype: code, shape, data_offsets: offsets } = entry!;
    if (typeof code !== 'string' || !Object.hasOwn(CODES, code)) {
      fail(HEADER_LENGTH_BYTES, `${where}: unsupported dtype: expected one of ${Object.keys(CODES).join(', ')}, found ${JSON.stringify(code)}`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(HEADER_LENGTH_BYTES, `${where}: bad shape: expected an array of non-negative integers, found ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(HEADER_LENGTH_BYTES, `${where}: bad data_offsets: expected [begin, end] with non-negative integers, found ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets!;
    const { dtype, itemSize } = CODES[code!];
    if (end < begin) fail(dataStart + begin, `${where}: bad data_offsets: expected begin ≤ end, found [${begin}, ${end}]`);
    if (end > dataLength) {
      fail(
        dataStart + begin,
        `${where}: data_offsets [${begin}, ${end}] run past the end of the file: expected end ≤ ${dataLength} (the data block's length), found ${end}`,
      );
    }
    const expectedBytes = shapeSize(shape!) * itemSize;
    if (end - begin !== expectedBytes) {
      fail(
        dataStart + begin,
        `${where}: data_offsets [${begin}, ${end}] do not fit the shape: expected ${expectedBytes} bytes (${JSON.stringify(shape)} × ${itemSize}-byte ${code}), found ${end - begin}`,
      );
    }
    checked.push({ name, entry: entry as HeaderEntry, itemSize, dtype });
  }

  const byPosition = [...checked].sort((a, b) => a.entry.data_offsets[0] - b.entry.data_offsets[0] || a.entry.data_offsets[1] - b.entry.data_offsets[1]);
  let covered = 0; // the data block is covered up to here
  let previous = '';
  for (const { name, entry } of byPosition) {
    const [begin, end] = entry.data_offsets;
    if (begin < covered) {
      fail(
        dataStart + begin,
        `tensor '${name}' overlaps tensor '${previous}': expected data_offsets to start at ${covered} or later, found [${begin}, ${end}]`,
      );
    }
    if (begin > covered) {
      fail(dataStart + covered, `hole in the data block before tensor '${name}': expected it to start at ${covered}, found [${begin}, ${end}]`);
    }
    covered = end;
    previous = name;
  }
  if (covered !== dataLength) {
    fail(
      dataStart + covered,
      `trailing bytes after the last tensor: expected the file to end at byte ${dataStart + covered}, found ${dataLength - covered} more bytes`,
    );
  }

  const tensors: Record<string, Tensor> = {};
  for (const { name, entry, itemSize, dtype } of checked) {
    const size = shapeSize(entry.shape);
    const data = newTypedArray(dtype, size);
    // Copy element by element through the DataView: the bytes may not be aligned for a typed-array view.
    let position = dataStart + entry.data_offsets[0];
    for (let i = 0; i < size; i++, position += itemSize) {
      data[i] = dtype === 'float32' ? view.getFloat32(position, true) : dtype === 'float64' ? view.getFloat64(position, true) : view.getInt32(position, true);
    }
    setEntry(tensors, name, wrap(data, entry.shape));
  }
  return { tensors, metadata };
}
