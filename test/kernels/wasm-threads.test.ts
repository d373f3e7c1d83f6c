/**
 * Helper threads for the WebAssembly kernels (Node's worker_threads): every
 * kernel that splits its work between threads gives the same bits with two
 * threads as with one, on sizes large enough to be split; switching threads
 * off and on again works; and the kernel memory's tensor blocks are used in
 * place (no copies) by kernels on both threads.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { convGeometry } from '../../packages/ops/src/kernels/geometry.ts';
import { conv2dBackpropFilterWasm, conv2dBackpropInputWasm, conv2dForwardWasm } from '../../packages/ops/src/kernels/wasm/conv-wasm.ts';
import { biasAddWasm, reluGradWasm, reluWasm } from '../../packages/ops/src/kernels/wasm/elementwise-wasm.ts';
import { gemmBiasReluWasm, gemmWasm } from '../../packages/ops/src/kernels/wasm/gemm-wasm.ts';
import { disableWasmThreads, enableWasmThreads } from '../../packages/ops/src/kernels/wasm/node-threads.ts';
import { maxPoolBackwardWasm, maxPoolForwardWasm } from '../../packages/ops/src/kernels/wasm/pool-wasm.ts';
import { type ChunkedCall, type HelperThreads, wasmKernels } from '../../packages/ops/src/kernels/wasm/runtime.ts';
import { Graph, gradients, Session, tensor, toArray } from '@ndgraph/graph';
import { add, avgPool, batchNorm, elu, leakyRelu, mul, scale, sigmoid, sub, sum, tanh } from '@ndgraph/ops';
import { randomArray } from '../helpers.ts';

/** Runs every splitting kernel on fixed inputs and returns all outputs. */
function runAll(alloc: (n: number) => Float32Array = (n) => new Float32Array(n)): Float32Array[] {
  const fill = (n: number, seed: number) => {
    const a = alloc(n);
    a.set(randomArray(n, seed, Float32Array));
    return a;
  };
  const outputs: Float32Array[] = [];
  // GEMM split by rows (M ≥ N) and by columns (N > M), plain and fused.
  for (const [M, N, K] of [
    [301, 67, 129],
    [40, 333, 70],
  ]) {
    const A = fill(M * K, M),
      B = fill(K * N, N),
      bias = fill(N, 3);
    const C = alloc(M * N);
    gemmWasm(false, false, M, N, K, 1, A, 0, K, B, 0, N, 0, C, 0, N);
    outputs.push(C.slice());
    gemmWasm(true, true, M, N, K, 0.5, fill(K * M, 9), 0, M, fill(N * K, 10), 0, K, 0.25, C, 0, N);
    outputs.push(C.slice());
    const D = alloc(M * N);
    gemmBiasReluWasm(false, false, M, N, K, A, 0, K, B, 0, N, bias, 0, true, D, 0);
    outputs.push(D.slice());
  }
  // Convolutions and pooling on a batch of 9 images (odd, so halves differ in size).
  const [N, H, C, F] = [9, 32, 3, 16];
  const g = convGeometry([N, H, H, C], [5, 5], { strides: [1, 1], padding: 'same' });
  const x = fill(N * H * H * C, 21),
    filter = fill(5 * 5 * C * F, 22),
    bias = fill(F, 23),
    dy = fill(N * H * H * F, 24);
  const y = alloc(N * H * H * F);
  conv2dForwardWasm(x, 0, filter, 0, bias, 0, true, y, 0, g, F);
  outputs.push(y.slice());
  const dfilter = alloc(5 * 5 * C * F);
  conv2dBackpropFilterWasm(x, 0, dy, 0, dfilter, 0, g, F);
  outputs.push(dfilter.slice());
  const dx = alloc(N * H * H * C);
  conv2dBackpropInputWasm(dy, 0, filter, 0, dx, 0, g, F);
  outputs.push(dx.slice());
  // The single-channel kernels (their own path), on the same batch.
  const g1 = convGeometry([N, H, H, 1], [5, 5], { strides: [1, 1], padding: 'same' });
  const x1 = fill(N * H * H, 30),
    y1 = alloc(N * H * H * 6),
    dfilter1 = alloc(5 * 5 * 6);
  conv2dForwardWasm(x1, 0, filter, 0, bias, 0, true, y1, 0, g1, 6);
  outputs.push(y1.slice());
  conv2dBackpropFilterWasm(x1, 0, fill(N * H * H * 6, 31), 0, dfilter1, 0, g1, 6);
  outputs.push(dfilter1.slice());
  const pg = convGeometry([N, H, H, F], [2, 2], { strides: [2, 2], padding: 'valid' });
  const pooled = alloc(N * (H / 2) * (H / 2) * F);
  maxPoolForwardWasm(y, 0, pg, pooled, 0);
  outputs.push(pooled.slice());
  const dpool = alloc(y.length);
  maxPoolBackwardWasm(fill(pooled.length, 25), 0, y, 0, pg, dpool, 0);
  outputs.push(dpool.slice());
  // Elementwise kernels over 300 001 elements (split in parts of whole vectors or rows).
  const n = 300_001;
  const v = fill(n, 26),
    r = alloc(n);
  reluWasm(v, 0, r, 0, n);
  outputs.push(r.slice());
  reluGradWasm(fill(n, 27), 0, v, 0, r, 0, n);
  outputs.push(r.slice());
  const rows = alloc(100_000 * 6);
  biasAddWasm(fill(100_000 * 6, 28), 0, fill(6, 29), 0, true, rows, 0, 100_000 * 6, 6);
  outputs.push(rows.slice());
  // The ops whose kernels split between threads through the kernel table (activations, their gradients,
  // elementwise arithmetic, average pooling, batchnorm), run by a session on the wasm backend.
  outputs.push(...opsThroughSession());
  return outputs;
}

function opsThroughSession(): Float32Array[] {
  const g = new Graph({ backend: 'wasm' });
  const x = g.placeholder('x', [9, 32, 32, 16]);
  const w = g.placeholder('w', [9, 32, 32, 16]);
  const activations = [tanh(x), sigmoid(x), elu(x), leakyRelu(x), scale(x, 0.3), avgPool(x, { ksize: 3, strides: 2, padding: 'same' })];
  const channel = (name: string, seed: number, trainable = true) => g.variable(name, tensor(randomArray(16, seed, Float32Array), [16]), { trainable });
  const runningVar = g.variable('runningVar', tensor(new Float32Array(16).fill(1), [16]), { trainable: false });
  const y = batchNorm(add(mul(x, w), sub(x, w)), channel('gamma', 41), channel('beta', 42), channel('runningMean', 45, false), runningVar);
  const loss = sum(
    mul(
      add(
        activations.slice(0, 5).reduce((a, b) => add(a, b)),
        y,
      ),
      w,
    ),
  );
  const grads = gradients(add(loss, sum(activations[5])), [x, w]);
  const size = 9 * 32 * 32 * 16;
  const feeds = { x: tensor(randomArray(size, 43, Float32Array), x.shape), w: tensor(randomArray(size, 44, Float32Array), w.shape) };
  return new Session(g).run([...activations, y, ...grads], feeds, { training: true }).map((t) => Float32Array.from(toArray(t)));
}

function expectSameBits(a: Float32Array[], b: Float32Array[]): void {
  expect(a.length).toBe(b.length);
  a.forEach((out, k) => {
    expect(out.length, `output ${k}: length`).toBe(b[k].length);
    for (let i = 0; i < out.length; i++)
      if (!Object.is(out[i], b[k][i])) expect.fail(`output ${k}, element ${i}: ${out[i]} with two threads, ${b[k][i]} with one`);
  });
}

describe('WebAssembly kernels on two threads', () => {
  afterAll(() => disableWasmThreads());

  it('give the same bits as on one thread', () => {
    disableWasmThreads();
    expect(wasmKernels()?.threads).toBe(1);
    const one = runAll();
    expect(enableWasmThreads(2)).toBe(2);
    expect(wasmKernels()?.threads).toBe(2);
    const two = runAll();
    expectSameBits(two, one);
    // Off and on again.
    expect(enableWasmThreads(1)).toBe(1);
    expectSameBits(runAll(), one);
    expect(enableWasmThreads(2)).toBe(2);
    expectSameBits(runAll(), one);
  });

  it('use tensor blocks of kernel memory in place, from both threads', () => {
    const kernels = wasmKernels()!;
    expect(kernels.offersTensorBlocks).toBe(true);
    const blocks: Float32Array[] = [];
    const alloc = (n: number) => {
      const block = kernels.allocateFloat32(n);
      expect(kernels.holds(block)).toBe(true);
      expect(block.every((v) => v === 0)).toBe(true);
      blocks.push(block);
      return block;
    };
    enableWasmThreads(2);
    const inPlace = runAll(alloc);
    disableWasmThreads();
    expectSameBits(inPlace, runAll());
    for (const block of blocks) kernels.freeFloat32(block);
    // A freed block of the same length is handed out again.
    const again = kernels.allocateFloat32(blocks[0].length);
    expect(blocks.some((b) => b.byteOffset === again.byteOffset)).toBe(true);
    kernels.freeFloat32(again);
  });

  it('pause helpers that miss 32 calls in a row (never woken in time), with the same results', () => {
    disableWasmThreads();
    const kernels = wasmKernels()!;
    const n = 300_001;
    const x = randomArray(n, 32, Float32Array);
    const expected = new Float32Array(n);
    reluWasm(x, 0, expected, 0, n);
    // A helper that is asked every time but never takes part (its request is withdrawn).
    let starts = 0;
    const asleep: HelperThreads = {
      count: 1,
      start(_call: ChunkedCall) {
        starts++;
      },
      finish() {
        return 0;
      },
      close() {},
    };
    kernels.setHelpers(asleep);
    const out = new Float32Array(n);
    for (let call = 0; call < 40; call++) {
      out.fill(Number.NaN);
      reluWasm(x, 0, out, 0, n);
      expectSameBits([out], [expected]);
    }
    // 32 misses, then the helpers are left alone for the next 200 calls.
    expect(starts).toBe(32);
    for (let call = 40; call < 232; call++) reluWasm(x, 0, out, 0, n);
    expect(starts).toBe(32);
    // Asked again after the pause.
    reluWasm(x, 0, out, 0, n);
    expect(starts).toBe(33);
    kernels.setHelpers(null);
  });

  it('pause helpers that keep the calling thread waiting (their core busy elsewhere), with the same results', () => {
    disableWasmThreads();
    const kernels = wasmKernels()!;
    const n = 300_001;
    const x = randomArray(n, 31, Float32Array);
    const expected = new Float32Array(n);
    reluWasm(x, 0, expected, 0, n);
    // A helper that "takes part" in every call but only returns 2 ms after the calling thread is done
    // (it takes no chunks: the calling thread does them all, as when a helper is descheduled).
    let starts = 0;
    const stalling: HelperThreads = {
      count: 1,
      start(_call: ChunkedCall) {
        starts++;
      },
      finish() {
        const until = performance.now() + 2;
        while (performance.now() < until) {
          /* keeps the caller waiting */
        }
        return 1;
      },
      close() {},
    };
    kernels.setHelpers(stalling);
    expect(kernels.threads).toBe(2);
    const out = new Float32Array(n);
    for (let call = 0; call < 10; call++) {
      out.fill(Number.NaN);
      reluWasm(x, 0, out, 0, n);
      expectSameBits([out], [expected]);
    }
    // Two stalls in a row, then the helpers are left alone for the following calls (200 of them).
    expect(starts).toBe(2);
    for (let call = 10; call < 220; call++) reluWasm(x, 0, out, 0, n);
    expectSameBits([out], [expected]);
    // Asked again after the pause (calls 203 and 204), they stall again: the next pause is twice as long.
    expect(starts).toBe(4);
    for (let call = 220; call < 600; call++) reluWasm(x, 0, out, 0, n);
    expect(starts).toBe(4);
    kernels.setHelpers(null);
    expect(kernels.threads).toBe(1);
  });
});
