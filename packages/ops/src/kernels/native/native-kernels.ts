/**
 * Node only, opt-in: native float32 kernels for conv2d, its gradients and
 * matmul — C compiled for this machine's vector instructions (AVX-512 or
 * AVX2 with FMA) and loaded as a Node-API addon — in place of the
 * WebAssembly SIMD kernels, whose vectors are 128 bits wide.
 *
 *   enableNativeKernels()         true when the addon loaded and its kernels now run
 *   enableNativeKernels({ threads: 2 })   split their work between 2 threads
 *   disableNativeKernels()        the WebAssembly kernels again
 *
 * The addon (packages/ops/native/, built by scripts/build-native.mjs when
 * the package is installed on a machine with a C compiler) takes the place
 * of the wasm backend's kernels in the kernel table, for the ops conv2d,
 * conv2dBiasRelu, conv2dBias, conv2dBiasReluMaxPool, conv2dBackpropInput, conv2dBackpropFilter, matmul and
 * matmulBiasRelu (the input gradient of a convolution of one input channel keeps the wasm kernel);
 * everything else stays as it is. Tensors of the wasm
 * backend are Float32Array views of the WebAssembly memory, which the
 * native kernels read and write in place. Sessions choose their kernels
 * when they plan a run, so enable the kernels before the first run.
 *
 * Opt-in because the results differ from the WebAssembly kernels' in the
 * last bits (fused multiply-adds, another order of summation), and some
 * runs are compared bit for bit across machines. Within that tolerance the
 * kernels compute what the JavaScript kernels compute (tested in
 * test/kernels/native.test.ts); they give the same bits on any number of
 * threads.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { type Kernel, lookupKernel, registerKernel, type Tensor } from '@ndgraph/graph';
import '../../index.ts';
import type { ConvPoolAttrs } from '../../ops/conv2d-bias-relu-max-pool.ts';
import type { MatmulAttrs } from '../../ops/matmul.ts';
import { conv2dOutputShape, type WindowAttrs } from '../../window.ts';
import { type ConvGeometry, convGeometry } from '../geometry.ts';
import { gemm } from '../js/gemm.ts';
import { WASM_BACKEND } from '../wasm/backend.ts';
import { wasmKernels } from '../wasm/runtime.ts';

/** The addon's interface version (ND_ABI in native/addon.c): a build with another one is not loaded. */
const NATIVE_ABI = 1;

/** Where scripts/build-native.mjs writes the addon, relative to this file (the same from src/ and from build/). */
export const NATIVE_ADDON_PATH = fileURLToPath(new URL('../../../native/build/ndgraph-native.node', import.meta.url));

/** The functions of native/addon.c (see its header for the arguments). */
export interface NativeAddon {
  readonly abi: number;
  /** The vector instructions the addon was compiled for: 'AVX-512', 'AVX2' or '128-bit vectors'. */
  readonly simd: string;
  gemm(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    alpha: number,
    A: Float32Array,
    aOffset: number,
    lda: number,
    B: Float32Array,
    bOffset: number,
    ldb: number,
    beta: number,
    C: Float32Array,
    cOffset: number,
    ldc: number,
    bias: Float32Array | null,
    biasOffset: number,
    relu: boolean,
  ): void;
  conv2dForward(
    x: Float32Array,
    xOffset: number,
    filter: Float32Array,
    filterOffset: number,
    bias: Float32Array | null,
    biasOffset: number,
    relu: boolean,
    y: Float32Array,
    yOffset: number,
    ...geometry: number[]
  ): void;
  conv2dBackpropInput(
    dy: Float32Array,
    dyOffset: number,
    filter: Float32Array,
    filterOffset: number,
    dx: Float32Array,
    dxOffset: number,
    ...geometry: number[]
  ): void;
  conv2dBackpropFilter(
    x: Float32Array,
    xOffset: number,
    dy: Float32Array,
    dyOffset: number,
    dfilter: Float32Array,
    dfilterOffset: number,
    ...geometry: number[]
  ): void;
  /** Sets the number of threads the kernels use (1 to 16); returns the number now used. */
  setThreads(n: number): number;
  threads(): number;
}

export interface NativeKernelsInfo {
  /** True when the addon is loaded. */
  loaded: boolean;
  /** True while its kernels are registered (between enableNativeKernels and disableNativeKernels). */
  enabled: boolean;
  /** Where the addon is looked for. */
  path: string;
  /** Why it did not load, when it did not. */
  reason?: string;
  simd?: string;
  threads?: number;
}

let addon: NativeAddon | null | undefined;
let loadFailure: string | undefined;

/** The addon, loaded on first use; null when it is not built or does not load here. */
export function nativeAddon(): NativeAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (!existsSync(NATIVE_ADDON_PATH)) {
    loadFailure = 'the addon is not built (no C compiler when the package was installed? run: node scripts/build-native.mjs in @ndgraph/ops)';
    return addon;
  }
  try {
    const loaded = createRequire(import.meta.url)(NATIVE_ADDON_PATH) as NativeAddon;
    if (loaded.abi !== NATIVE_ABI)
      loadFailure = `the addon has interface version ${loaded.abi}, expected ${NATIVE_ABI}: rebuild it (node scripts/build-native.mjs)`;
    else addon = loaded;
  } catch (error) {
    loadFailure = `the addon did not load: ${(error as Error).message}`;
  }
  return addon;
}

const f32 = (t: Tensor): Float32Array => t.data as Float32Array;

/** The 13 integers of the addon's conv geometry. */
function geometryArgs(g: ConvGeometry, outChannels: number): number[] {
  return [
    g.batch,
    g.inHeight,
    g.inWidth,
    g.channels,
    g.kernelHeight,
    g.kernelWidth,
    g.strideHeight,
    g.strideWidth,
    g.padTop,
    g.padLeft,
    g.outHeight,
    g.outWidth,
    outChannels,
  ];
}

/** Products with fewer multiply-adds than this stay in JavaScript, where a call costs less than they do (as for the wasm GEMM). */
const MATMUL_MIN_WORK = 512;

/**
 * The native column of the kernel table, built from tensors as wasm/registry.ts builds its own.
 * The input gradient of a convolution of one input channel (a first layer on grey images,
 * whose input gradient few models need) keeps the wasm backend's kernel (`wasm`): its direct
 * single-channel loop beats the C GEMM and col2im there (bench/README.md, "Native kernels").
 */
function nativeKernels(native: NativeAddon, wasm: ReadonlyMap<string, Kernel>): Record<string, Kernel> {
  /** The op's wasm kernel when x (input `xAt`) has one channel, else the native one. */
  const unlessSingleChannel =
    (op: string, xAt: number, kernel: Kernel): Kernel =>
    (inputs, attrs, ctx) => {
      const own = inputs[xAt].shape[3] === 1 ? wasm.get(op) : undefined;
      return own ? own(inputs, attrs, ctx) : kernel(inputs, attrs, ctx);
    };
  const wasmMaxPool = lookupKernel<Kernel>('maxPool', WASM_BACKEND, 'float32')!;
  const convForward = ([x, filter, bias]: Tensor[], attrs: WindowAttrs, out: Tensor, relu: boolean): Tensor => {
    const g = convGeometry(x.shape, [filter.shape[0], filter.shape[1]], attrs);
    native.conv2dForward(
      f32(x),
      x.offset,
      f32(filter),
      filter.offset,
      bias ? f32(bias) : null,
      bias?.offset ?? 0,
      relu,
      f32(out),
      out.offset,
      ...geometryArgs(g, filter.shape[3]),
    );
    return out;
  };
  return {
    matmul([a, b], attrs: MatmulAttrs, ctx) {
      const out = ctx.output();
      const [m, n] = out.shape;
      const transA = attrs.transposeA ?? false;
      const transB = attrs.transposeB ?? false;
      const k = transA ? a.shape[0] : a.shape[1];
      // Row strides of a and b as stored (before any transpose).
      if (m * n * k < MATMUL_MIN_WORK) gemm(transA, transB, m, n, k, 1, f32(a), a.offset, a.shape[1], f32(b), b.offset, b.shape[1], 0, f32(out), out.offset, n);
      else native.gemm(transA, transB, m, n, k, 1, f32(a), a.offset, a.shape[1], f32(b), b.offset, b.shape[1], 0, f32(out), out.offset, n, null, 0, false);
      return out;
    },
    matmulBiasRelu([x, w, bias], _attrs, ctx) {
      const out = ctx.output();
      const [m, k] = x.shape;
      const n = w.shape[1];
      native.gemm(false, false, m, n, k, 1, f32(x), x.offset, k, f32(w), w.offset, n, 0, f32(out), out.offset, n, f32(bias), bias.offset, true);
      return out;
    },
    conv2d: (inputs, attrs: WindowAttrs, ctx) => convForward([inputs[0], inputs[1]], attrs, ctx.output(), false),
    conv2dBiasRelu: (inputs, attrs: WindowAttrs, ctx) => convForward(inputs, attrs, ctx.output(), true),
    conv2dBias: (inputs, attrs: WindowAttrs, ctx) => convForward(inputs, attrs, ctx.output(), false),
    // The native convolution, then the wasm backend's pooling: the convolution is where the time goes (bench/README.md, "fused for inference").
    conv2dBiasReluMaxPool([x, filter, bias], attrs: ConvPoolAttrs, ctx) {
      const activation = ctx.scratch(conv2dOutputShape(x.shape, filter.shape, attrs.conv), 'float32');
      convForward([x, filter, bias], attrs.conv, activation, true);
      return wasmMaxPool([activation], attrs.pool, ctx);
    },
    conv2dBackpropInput: unlessSingleChannel('conv2dBackpropInput', 2, ([dy, filter, x], attrs: WindowAttrs, ctx) => {
      const g = convGeometry(x.shape, [filter.shape[0], filter.shape[1]], attrs);
      const dx = ctx.output(); // written whole
      native.conv2dBackpropInput(f32(dy), dy.offset, f32(filter), filter.offset, f32(dx), dx.offset, ...geometryArgs(g, filter.shape[3]));
      return dx;
    }),
    conv2dBackpropFilter([dy, x, filter], attrs: WindowAttrs, ctx) {
      const g = convGeometry(x.shape, [filter.shape[0], filter.shape[1]], attrs);
      const out = ctx.output(); // written whole
      native.conv2dBackpropFilter(f32(x), x.offset, f32(dy), dy.offset, f32(out), out.offset, ...geometryArgs(g, filter.shape[3]));
      return out;
    },
  };
}

/** The ops whose wasm kernels the native ones replace. */
export const NATIVE_KERNEL_OPS = [
  'conv2d',
  'conv2dBiasRelu',
  'conv2dBias',
  'conv2dBiasReluMaxPool',
  'conv2dBackpropInput',
  'conv2dBackpropFilter',
  'matmul',
  'matmulBiasRelu',
] as const;

/** The wasm backend's own kernels for those ops, kept while the native ones are registered. */
let replaced: Map<string, Kernel> | null = null;

export interface NativeKernelOptions {
  /** Threads the native kernels split their work between (this one included); default 1. */
  threads?: number;
}

/**
 * Registers the native kernels for the wasm backend's float32 tensors.
 * Returns false, changing nothing, when the addon is not built or does not
 * load here, or when the wasm backend cannot run (see nativeKernelsInfo()
 * for why). Sessions planned before keep the kernels they chose.
 */
export function enableNativeKernels(options: NativeKernelOptions = {}): boolean {
  const native = nativeAddon();
  if (!native) return false;
  if (!wasmKernels()) {
    loadFailure = 'the wasm backend, whose tensors the native kernels work on, does not run here';
    return false;
  }
  native.setThreads(Math.max(1, Math.floor(options.threads ?? 1)));
  if (replaced) return true;
  const wasm = new Map<string, Kernel>();
  for (const op of NATIVE_KERNEL_OPS) {
    const previous = lookupKernel<Kernel>(op, WASM_BACKEND, 'float32');
    if (previous) wasm.set(op, previous);
  }
  const kernels = nativeKernels(native, wasm);
  replaced = wasm;
  for (const op of NATIVE_KERNEL_OPS) registerKernel(op, WASM_BACKEND, kernels[op]);
  return true;
}

/** Puts the wasm backend's own kernels back (sessions planned before keep the kernels they chose). */
export function disableNativeKernels(): void {
  if (!replaced) return;
  for (const [op, kernel] of replaced) registerKernel(op, WASM_BACKEND, kernel);
  replaced = null;
}

/** Whether the addon loaded, whether its kernels are registered, and what it was compiled for. */
export function nativeKernelsInfo(): NativeKernelsInfo {
  const native = nativeAddon();
  return {
    loaded: native !== null,
    enabled: replaced !== null,
    path: NATIVE_ADDON_PATH,
    ...(loadFailure && !replaced ? { reason: loadFailure } : {}),
    ...(native ? { simd: native.simd, threads: native.threads() } : {}),
  };
}
