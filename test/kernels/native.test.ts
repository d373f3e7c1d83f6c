/**
 * The native kernels (packages/ops/native/, opt-in through
 * enableNativeKernels() of @ndgraph/ops/node).
 *
 * On a machine with a C compiler the addon must have been built (on
 * install, or by `node packages/ops/scripts/build-native.mjs`) from the
 * current sources and must load: a missing build fails, it is never
 * skipped. Then every native kernel is compared with the JavaScript kernels
 * over random and odd shapes, bad arguments must throw clear errors, a
 * short LeNet-5 run must train like the wasm one, and 1 and 2 threads must
 * give the same bits. On a machine without one, enableNativeKernels() must
 * return false and leave the wasm kernels in place.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { Graph, gradients, lookupKernel, type Node, Session, type Tensor, tensor, toArray } from '@ndgraph/graph';
import { biasAdd, conv2d, matmul, relu, sum } from '@ndgraph/ops';
import { disableNativeKernels, enableNativeKernels, NATIVE_KERNEL_OPS, nativeAddon, nativeKernelsInfo } from '@ndgraph/ops/node';
import { Trainer, subset } from '@ndgraph/nn';
import { loadEmbeddedMnist } from '@ndgraph/nn/node';
import { uniformRandom } from '../helpers.ts';
import { lenetInference } from '../lenet-inference.ts';

const hasCompiler = spawnSync('cc', ['--version']).status === 0;
/** The wasm backend's own kernels, before anything is replaced. */
const wasmKernelsBefore = new Map(NATIVE_KERNEL_OPS.map((op) => [op, lookupKernel(op, 'wasm', 'float32')]));

afterAll(() => {
  disableNativeKernels();
  nativeAddon()?.setThreads(1);
});

/** Float32 values in [-1, 1) from a seed. */
function values(n: number, seed: number): Float32Array {
  const u = uniformRandom(seed);
  return Float32Array.from({ length: n }, () => u() * 2 - 1);
}

/** Runs `build` and the gradients of sum(output) on the js backend and on the wasm backend (with whatever kernels it has now). */
function jsAndWasm(shapes: number[][], seed: number, build: (xs: Node[]) => Node, withGradients = true, feedsOf?: (i: number, n: number) => Float32Array) {
  const g = new Graph({ backend: 'wasm' });
  const xs = shapes.map((s, i) => g.placeholder(`x${i}`, s));
  const y = build(xs);
  const fetches = withGradients ? [y, ...gradients(sum(y), xs)] : [y];
  const feeds = new Map(
    xs.map((x, i) => {
      const n = shapes[i].reduce((a, b) => a * b, 1);
      return [x, tensor(feedsOf ? feedsOf(i, n) : values(n, seed + i), shapes[i])];
    }),
  );
  const [js, wasm] = ['js', 'wasm'].map((backend) => new Session(g, { backend }).run(fetches, feeds));
  return { js, wasm };
}

/** Within 2e-5 of the largest reference magnitude (as the wasm kernels' property tests); NaN where the reference is NaN, the same infinities. */
function expectNear(fast: Tensor, reference: Tensor, label: string): void {
  const a = toArray(fast);
  const b = toArray(reference);
  expect(a.length, label).toBe(b.length);
  const scale = b.reduce((m, v) => (Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m), 1);
  for (let i = 0; i < a.length; i++) {
    const same = Number.isFinite(b[i]) ? Math.abs(a[i] - b[i]) <= 2e-5 * scale : Object.is(a[i], b[i]) || (Number.isNaN(a[i]) && Number.isNaN(b[i]));
    if (!same) expect.fail(`${label}: element ${i} is ${a[i]} with the native kernels, ${b[i]} with the JavaScript ones`);
  }
}

interface ConvCase {
  n: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
  kh: number;
  kw: number;
  stride: [number, number];
  padding: 'same' | 'valid';
}

const label = (c: object) => JSON.stringify(c);

/** Odd and LeNet-like cases by hand, then random ones (every size from 1; strides 1 to 3; 'valid' only where the window fits). */
function convCases(): ConvCase[] {
  const cases: ConvCase[] = [
    { n: 3, h: 28, w: 28, cin: 1, cout: 6, kh: 5, kw: 5, stride: [1, 1], padding: 'same' },
    { n: 2, h: 14, w: 14, cin: 6, cout: 16, kh: 5, kw: 5, stride: [1, 1], padding: 'valid' },
    { n: 9, h: 7, w: 5, cin: 17, cout: 9, kh: 1, kw: 1, stride: [1, 1], padding: 'same' },
    { n: 2, h: 9, w: 8, cin: 3, cout: 17, kh: 1, kw: 1, stride: [2, 2], padding: 'valid' },
    { n: 1, h: 11, w: 10, cin: 5, cout: 33, kh: 3, kw: 3, stride: [2, 2], padding: 'same' },
    { n: 4, h: 6, w: 9, cin: 2, cout: 4, kh: 3, kw: 5, stride: [2, 1], padding: 'valid' },
    { n: 1, h: 1, w: 1, cin: 1, cout: 1, kh: 3, kw: 3, stride: [1, 1], padding: 'same' },
    { n: 5, h: 4, w: 4, cin: 8, cout: 1, kh: 5, kw: 5, stride: [3, 3], padding: 'same' },
    { n: 2, h: 12, w: 12, cin: 16, cout: 24, kh: 3, kw: 3, stride: [1, 1], padding: 'same' },
    { n: 3, h: 10, w: 13, cin: 1, cout: 24, kh: 3, kw: 3, stride: [1, 1], padding: 'same' },
    { n: 2, h: 17, w: 16, cin: 1, cout: 12, kh: 5, kw: 3, stride: [2, 1], padding: 'same' },
    { n: 2, h: 9, w: 30, cin: 1, cout: 8, kh: 3, kw: 7, stride: [1, 1], padding: 'valid' },
  ];
  const u = uniformRandom(2024);
  const int = (lo: number, hi: number) => lo + Math.floor(u() * (hi - lo + 1));
  while (cases.length < 40) {
    const c: ConvCase = {
      n: int(1, 9),
      h: int(1, 12),
      w: int(1, 12),
      cin: int(1, 17),
      cout: int(1, 17),
      kh: [1, 3, 5][int(0, 2)],
      kw: [1, 3, 5][int(0, 2)],
      stride: [int(1, 3), int(1, 3)],
      padding: u() < 0.5 ? 'same' : 'valid',
    };
    if (c.padding === 'same' || (c.kh <= c.h && c.kw <= c.w)) cases.push(c);
  }
  return cases;
}

// One of the two describes below runs on any machine, each with real assertions (neither is a skip).
if (!hasCompiler)
  describe('native kernels on a machine without a C compiler', () => {
    it('are not available: enableNativeKernels() returns false and the wasm kernels stay registered', () => {
      expect(enableNativeKernels()).toBe(false);
      expect(nativeKernelsInfo().loaded).toBe(false);
      expect(nativeKernelsInfo().reason).toBeTruthy();
      for (const op of NATIVE_KERNEL_OPS) expect(lookupKernel(op, 'wasm', 'float32'), op).toBe(wasmKernelsBefore.get(op));
    });
  });

if (hasCompiler)
  describe('native kernels (this machine has a C compiler)', () => {
    it('were built from the current sources and load', async () => {
      const script = new URL('../../packages/ops/scripts/build-native.mjs', import.meta.url).href;
      const { hashNativeSources, readBuildStamp, buildCommand } = (await import(script)) as {
        hashNativeSources: () => string;
        readBuildStamp: () => { sources: string } | null;
        buildCommand: string;
      };
      const info = nativeKernelsInfo();
      if (!info.loaded) expect.fail(`cc exists here, but the native addon did not load (${info.reason}). Build it: ${buildCommand}`);
      const stamp = readBuildStamp();
      if (stamp?.sources !== hashNativeSources()) expect.fail(`the native addon is stale (built from ${stamp?.sources}); rebuild it: ${buildCommand}`);
      expect(info.simd).toMatch(/AVX|vectors/);
    });

    it('replace the wasm kernels of their ops while enabled', () => {
      expect(enableNativeKernels()).toBe(true);
      expect(nativeKernelsInfo()).toMatchObject({ loaded: true, enabled: true, threads: 1 });
      for (const op of NATIVE_KERNEL_OPS) {
        const kernel = lookupKernel(op, 'wasm', 'float32');
        expect(kernel, op).toBeTypeOf('function');
        expect(kernel, op).not.toBe(wasmKernelsBefore.get(op));
      }
    });

    const cases = convCases();
    it(`conv2d, conv2d + bias + relu, and both gradients agree with the JavaScript kernels (${cases.length} shapes)`, () => {
      expect(enableNativeKernels()).toBe(true);
      cases.forEach((c, i) => {
        const options = { strides: c.stride, padding: c.padding };
        const shapes = [[c.n, c.h, c.w, c.cin], [c.kh, c.kw, c.cin, c.cout], [c.cout]];
        // Forward only, so the planner fuses conv2d → biasAdd → relu into conv2dBiasRelu.
        const fused = jsAndWasm(shapes, 100 + i, ([x, f, b]) => relu(biasAdd(conv2d(x, f, options), b)), false);
        expectNear(fused.wasm[0], fused.js[0], `conv2dBiasRelu ${label(c)}`);
        // conv2d alone, with its input and filter gradients.
        const plain = jsAndWasm(shapes.slice(0, 2), 200 + i, ([x, f]) => conv2d(x, f, options));
        ['conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter'].forEach((what, k) => expectNear(plain.wasm[k], plain.js[k], `${what} ${label(c)}`));
      });
    });

    it('matmul with every transpose, and the fused dense layer, agree with the JavaScript kernels', () => {
      expect(enableNativeKernels()).toBe(true);
      const u = uniformRandom(77);
      const dims = [1, 2, 7, 8, 9, 16, 17, 33, 64, 120, 400];
      for (let i = 0; i < 40; i++) {
        const [m, k, n] = [0, 1, 2].map(() => dims[Math.floor(u() * dims.length)]);
        const transposeA = u() < 0.5;
        const transposeB = u() < 0.5;
        const c = { m, k, n, transposeA, transposeB };
        const r = jsAndWasm([transposeA ? [k, m] : [m, k], transposeB ? [n, k] : [k, n]], 300 + i, ([a, b]) => matmul(a, b, { transposeA, transposeB }));
        ['matmul', 'da', 'db'].forEach((what, j) => expectNear(r.wasm[j], r.js[j], `${what} ${label(c)}`));
        const dense = jsAndWasm([[m, k], [k, n], [n]], 400 + i, ([x, w, b]) => relu(biasAdd(matmul(x, w), b)), false);
        expectNear(dense.wasm[0], dense.js[0], `matmulBiasRelu ${label(c)}`);
      }
    });

    it('propagate NaN and infinities as the JavaScript kernels do', () => {
      expect(enableNativeKernels()).toBe(true);
      const withSpecials = (i: number, n: number): Float32Array => {
        const v = values(n, 500 + i);
        if (i === 0) {
          v[Math.floor(n / 3)] = Number.NaN;
          v[Math.floor((2 * n) / 3)] = Number.POSITIVE_INFINITY;
        }
        return v;
      };
      const conv = jsAndWasm(
        [
          [2, 9, 9, 3],
          [3, 3, 3, 5],
        ],
        0,
        ([x, f]) => conv2d(x, f, { padding: 'same' }),
        true,
        withSpecials,
      );
      ['conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter'].forEach((what, k) => expectNear(conv.wasm[k], conv.js[k], `${what} with NaN and Inf in x`));
      expect(toArray(conv.wasm[0]).some(Number.isNaN)).toBe(true);
      const mm = jsAndWasm(
        [
          [20, 30],
          [30, 24],
        ],
        0,
        ([a, b]) => matmul(a, b),
        false,
        withSpecials,
      );
      expectNear(mm.wasm[0], mm.js[0], 'matmul with NaN and Inf in a');
    });

    it('reject bad arguments with errors that say what was expected and found, writing nothing', () => {
      const native = nativeAddon()!;
      // LeNet's conv2: x [2, 14, 14, 6], filter [5, 5, 6, 16] → y [2, 10, 10, 16].
      const geometry = [2, 14, 14, 6, 5, 5, 1, 1, 0, 0, 10, 10, 16];
      const x = new Float32Array(2 * 14 * 14 * 6);
      const filter = new Float32Array(5 * 5 * 6 * 16);
      const y = new Float32Array(2 * 10 * 10 * 16 + 8).fill(7);
      expect(() => native.conv2dForward(x, 0, filter, 0, null, 0, false, y, 9, ...geometry)).toThrow(
        /conv2dForward: y needs 3200 float32 elements from offset 9 \(batch \* outHeight \* outWidth \* outChannels\), but its Float32Array has 3208/,
      );
      expect(() => native.conv2dForward(x.subarray(1), 0, filter, 0, null, 0, false, y, 0, ...geometry)).toThrow(/x needs 2352 float32 elements.*has 2351/);
      expect(() => native.conv2dForward(new Float64Array(x.length) as unknown as Float32Array, 0, filter, 0, null, 0, false, y, 0, ...geometry)).toThrow(
        /conv2dForward: x must be a Float32Array, found another typed array/,
      );
      expect(() => native.conv2dForward(x, 0, filter, 0, new Float32Array(15), 0, true, y, 0, ...geometry)).toThrow(/bias needs 16 float32 elements/);
      expect(() => native.conv2dForward(x, 0, filter, 0, null, 0, false, y, 0, ...geometry.slice(0, 12))).toThrow(/expected 22 arguments, found 21/);
      expect(() => native.conv2dBackpropInput(y, 0, filter, 0, x, 0, 2, 14, 14, 6, 0, 5, 1, 1, 0, 0, 10, 10, 16)).toThrow(
        /kernelHeight must be an integer from 1 to 2147483647, found 0/,
      );
      expect(() => native.conv2dBackpropFilter(x, 0, y, 0, filter, -1, ...geometry)).toThrow(/dfilterOffset must be an integer from 0/);
      expect(() => native.conv2dBackpropFilter(x, 0, y, 0, filter, 0.5, ...geometry)).toThrow(RangeError);
      expect(() => native.conv2dBackpropFilter(x, 0, y, 0, filter.subarray(0, 10), 0, ...geometry)).toThrow(/dfilter needs 2400 float32 elements/);
      const A = new Float32Array(12);
      const C = new Float32Array(16).fill(7);
      expect(() => native.gemm(false, false, 4, 4, 3, 1, A, 0, 2, A, 0, 4, 0, C, 0, 4, null, 0, false)).toThrow(
        /gemm: lda must be at least 3 \(the width of stored A, 4 x 3\), found 2/,
      );
      expect(() => native.gemm(false, false, 4, 4, 3, 1, A, 0, 3, A, 1, 4, 0, C, 0, 4, null, 0, false)).toThrow(
        /gemm: B needs 12 float32 elements from offset 1 \(stored B, 3 x 4 with row stride 4\), but its Float32Array has 12/,
      );
      expect(() => native.gemm(false, false, 4, 4, 3, 1, A, 0, 3, A, 0, 4, 0, C, 1, 4, null, 0, false)).toThrow(/C needs 16 float32 elements from offset 1/);
      expect(() => native.gemm(false, false, 4, 4, 3, 1, A, 0, 3, A, 0, 4, 0, C, 0, 4, null, 0, 1 as unknown as boolean)).toThrow(
        /relu must be a boolean, found a number/,
      );
      expect(y.every((v) => v === 7)).toBe(true);
      expect(C.every((v) => v === 7)).toBe(true);
    });

    it('read and write views of a WebAssembly memory, a SharedArrayBuffer and part of a larger array in place', () => {
      const native = nativeAddon()!;
      const [m, n, k] = [9, 21, 13];
      const a = values(m * k, 1);
      const b = values(k * n, 2);
      const expected = new Float64Array(m * n);
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) expected[i * n + j] += a[i * k + p] * b[p * n + j];
      const buffers = [
        new WebAssembly.Memory({ initial: 1 }).buffer,
        new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true }).buffer,
        new SharedArrayBuffer(65536),
      ];
      for (const buffer of buffers) {
        const all = new Float32Array(buffer, 0, 4 + m * k + k * n + m * n + 4).fill(-3);
        const A = all.subarray(4, 4 + m * k);
        const B = all.subarray(4 + m * k, 4 + m * k + k * n);
        A.set(a);
        B.set(b);
        // C as an offset into the whole array, its neighbours left alone.
        const cAt = 4 + m * k + k * n;
        native.gemm(false, false, m, n, k, 1, A, 0, k, B, 0, n, 0, all, cAt, n, null, 0, false);
        const C = all.subarray(cAt, cAt + m * n);
        C.forEach((v, i) => expect(Math.abs(v - expected[i]), `${buffer.constructor.name} C[${i}]`).toBeLessThan(1e-5));
        expect([...all.subarray(0, 4), ...all.subarray(cAt + m * n)]).toEqual([-3, -3, -3, -3, -3, -3, -3, -3]);
      }
    });

    it('give the same bits on 1 and 2 threads', () => {
      const native = nativeAddon()!;
      const run = (threads: number) => {
        expect(native.setThreads(threads)).toBe(threads);
        const out: Float32Array[] = [];
        for (const [n, h, cin, cout, k, pad] of [
          [64, 28, 1, 6, 5, 2],
          [24, 28, 1, 16, 3, 1],
          [64, 14, 6, 16, 5, 0],
          [24, 14, 16, 16, 3, 1],
          [16, 16, 24, 40, 3, 1],
        ]) {
          const o = h + 2 * pad - k + 1;
          const geometry = [n, h, h, cin, k, k, 1, 1, pad, pad, o, o, cout];
          const x = values(n * h * h * cin, 1);
          const f = values(k * k * cin * cout, 2);
          const bias = values(cout, 3);
          const dy = values(n * o * o * cout, 4);
          const y = new Float32Array(n * o * o * cout);
          const dx = new Float32Array(x.length);
          const df = new Float32Array(f.length);
          native.conv2dForward(x, 0, f, 0, bias, 0, true, y, 0, ...geometry);
          native.conv2dBackpropInput(dy, 0, f, 0, dx, 0, ...geometry);
          native.conv2dBackpropFilter(x, 0, dy, 0, df, 0, ...geometry);
          out.push(y, dx, df);
        }
        const A = values(300 * 200, 5);
        const B = values(200 * 100, 6);
        const C = new Float32Array(300 * 100);
        native.gemm(true, false, 300, 100, 200, 1, A, 0, 300, B, 0, 100, 0, C, 0, 100, null, 0, false);
        out.push(C);
        return out;
      };
      const one = run(1);
      const two = run(2);
      native.setThreads(1);
      one.forEach((r, i) => expect(Buffer.from(two[i].buffer).equals(Buffer.from(r.buffer)), `result ${i}`).toBe(true));
    });

    it('train LeNet-5 as the wasm kernels do: losses within 1e-4, and the same bits on 1 and 2 threads', () => {
      const data = loadEmbeddedMnist({ seed: 0 });
      const small = { train: subset(data.train, 0, 256), test: subset(data.test, 0, 64) };
      const losses = (): number[] => {
        const trainer = new Trainer({ epochs: 1, batchSize: 32, optimizer: 'momentum', learningRate: 0.05, seed: 3 }, small);
        const out: number[] = [];
        trainer.trainEpoch((step) => out.push(step.loss));
        return out;
      };
      disableNativeKernels();
      const wasm = losses();
      expect(enableNativeKernels()).toBe(true);
      const native = losses();
      expect(enableNativeKernels({ threads: 2 })).toBe(true);
      const twoThreads = losses();
      expect(enableNativeKernels({ threads: 1 })).toBe(true);
      expect(native).toHaveLength(8);
      native.forEach((loss, i) => expect(Math.abs(loss - wasm[i]) / Math.abs(wasm[i]), `step ${i}: ${loss} vs ${wasm[i]}`).toBeLessThan(1e-4));
      expect(twoThreads).toEqual(native);
    });

    it("run convolutions of one input channel on their own direct kernels, all but the input gradient, which gives the wasm kernel's bits", () => {
      const shapes = [
        [3, 12, 11, 1],
        [5, 5, 1, 6],
      ];
      const options = { padding: 'same' as const };
      const run = () => jsAndWasm(shapes, 7, ([x, f]) => conv2d(x, f, options)).wasm.map(toArray);
      disableNativeKernels();
      const [wasmForward, wasmInputGradient, wasmFilterGradient] = run();
      expect(enableNativeKernels()).toBe(true);
      const [forward, inputGradient, filterGradient] = run();
      expect(inputGradient).toEqual(wasmInputGradient);
      // The forward pass and the filter gradient are the native kernels' (fused multiply-adds): close to the wasm ones, not the same bits.
      expect(forward).not.toEqual(wasmForward);
      expect(filterGradient).not.toEqual(wasmFilterGradient);
      forward.forEach((v, i) => expect(Math.abs(v - wasmForward[i])).toBeLessThan(1e-5));
      filterGradient.forEach((v, i) => expect(Math.abs(v - wasmFilterGradient[i])).toBeLessThan(1e-4));
    });

    it('infer LeNet-5 with conv → relu → pool fused as the unfused plan does (native convolutions, the wasm pooling), the same bits', () => {
      const run = lenetInference(11, 51);
      expect(enableNativeKernels()).toBe(true);
      const fused = run(true);
      const plain = run(false);
      expect(fused.ops.filter((op) => op === 'conv2dBiasReluMaxPool')).toHaveLength(2);
      expect(fused.values).toEqual(plain.values);
      disableNativeKernels();
      const wasm = run(true).values;
      expect(enableNativeKernels()).toBe(true);
      // The native convolutions' bits, not the wasm ones'.
      expect(fused.values).not.toEqual(wasm);
      fused.values.forEach((v, i) => expect(Math.abs(v - wasm[i])).toBeLessThan(1e-4));
    });

    it('can be disabled: the wasm kernels are back', () => {
      disableNativeKernels();
      expect(nativeKernelsInfo().enabled).toBe(false);
      for (const op of NATIVE_KERNEL_OPS) expect(lookupKernel(op, 'wasm', 'float32'), op).toBe(wasmKernelsBefore.get(op));
    });
  });
