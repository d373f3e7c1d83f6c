/**
 * LeNet-5 as an ONNX model, from the benchmark's initial weights, for the
 * onnxruntime engine (bench/onnxruntime.ts). A small protobuf writer for the
 * few ONNX messages the model needs (ModelProto, GraphProto, NodeProto,
 * AttributeProto, TensorProto, ValueInfoProto), field numbers from onnx.proto.
 *
 *   npx tsx bench/onnx-export.ts OUT.onnx   # writes the model from freshly built benchmark data
 *
 * The graph takes NHWC images [batch, 28, 28, 1], as every engine is fed:
 * Transpose to NCHW → Conv 5×5×6 (pads 2) → Relu → MaxPool 2 → Conv 5×5×16 →
 * Relu → MaxPool 2 → Flatten → Gemm 120 → Relu → Gemm 84 → Relu → Gemm 10 →
 * logits [batch, 10]. ndgraph flattens [N, 5, 5, 16] (NHWC); ONNX's Flatten
 * of [N, 16, 5, 5] is in NCHW order, so the rows of the first dense weights
 * are permuted once here to match.
 */
import { writeFileSync } from 'node:fs';
import type { RawTensor } from './engine-common.ts';

// ---------------------------------------------------------------------------
// Protobuf wire format: varints, length-delimited fields, fixed 32-bit floats.

const VARINT = 0;
const LENGTH_DELIMITED = 2;

/** Bytes of a message under construction. */
class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private length = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  private varint(value: number | bigint): void {
    // int64 fields: negative values are written as their two's complement, 10 bytes.
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    do {
      const low = Number(v & 0x7fn);
      v >>= 7n;
      out.push(v ? low | 0x80 : low);
    } while (v);
    this.push(Uint8Array.from(out));
  }

  private tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  int(field: number, value: number): this {
    this.tag(field, VARINT);
    this.varint(value);
    return this;
  }

  /** A repeated integer field, one entry per value (proto2's unpacked encoding, which ONNX's proto2 schema declares). */
  ints(field: number, values: readonly number[]): this {
    for (const v of values) this.int(field, v);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, LENGTH_DELIMITED);
    this.varint(value.length);
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, value: ProtoWriter): this {
    return this.bytes(field, value.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------
// ONNX messages (onnx.proto, IR version 8, the default opset).

const IR_VERSION = 8;
const OPSET = 13;
/** TensorProto.DataType */
const FLOAT = 1;
/** AttributeProto.AttributeType */
const ATTRIBUTE_INT = 2;
const ATTRIBUTE_INTS = 7;

type Attribute = { name: string; int: number } | { name: string; ints: number[] };

function attribute(a: Attribute): ProtoWriter {
  const w = new ProtoWriter().string(1, a.name); // name
  return 'int' in a ? w.int(3, a.int).int(20, ATTRIBUTE_INT) : w.ints(8, a.ints).int(20, ATTRIBUTE_INTS); // i / ints, type
}

function node(opType: string, inputs: string[], outputs: string[], attributes: Attribute[] = []): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of inputs) w.string(1, i); // input
  for (const o of outputs) w.string(2, o); // output
  w.string(3, outputs[0]); // name
  w.string(4, opType); // op_type
  for (const a of attributes) w.message(5, attribute(a)); // attribute
  return w;
}

function floatTensor(name: string, dims: number[], data: Float32Array): ProtoWriter {
  const size = dims.reduce((a, b) => a * b, 1);
  if (size !== data.length) throw new Error(`onnx export: ${name} has ${data.length} values, expected [${dims}] = ${size}`);
  // raw_data is little-endian float32.
  const raw = new Uint8Array(data.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i], true);
  return new ProtoWriter()
    .ints(1, dims) // dims
    .int(2, FLOAT) // data_type
    .string(8, name) // name
    .bytes(9, raw); // raw_data
}

/** ValueInfoProto of a float tensor; a string dimension is symbolic (dim_param). */
function valueInfo(name: string, dims: (number | string)[]): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of dims) shape.message(1, typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d)); // dim: dim_value / dim_param
  const tensorType = new ProtoWriter().int(1, FLOAT).message(2, shape); // elem_type, shape
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensorType)); // name, type.tensor_type
}

// ---------------------------------------------------------------------------
// LeNet-5.

/** Name of the model's input (NHWC float32 images) and output (logits). */
export const ONNX_INPUT = 'images';
export const ONNX_OUTPUT = 'logits';

/** A copy of `w` with axes permuted: `shape` is w's shape, `perm[i]` the source axis of output axis i. */
export function transpose(w: Float32Array, shape: number[], perm: number[]): { data: Float32Array; shape: number[] } {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const strides = new Array<number>(rank);
  for (let i = rank - 1, s = 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  const out = new Float32Array(w.length);
  const index = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let from = 0;
    for (let i = 0; i < rank; i++) from += index[i] * strides[perm[i]];
    out[o] = w[from];
    for (let i = rank - 1; i >= 0; i--) {
      if (++index[i] < outShape[i]) break;
      index[i] = 0;
    }
  }
  return { data: out, shape: outShape };
}

/** The ONNX model bytes of LeNet-5 with the given weights (ndgraph's names and layouts). */
export function lenetOnnx(weights: Record<string, RawTensor<Float32Array>>): Uint8Array {
  const get = (name: string) => {
    const w = weights[name];
    if (!w) throw new Error(`onnx export: no weights '${name}'`);
    return w;
  };
  const initializers: ProtoWriter[] = [];
  const init = (name: string, t: { data: Float32Array; shape: number[] }) => {
    initializers.push(floatTensor(name, t.shape, t.data));
    return name;
  };
  // Conv filters: ndgraph [kh, kw, in, out] → ONNX [out, in, kh, kw].
  const filter = (name: string) => init(name, transpose(get(name).data, get(name).shape, [3, 2, 0, 1]));
  const plain = (name: string) => init(name, { data: get(name).data, shape: get(name).shape });
  // fc1's rows follow ndgraph's NHWC flatten ((h * 5 + w) * 16 + c); ONNX's Flatten of NCHW is c * 25 + h * 5 + w.
  const fc1 = get('lenet/fc1/dense/w');
  const fc1Rows = transpose(fc1.data, [5, 5, 16, 120], [2, 0, 1, 3]);

  const nodes = [
    node('Transpose', [ONNX_INPUT], ['nchw'], [{ name: 'perm', ints: [0, 3, 1, 2] }]),
    node(
      'Conv',
      ['nchw', filter('lenet/conv1/conv/w'), plain('lenet/conv1/conv/b')],
      ['conv1'],
      [
        { name: 'kernel_shape', ints: [5, 5] },
        { name: 'pads', ints: [2, 2, 2, 2] },
        { name: 'strides', ints: [1, 1] },
      ],
    ),
    node('Relu', ['conv1'], ['relu1']),
    node(
      'MaxPool',
      ['relu1'],
      ['pool1'],
      [
        { name: 'kernel_shape', ints: [2, 2] },
        { name: 'strides', ints: [2, 2] },
      ],
    ),
    node(
      'Conv',
      ['pool1', filter('lenet/conv2/conv/w'), plain('lenet/conv2/conv/b')],
      ['conv2'],
      [
        { name: 'kernel_shape', ints: [5, 5] },
        { name: 'pads', ints: [0, 0, 0, 0] },
        { name: 'strides', ints: [1, 1] },
      ],
    ),
    node('Relu', ['conv2'], ['relu2']),
    node(
      'MaxPool',
      ['relu2'],
      ['pool2'],
      [
        { name: 'kernel_shape', ints: [2, 2] },
        { name: 'strides', ints: [2, 2] },
      ],
    ),
    node('Flatten', ['pool2'], ['flat'], [{ name: 'axis', int: 1 }]),
    node('Gemm', ['flat', init('lenet/fc1/dense/w', { data: fc1Rows.data, shape: [400, 120] }), plain('lenet/fc1/dense/b')], ['fc1']),
    node('Relu', ['fc1'], ['relu3']),
    node('Gemm', ['relu3', plain('lenet/fc2/dense/w'), plain('lenet/fc2/dense/b')], ['fc2']),
    node('Relu', ['fc2'], ['relu4']),
    node('Gemm', ['relu4', plain('lenet/logits/w'), plain('lenet/logits/b')], [ONNX_OUTPUT]),
  ];

  const graph = new ProtoWriter();
  for (const n of nodes) graph.message(1, n); // node
  graph.string(2, 'lenet5'); // name
  for (const t of initializers) graph.message(5, t); // initializer
  graph.message(11, valueInfo(ONNX_INPUT, ['batch', 28, 28, 1])); // input
  graph.message(12, valueInfo(ONNX_OUTPUT, ['batch', 10])); // output
  return new ProtoWriter()
    .int(1, IR_VERSION) // ir_version
    .string(2, 'ndgraph bench/onnx-export.ts') // producer_name
    .message(7, graph) // graph
    .message(8, new ProtoWriter().string(1, '').int(2, OPSET)) // opset_import: default domain
    .finish();
}

if (process.argv[1]?.endsWith('onnx-export.ts')) {
  const out = process.argv[2];
  if (!out) throw new Error('usage: npx tsx bench/onnx-export.ts OUT.onnx');
  const { buildBenchData } = await import('./common.ts');
  const bytes = lenetOnnx(buildBenchData().initialWeights);
  writeFileSync(out, bytes);
  console.log(`${out}: ${bytes.length} bytes`);
}
