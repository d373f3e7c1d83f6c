/**
 * The kernel memory runtime: call frames (operands copied in, outputs copied
 * back, everything released when the call ends, nothing copied back when it
 * fails), growth of an ordinary (non-shared) memory in the middle of a call,
 * tensor blocks of a shared memory (used in place, zero-filled, reused after
 * being freed), and the chunked calls that threads share.
 */
import { describe, expect, it } from 'vitest';
import { backendByName, Graph, MemoryError, Session, tensor, wrap } from '@ndgraph/graph';
import { matmul, relu } from '@ndgraph/ops';
import { BlockAllocator } from '../../packages/ops/src/kernels/wasm/block-allocator.ts';
import { WasmKernels, kernelCall, wasmKernels } from '../../packages/ops/src/kernels/wasm/runtime.ts';

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

  it('the wasm backend hands out float32 blocks the kernels use in place, and takes them back', () => {
    const wasm = backendByName('wasm');
    const block = wasm.allocate('float32', 12) as Float32Array;
    expect(block.length).toBe(12);
    expect(wasm.owns(block) && wasmKernels()!.holds(block)).toBe(true);
    expect(wasm.owns(new Float32Array(12))).toBe(false);
    expect(wasm.allocate('float64', 3)).toBeInstanceOf(Float64Array); // other dtypes: ordinary arrays
    wasm.free(block);
    wasm.free(new Float32Array(12)); // not its own: ignored
    expect(wasm.allocate('float32', 12).byteOffset).toBe(block.byteOffset);
  });

  it('one session evaluating random batch sizes 1–512 keeps kernel memory bounded', () => {
    const kernels = wasmKernels()!;
    const g = new Graph({ seed: 1 });
    const x = g.placeholder('x', [-1, 784]);
    const w = g.variable('w', tensor(new Array(784 * 256).fill(0.001), [784, 256]));
    const y = relu(matmul(relu(matmul(x, w)), g.variable('w2', tensor(new Array(256 * 256).fill(0.001), [256, 256]))));
    const session = new Session(g);
    let state = 7;
    const sizes: number[] = [];
    let peakAfterWarmUp = 0;
    for (let run = 0; run < 150; run++) {
      state = (state * 1103515245 + 12345) >>> 0;
      const batch = 1 + ((state >>> 16) % 512);
      sizes.push(batch);
      session.run(y, { x: tensor(new Float32Array(batch * 784).fill(1), [batch, 784]) });
      if (run >= 20) peakAfterWarmUp = Math.max(peakAfterWarmUp, kernels.stats().tensorBytes);
    }
    // One run at batch 512 needs about 3 MB of intermediates; the pool keeps a few runs' worth.
    expect(new Set(sizes).size).toBeGreaterThan(100);
    expect(peakAfterWarmUp).toBeLessThan(64 * 1024 * 1024);
    session.dispose();
  });

  it('an allocation that cannot fit names the node and the shape that asked', () => {
    const g = new Graph();
    const a = g.placeholder('a', [-1, 1]);
    const b = g.placeholder('b', [1, -1]);
    const y = matmul(a, b, {}, 'outer');
    const session = new Session(g);
    // [30000, 1] · [1, 20000]: 600 million floats (2.4 GB), past the 2 GiB kernel memory.
    const feeds = (m: number, n: number) => ({ a: wrap(new Float32Array(m).fill(1), [m, 1]), b: wrap(new Float32Array(n).fill(2), [1, n]) });
    let error: unknown;
    try {
      session.run(y, feeds(30000, 20000));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MemoryError);
    expect(String(error)).toMatch(
      /outer \(op matmul, inputs \[30000,1\] float32, \[1,20000\] float32\): cannot allocate \[30000,20000\] float32 \(2400000000 bytes\) on backend 'wasm'/,
    );
    // The session and the kernels still work after the failure.
    expect(Array.from(session.run(y, feeds(2, 3)).data)).toEqual([2, 2, 2, 2, 2, 2]);
  });

  it('blocks freed by one size serve requests of another (best fit, split, coalesced)', () => {
    let end = 0;
    const blocks = new BlockAllocator(100, (e) => (end = Math.max(end, e)));
    const a = blocks.allocate(64);
    const b = blocks.allocate(64);
    const c = blocks.allocate(64);
    expect([a, b, c]).toEqual([112, 176, 240]);
    blocks.release(a);
    blocks.release(b); // merges with a: 128 free bytes at 112
    expect(blocks.allocate(100)).toBe(112); // one request larger than either freed block
    expect(blocks.allocate(16)).toBe(224); // the rest of the merged block
    blocks.release(c); // the top block: the region shrinks
    expect(blocks.top).toBe(240);
    expect(blocks.usedBytes).toBe(112 + 16);
    expect(end).toBe(304);
    expect(() => blocks.release(999)).toThrow(/no tensor block at address 999/);
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
