/**
 * The WebAssembly column of the kernel table: for each op with a SIMD kernel,
 * the function that runs it on float32 values (registered for the 'wasm'
 * backend; every other op, and float64 everywhere, runs the op's own
 * JavaScript `forward`). Each entry unpacks the op's inputs and attributes
 * for one kernel of conv-wasm.ts, gemm-wasm.ts, pool-wasm.ts or
 * elementwise-wasm.ts, which stage operands in kernel memory and may split
 * the work between threads.
 */
import { type Kernel, registerKernel, type RunContext, shapeSize, type Tensor } from '@ndgraph/graph';
import type { PoolAttrs, WindowAttrs } from '../../window.ts';
import { convGeometry } from '../geometry.ts';
import { gemm } from '../js/gemm.ts';
import type { MatmulAttrs } from '../../ops/matmul.ts';
import type { MaxPoolGradAttrs } from '../../ops/max-pool-grad.ts';
import { reluGradOp } from '../../ops/relu-grad.ts';
import { WASM_BACKEND } from './backend.ts';
import { conv2dBackpropFilterWasm, conv2dBackpropInputWasm, conv2dForwardWasm, conv2dReluMaxPoolWasm } from './conv-wasm.ts';
import type { ConvPoolAttrs } from '../../ops/conv2d-bias-relu-max-pool.ts';
import { biasAddGradWasm, biasAddWasm, chunkFor, dropoutMaskWasm, reluGradWasm, reluWasm } from './elementwise-wasm.ts';
import { type DropoutAttrs, dropoutMaskOp } from '../../ops/dropout.ts';
import { createWasmGemm, gemmBiasReluWasm } from './gemm-wasm.ts';
import { optimizerStepWasm } from './optimizer-wasm.ts';
import { batchNormForwardWasm, batchNormGradInputWasm, batchNormGradSumsWasm, batchNormStatisticsWasm } from './batchnorm-wasm.ts';
import { kernelCall, wasmKernels } from './runtime.ts';
import { reduceToShapeOp } from '../../ops/reduce-to-shape.ts';
import { batchNormForward, runningAveragesAreVariables } from '../../ops/batch-norm.ts';
import type { BatchNormAttrs } from '../../ops/batch-norm-shared.ts';
import { batchNormGradInputOp } from '../../ops/batch-norm-grad-input.ts';
import { batchNormGradSumsOp } from '../../ops/batch-norm-grad-sums.ts';
import { type BatchNormStatisticsAttrs, batchNormStatisticsOp } from '../../ops/batch-norm-statistics.ts';
import { avgPoolBackwardWasm, avgPoolForwardWasm, maxPoolBackwardWasm, maxPoolForwardWasm } from './pool-wasm.ts';

const f32 = (t: Tensor): Float32Array => t.data as Float32Array;
/** The module, which the wasm backend exists only with. */
const kernels = () => wasmKernels()!;

/** Tiny products go to the JavaScript GEMM: a WebAssembly call costs more than they do. */
let wasmGemm: ReturnType<typeof createWasmGemm> | undefined;
/** Made on first use, so that importing the ops does not load the kernels (a relaxed-SIMD request comes before that). */
const matmulGemm: ReturnType<typeof createWasmGemm> = (...args) => (wasmGemm ??= createWasmGemm(gemm))(...args);

/** The kernels return false only when the module is missing, which the backend rules out. */
function ran(done: boolean, op: string): void {
  if (!done) throw new Error(`WebAssembly kernels: the ${op} kernel is unavailable`);
}

function convForward([x, filter, bias]: Tensor[], attrs: WindowAttrs, out: Tensor, relu: boolean): Tensor {
  const g = convGeometry(x.shape, [filter.shape[0], filter.shape[1]], attrs);
  ran(
    conv2dForwardWasm(f32(x), x.offset, f32(filter), filter.offset, bias ? f32(bias) : null, bias?.offset ?? 0, relu, f32(out), out.offset, g, filter.shape[3]),
    'conv2d',
  );
  return out;
}

/** batchNorm and batchNormRelu. The mode check (running averages that are variables) is the JavaScript kernel's. */
function batchNormKernel(inputs: Tensor[], attrs: BatchNormAttrs, relu: boolean, ctx: RunContext): Tensor {
  const [x] = inputs;
  const channels = x.shape[x.shape.length - 1];
  const needsChecks = ctx.training && !relu && !runningAveragesAreVariables(ctx.node);
  if (needsChecks || channels === 0) return batchNormForward(inputs, attrs.momentum, relu, ctx);
  const out = ctx.output();
  batchNormForwardWasm(kernels(), inputs, attrs.momentum, relu, out, ctx);
  return out;
}

/** An elementwise kernel of the module over n elements, split between threads by element ranges. */
function elementwise(name: ElementwiseKernel, args: number[], n: number): void {
  const k = kernels();
  k.parallel(name, args, n, chunkFor(k, n, 1, 4));
}

type ElementwiseKernel =
  | 'tanhForward'
  | 'sigmoidForward'
  | 'eluForward'
  | 'tanhBackward'
  | 'sigmoidBackward'
  | 'eluBackward'
  | 'addSame'
  | 'subSame'
  | 'mulSame'
  | 'scaleForward'
  | 'leakyReluForward';

/** A one-input elementwise kernel of the module, with an optional float64 parameter from the attributes: y = f(x; p). */
function unary(name: ElementwiseKernel, parameter?: (attrs: Record<string, number>) => number): Kernel {
  return ([x], attrs, ctx) => {
    const out = ctx.output();
    const k = kernels();
    kernelCall(k, () => {
      const at = [k.input(f32(x), x.offset, x.size), k.output(f32(out), out.offset, out.size)];
      elementwise(name, parameter ? [...at, parameter(attrs)] : at, out.size);
    });
    return out;
  };
}

/**
 * A two-input elementwise kernel of the module, out = f(a, b; p), for operands
 * of one shape (an op's gradient kernel, or add / sub / mul); broadcasting
 * operands go to the op's JavaScript kernel.
 */
function binary(name: ElementwiseKernel, parameter?: (attrs: Record<string, number>) => number): Kernel {
  return (inputs, attrs, ctx) => {
    const [a, b] = inputs;
    if (a.size !== b.size || a.size !== shapeSize(ctx.outputSpec.shape)) return ctx.node.op.forward!(inputs, attrs, ctx);
    const out = ctx.output();
    const k = kernels();
    kernelCall(k, () => {
      const at = [k.input(f32(a), a.offset, a.size), k.input(f32(b), b.offset, b.size), k.output(f32(out), out.offset, out.size)];
      elementwise(name, parameter ? [...at, parameter(attrs)] : at, out.size);
    });
    return out;
  };
}

export const WASM_KERNELS: Record<string, Kernel> = {
  scale: unary('scaleForward', (a) => a.factor),
  leakyRelu: unary('leakyReluForward', (a) => a.alpha),
  elu: unary('eluForward', (a) => a.alpha),
  eluGrad: binary('eluBackward', (a) => a.alpha),
  add: binary('addSame'),
  sub: binary('subSame'),
  mul: binary('mulSame'),
  addN(inputs, attrs, ctx) {
    // Summed in input order, each partial sum rounded to float32: the JavaScript kernel's bits.
    const n = shapeSize(ctx.outputSpec.shape);
    if (inputs.length < 2 || inputs.some((t) => t.size !== n)) return ctx.node.op.forward!(inputs, attrs, ctx);
    const out = ctx.output();
    const k = kernels();
    kernelCall(k, () => {
      const outAt = k.output(f32(out), out.offset, n);
      const at = (t: Tensor) => k.input(f32(t), t.offset, n);
      elementwise('addSame', [at(inputs[0]), at(inputs[1]), outAt], n);
      for (let i = 2; i < inputs.length; i++) elementwise('addSame', [outAt, at(inputs[i]), outAt], n);
    });
    return out;
  },
  tanh: unary('tanhForward'),
  sigmoid: unary('sigmoidForward'),
  tanhGrad: binary('tanhBackward'),
  sigmoidGrad: binary('sigmoidBackward'),
  matmul([a, b], attrs: MatmulAttrs, ctx) {
    const out = ctx.output();
    const [m, n] = out.shape;
    const k = attrs.transposeA ? a.shape[0] : a.shape[1];
    matmulGemm(
      attrs.transposeA ?? false,
      attrs.transposeB ?? false,
      m,
      n,
      k,
      1,
      f32(a),
      a.offset,
      a.shape[1],
      f32(b),
      b.offset,
      b.shape[1],
      0,
      f32(out),
      out.offset,
      n,
    );
    return out;
  },
  matmulBiasRelu([x, w, bias], _attrs, ctx) {
    const out = ctx.output();
    const [m, k] = x.shape;
    const n = w.shape[1];
    ran(
      gemmBiasReluWasm(false, false, m, n, k, f32(x), x.offset, k, f32(w), w.offset, n, f32(bias), bias.offset, true, f32(out), out.offset),
      'matmulBiasRelu',
    );
    return out;
  },
  conv2d: (inputs, attrs: WindowAttrs, ctx) => convForward([inputs[0], inputs[1]], attrs, ctx.output(), false),
  conv2dBiasRelu: (inputs, attrs: WindowAttrs, ctx) => convForward(inputs, attrs, ctx.output(), true),
  conv2dBias: (inputs, attrs: WindowAttrs, ctx) => convForward(inputs, attrs, ctx.output(), false),
  conv2dBiasReluMaxPool([x, filter, bias], attrs: ConvPoolAttrs, ctx) {
    const g = convGeometry(x.shape, [filter.shape[0], filter.shape[1]], attrs.conv);
    const pool = convGeometry([g.batch, g.outHeight, g.outWidth, filter.shape[3]], attrs.pool.ksize, attrs.pool);
    const out = ctx.output();
    ran(
      conv2dReluMaxPoolWasm(f32(x), x.offset, f32(filter), filter.offset, f32(bias), bias.offset, f32(out), out.offset, g, filter.shape[3], pool),
      'conv2dBiasReluMaxPool',
    );
    return out;
  },
  conv2dBackpropInput([dy, filter, x], attrs: WindowAttrs, ctx) {
    const g = convGeometry(x.shape, [filter.shape[0], filter.shape[1]], attrs);
    const dx = ctx.output(); // written whole
    ran(conv2dBackpropInputWasm(f32(dy), dy.offset, f32(filter), filter.offset, f32(dx), dx.offset, g, filter.shape[3]), 'conv2dBackpropInput');
    return dx;
  },
  conv2dBackpropFilter([dy, x, filter], attrs: WindowAttrs, ctx) {
    const g = convGeometry(x.shape, [filter.shape[0], filter.shape[1]], attrs);
    const out = ctx.output();
    ran(conv2dBackpropFilterWasm(f32(x), x.offset, f32(dy), dy.offset, f32(out), out.offset, g, filter.shape[3]), 'conv2dBackpropFilter');
    return out;
  },
  maxPool([x], attrs: PoolAttrs, ctx) {
    const out = ctx.output();
    ran(maxPoolForwardWasm(f32(x), x.offset, convGeometry(x.shape, attrs.ksize, attrs), f32(out), out.offset), 'maxPool');
    return out;
  },
  maxPoolGrad([dy, x], attrs: MaxPoolGradAttrs, ctx) {
    const dx = ctx.output(); // written whole
    ran(
      maxPoolBackwardWasm(f32(dy), dy.offset, f32(x), x.offset, convGeometry(x.shape, attrs.ksize, attrs), f32(dx), dx.offset, attrs.positiveOnly),
      'maxPoolGrad',
    );
    return dx;
  },
  avgPool([x], attrs: PoolAttrs, ctx) {
    const out = ctx.output();
    avgPoolForwardWasm(kernels(), f32(x), x.offset, convGeometry(x.shape, attrs.ksize, attrs), f32(out), out.offset);
    return out;
  },
  avgPoolGrad([dy, x], attrs: PoolAttrs, ctx) {
    const dx = ctx.output(); // written whole
    avgPoolBackwardWasm(kernels(), f32(dy), dy.offset, convGeometry(x.shape, attrs.ksize, attrs), f32(dx), dx.offset);
    return dx;
  },
  relu([x], _attrs, ctx) {
    const out = ctx.output();
    ran(reluWasm(f32(x), x.offset, f32(out), out.offset, out.size), 'relu');
    return out;
  },
  reluGrad(inputs, attrs, ctx) {
    const [dy, x] = inputs;
    // Broadcasting operands go to the JavaScript kernel.
    if (dy.size !== x.size || dy.size !== shapeSize(ctx.outputSpec.shape)) return reluGradOp.def.forward!(inputs, attrs, ctx);
    const out = ctx.output();
    ran(reluGradWasm(f32(dy), dy.offset, f32(x), x.offset, f32(out), out.offset, out.size), 'reluGrad');
    return out;
  },
  biasAdd([x, b], _attrs, ctx) {
    const out = ctx.output();
    ran(biasAddWasm(f32(x), x.offset, f32(b), b.offset, false, f32(out), out.offset, out.size, b.size), 'biasAdd');
    return out;
  },
  batchNorm: (inputs, attrs: BatchNormAttrs, ctx) => batchNormKernel(inputs, attrs, false, ctx),
  batchNormRelu: (inputs, attrs: BatchNormAttrs, ctx) => batchNormKernel(inputs, attrs, true, ctx),
  batchNormStatistics(inputs, attrs: BatchNormStatisticsAttrs, ctx) {
    const [x] = inputs;
    // Eval mode copies the running averages; training needs at least 2 values per channel (the JavaScript kernel's check).
    if (!ctx.training || x.size < 2 * x.shape[x.shape.length - 1]) return batchNormStatisticsOp.def.forward!(inputs, attrs, ctx);
    const out = ctx.output();
    batchNormStatisticsWasm(kernels(), x, attrs.epsilon, out);
    return out;
  },
  batchNormGradSums(inputs, attrs, ctx) {
    if (inputs[1].size === 0) return batchNormGradSumsOp.def.forward!(inputs, attrs, ctx);
    const out = ctx.output();
    batchNormGradSumsWasm(kernels(), inputs, out);
    return out;
  },
  batchNormGradInput(inputs, attrs, ctx) {
    if (inputs[1].size === 0) return batchNormGradInputOp.def.forward!(inputs, attrs, ctx);
    const out = ctx.output();
    batchNormGradInputWasm(kernels(), inputs, out, ctx);
    return out;
  },
  dropoutMask(inputs, attrs: DropoutAttrs, ctx) {
    // Eval mode's mask of ones is the JavaScript kernel's fill.
    if (!ctx.training) return dropoutMaskOp.def.forward!(inputs, attrs, ctx);
    const out = ctx.output();
    dropoutMaskWasm(kernels(), ctx.rng, attrs.rate, f32(out), out.offset, out.size);
    return out;
  },
  reduceToShape(inputs, attrs, ctx) {
    // The common case, the gradient of a per-channel vector: [..., C] summed to [C]. Others: the JavaScript kernel.
    const [x, like] = inputs;
    const channels = x.shape[x.shape.length - 1];
    if (like.shape.length !== 1 || like.shape[0] !== channels || x.shape.length < 2) return reduceToShapeOp.def.forward!(inputs, attrs, ctx);
    const out = ctx.output();
    const k = kernels();
    kernelCall(k, () => {
      const xAt = k.input(f32(x), x.offset, x.size);
      k.exports.sumRowsF32(xAt, x.size / Math.max(1, channels), channels, k.output(f32(out), out.offset, out.size));
    });
    return out;
  },
  biasAddGrad([dy], _attrs, ctx) {
    const out = ctx.output();
    ran(biasAddGradWasm(f32(dy), dy.offset, dy.size, out.size, f32(out), out.offset), 'biasAddGrad');
    return out;
  },
};

for (const [op, kernel] of Object.entries(WASM_KERNELS)) registerKernel(op, WASM_BACKEND, kernel);

/** Optimizer updates are kernels too, named rather than ops (see @ndgraph/nn's optimizers). */
for (const name of ['sgdStep', 'momentumStep', 'nesterovStep', 'adamStep', 'rmspropStep', 'adagradStep'] as const) {
  registerKernel(name, WASM_BACKEND, optimizerStepWasm(name));
}
