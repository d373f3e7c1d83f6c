/**
 * The WebAssembly momentum update against the same update written here in
 * plain JavaScript (float64 arithmetic on float32 values, rounded when
 * stored): the same bits, for odd sizes, offsets, weight decay, special
 * values (NaN, ±Infinity, −0), and arrays inside or outside kernel memory.
 * Every optimizer's update on a parameter in kernel memory (its backend's
 * kernel) against the same optimizer on an ordinary array (its JavaScript
 * loop): the same bits for the value and every slot.
 * Also: an optimizer keeps the slots of a parameter in kernel memory where
 * the parameter is, and the wasm backend's blocks come back once their
 * arrays are collected.
 */
import { describe, expect, it } from 'vitest';
import { backendByName, wrap } from '@ndgraph/graph';
import { adagrad, adam, adamw, momentum, nesterov, rmsprop, sgd } from '@ndgraph/nn';
import { optimizerStepWasm, wasmKernels } from '@ndgraph/ops/kernels';
import { uniformRandom } from '../helpers.ts';

function momentumReference(
  w: Float32Array,
  wOffset: number,
  g: Float32Array,
  gOffset: number,
  v: Float32Array,
  size: number,
  mu: number,
  lr: number,
  decay: number,
): void {
  for (let i = 0; i < size; i++) {
    const wi = w[wOffset + i];
    const gi = g[gOffset + i] + decay * wi;
    const vi = mu * v[i] - lr * gi;
    v[i] = vi;
    w[wOffset + i] = wi + vi;
  }
}

function randomFloats(n: number, seed: number, specials = false, into?: Float32Array): Float32Array {
  const uniform = uniformRandom(seed);
  const out = into ?? new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = uniform();
    if (specials && u < 0.02) out[i] = Number.NaN;
    else if (specials && u < 0.04) out[i] = u < 0.03 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
    else if (specials && u < 0.08) out[i] = -0;
    else out[i] = (u * 2 - 1) * 3;
  }
  return out;
}

function expectSameBits(label: string, got: Float32Array, want: Float32Array): void {
  expect(got.length, `${label}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) expect.fail(`${label}: element ${i} is ${got[i]}, the JavaScript update gives ${want[i]}`);
  }
}

const wasm = backendByName('wasm');
const allocate = (length: number) => wasm.allocate('float32', length) as Float32Array;

describe('WebAssembly momentum update (float32)', () => {
  for (const inKernelMemory of [false, true]) {
    for (const size of [1, 2, 3, 7, 150, 2401, 48000]) {
      for (const [mu, lr, decay] of [
        [0.9, 0.01, 0],
        [0.5, 0.1, 1e-4],
        [0, 0.3, 0.01],
      ]) {
        it(`equals the JavaScript update bit for bit: ${size} elements, μ ${mu}, lr ${lr}, decay ${decay}${inKernelMemory ? ', arrays in kernel memory' : ''}`, () => {
          const offset = size % 3; // value and gradient at offsets into larger arrays
          const make = (n: number, seed: number) => randomFloats(n, seed, size < 200, inKernelMemory ? allocate(n) : undefined);
          const w = make(size + offset + 2, size);
          const g = make(size + offset, size + 1);
          const v = make(size, size + 2);
          const [wWant, vWant] = [w.slice(), v.slice()];
          // Three steps in a row, so the velocity carries over.
          for (let step = 0; step < 3; step++) {
            momentumReference(wWant, offset, g, offset, vWant, size, mu, lr, decay);
            expect(optimizerStepWasm('momentumStep')(w, offset, g, offset, [v], size, [mu, lr, decay])).toBe(true);
          }
          expectSameBits('velocity', v, vWant);
          expectSameBits('value', w, wWant); // including the elements outside [offset, offset + size)
        });
      }
    }
  }

  it('an optimizer keeps the slots of a parameter in kernel memory where the parameter is (float64 ones stay ordinary arrays)', () => {
    const kernels = wasmKernels()!;
    const opt = momentum({ learningRate: 0.1 });
    const w32 = wrap(allocate(5).fill(1), [5]);
    const w64 = wrap(new Float64Array(5).fill(1), [5]);
    opt.step([
      { name: 'a', value: w32, grad: wrap(Float32Array.of(1, 2, 3, 4, 5), [5]) },
      { name: 'b', value: w64, grad: wrap(Float64Array.of(1, 2, 3, 4, 5), [5]) },
    ]);
    expect(Array.from(w32.data)).toEqual([0.9, 0.8, 0.7, 0.6, 0.5].map(Math.fround));
    expect(Array.from(w64.data)).toEqual([0.9, 0.8, 0.7, 0.6, 0.5]);
    const state = opt.getState();
    expect(Array.from(state.slots['a/v'].data)).toEqual([-0.1, -0.2, -0.3, -0.4, -0.5].map(Math.fround));
    // The live slot (not the copy in the state) is a kernel-memory block.
    const slots = (opt as unknown as { slots: Map<string, { arrays: Float32Array[] }> }).slots;
    expect(kernels.holds(slots.get('a')!.arrays[0])).toBe(true);
    expect(slots.get('b')!.arrays[0]).toBeInstanceOf(Float64Array);
  });

  it("the wasm backend's blocks come back once their arrays are garbage-collected", async () => {
    const kernels = wasmKernels()!;
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'the test workers run with --expose-gc').toBeTypeOf('function');
    const settle = async () => {
      for (let turn = 0; turn < 20; turn++) {
        gc!();
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    await settle(); // earlier tests' garbage goes first
    const before = kernels.stats().tensorBytes;
    const length = 12_345;
    (() => allocate(length))(); // the array is dropped at once
    expect(kernels.stats().tensorBytes).toBeGreaterThanOrEqual(before + length * 4);
    await settle();
    expect(kernels.stats().tensorBytes).toBe(before);
  });
});

describe('WebAssembly updates of every optimizer (float32)', () => {
  for (const [name, make] of [
    ['sgd', (wd: number) => sgd({ learningRate: 0.05, weightDecay: wd })],
    ['momentum', (wd: number) => momentum({ learningRate: 0.05, weightDecay: wd })],
    ['nesterov', (wd: number) => nesterov({ learningRate: 0.05, weightDecay: wd })],
    ['adam', (wd: number) => adam({ learningRate: 0.01, weightDecay: wd })],
    ['adamw', (wd: number) => adamw({ learningRate: 0.01, weightDecay: wd })],
    ['rmsprop', (wd: number) => rmsprop({ learningRate: 0.01, weightDecay: wd })],
    ['adagrad', (wd: number) => adagrad({ learningRate: 0.05, weightDecay: wd })],
  ] as const) {
    for (const size of [1, 3, 150, 2401]) {
      for (const decay of [0, 0.01]) {
        it(`${name} in kernel memory equals the JavaScript loop bit for bit: ${size} elements, weight decay ${decay}, 4 steps`, () => {
          const inKernel = allocate(size);
          inKernel.set(randomFloats(size, size, size < 200));
          const plain = inKernel.slice(); // ordinary memory: the optimizer's JavaScript loop
          const [fast, reference] = [make(decay), make(decay)];
          expect(backendByName('wasm').kernel(`${name === 'adamw' ? 'adam' : name}Step`, 'float32'), 'the backend has the kernel').toBeTypeOf('function');
          for (let step = 0; step < 4; step++) {
            const grad = randomFloats(size, 100 + step, size < 200);
            fast.step([{ name: 'w', value: wrap(inKernel, [size]), grad: wrap(grad, [size]) }]);
            reference.step([{ name: 'w', value: wrap(plain, [size]), grad: wrap(grad.slice(), [size]) }]);
          }
          expectSameBits('value', inKernel, plain);
          const [fastSlots, referenceSlots] = [fast.getState().slots, reference.getState().slots];
          expect(Object.keys(fastSlots)).toEqual(Object.keys(referenceSlots));
          for (const slot of Object.keys(referenceSlots)) expectSameBits(slot, fastSlots[slot].data as Float32Array, referenceSlots[slot].data as Float32Array);
        });
      }
    }
  }
});
