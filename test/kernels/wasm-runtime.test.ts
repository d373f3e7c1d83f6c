/**
 * The kernel memory runtime: call frames (operands copied in, outputs copied
 * back, everything released when the call ends, nothing copied back when it
 * fails), growth of an ordinary (non-shared) memory in the middle of a call,
 * tensor blocks of a shared memory (used in place, zero-filled, reused after
 * being freed), and the chunked calls that threads share.
 */
import { describe, expect, it } from 'vitest';
import { WasmKernels, freeWasmTensor, kernelCall, wasmKernels, wasmTensorAllocator } from '../../packages/ops/src/kernels/wasm/runtime.ts';

describe('WebAssembly kernel runtime', () => {
  it('uses a shared memory in Node, so tensor blocks are offered', () => {
    const kernels = wasmKernels()!;
    expect(kernels.shared).toBe(true);
    expect(kernels.offersTensorBlocks).toBe(true);
  });

  it('copies inputs in and outputs back, and releases the frame', () => {
    const kernels = new WasmKernels(false);
    const x = Float32Array.of(9, -1, 2, -3, 4, 9);
    const y = new Float32Array(6).fill(7);
    const before = kernels.stats().memoryBytes;
    kernelCall(kernels, () => {
      const xAt = kernels.input(x, 1, 4); // −1, 2, −3, 4
      const yAt = kernels.output(y, 2, 4);
      kernels.exports.reluForward(xAt, yAt, 0, 4);
      expect(Array.from(y)).toEqual([7, 7, 7, 7, 7, 7]); // copied back only when the call ends
    });
    expect(Array.from(y)).toEqual([7, 7, 0, 2, 0, 4]);
    // The frame is released: the next call reserves from the same place.
    let first = 0;
    let second = 0;
    kernelCall(kernels, () => (first = kernels.reserve(64)));
    kernelCall(kernels, () => (second = kernels.reserve(64)));
    expect(second).toBe(first);
    expect(kernels.stats().memoryBytes).toBe(before);
  });

  it('copies nothing back when the call fails, and can be used again', () => {
    const kernels = new WasmKernels(false);
    const y = new Float32Array(3).fill(5);
    expect(() =>
      kernelCall(kernels, () => {
        const yAt = kernels.output(y, 0, 3);
        kernels.exports.reluForward(kernels.input(Float32Array.of(1, 2, 3), 0, 3), yAt, 0, 3);
        throw new Error('kernel failed');
      }),
    ).toThrow('kernel failed');
    expect(Array.from(y)).toEqual([5, 5, 5]);
    kernelCall(kernels, () => kernels.exports.reluForward(kernels.input(Float32Array.of(-1, 2, -3), 0, 3), kernels.output(y, 0, 3), 0, 3));
    expect(Array.from(y)).toEqual([0, 2, 0]);
  });

  it('grows an ordinary memory during a call and keeps earlier operands', () => {
    const kernels = new WasmKernels(false);
    const n = 3_000_000; // 12 MB: more than the initial memory
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = i % 2 === 0 ? i : -i;
    const y = new Float32Array(n);
    kernelCall(kernels, () => {
      const xAt = kernels.input(x, 0, n);
      const yAt = kernels.output(y, 0, n); // grows the memory; x must survive
      kernels.exports.reluForward(xAt, yAt, 0, n);
    });
    expect(kernels.stats().memoryBytes).toBeGreaterThanOrEqual(2 * n * 4);
    for (let i = 0; i < n; i += 99_991) expect(y[i]).toBe(i % 2 === 0 ? i : 0);
    expect(y[n - 1]).toBe(0);
    expect(y[n - 2]).toBe(n - 2);
    expect(() => kernels.allocateFloat32(4)).toThrow(/need a shared memory/);
  });

  it('hands out tensor blocks that kernels use in place and that survive growth', () => {
    const kernels = new WasmKernels(true);
    const x = kernels.allocateFloat32(5);
    const y = kernels.allocateFloat32(5);
    expect(kernels.holds(x) && kernels.holds(y)).toBe(true);
    expect(kernels.holds(new Float32Array(5))).toBe(false);
    x.set([1, -2, 3, -4, 5]);
    kernelCall(kernels, () => {
      const xAt = kernels.input(x, 0, 5);
      expect(xAt).toBe(x.byteOffset); // no copy
      kernels.exports.reluForward(xAt, kernels.output(y, 0, 5), 0, 5);
      expect(Array.from(y)).toEqual([1, 0, 3, 0, 5]); // written in place, before the call ends
      kernels.reserve(64 * 1024 * 1024); // grow by 64 MB
    });
    expect(Array.from(y)).toEqual([1, 0, 3, 0, 5]); // still valid after the memory grew
    kernels.freeFloat32(y);
    const again = kernels.allocateFloat32(5);
    expect(again.byteOffset).toBe(y.byteOffset);
    expect(Array.from(again)).toEqual([0, 0, 0, 0, 0]); // zero-filled when handed out again
    expect(() => kernels.freeFloat32(new Float32Array(5))).toThrow(/not a tensor block/);
    expect(() => kernelCall(kernels, () => kernels.allocateFloat32(3))).toThrow(/during a kernel call/);
  });

  it('offers an allocator for executors whose buffers the kernels use in place', () => {
    const allocate = wasmTensorAllocator();
    expect(allocate).not.toBeNull();
    const block = allocate!(12);
    expect(block.length).toBe(12);
    expect(wasmKernels()!.holds(block)).toBe(true);
    expect(freeWasmTensor(block)).toBe(true);
    expect(freeWasmTensor(new Float32Array(12))).toBe(false);
    expect(allocate!(12).byteOffset).toBe(block.byteOffset);
  });

  it('runs every chunk of a chunked call exactly once, on one thread', () => {
    const kernels = new WasmKernels(false);
    const n = 1003;
    const x = Float32Array.from({ length: n }, (_, i) => (i % 3) - 1);
    const y = new Float32Array(n).fill(Number.NaN);
    kernelCall(kernels, () => {
      const xAt = kernels.input(x, 0, n);
      const yAt = kernels.output(y, 0, n);
      kernels.parallel('reluForward', [xAt, yAt], n, 100); // 11 chunks, the last one of 3 elements
    });
    expect(Array.from(y)).toEqual(Array.from(x, (v) => Math.max(0, v)));
  });
});
