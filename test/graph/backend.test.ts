/**
 * Backends and the kernel table: which kernel runs for a node is decided
 * once, when the session plans it, from the session's backend — its own
 * kernel for the node's dtype, else the op's JavaScript `forward`; float64
 * always runs the JavaScript kernels; a custom op registers kernels the way
 * the built-ins do, and an op that reuses a built-in's name never runs the
 * built-in's kernel.
 */
import { describe, expect, it } from 'vitest';
import {
  type Backend,
  backendNames,
  defineOp,
  getBackend,
  Graph,
  jsBackend,
  type Kernel,
  kernelBackends,
  lookupKernel,
  registerKernel,
  Session,
  tensor,
  toArray,
} from '@ndgraph/graph';
import { relu } from '@ndgraph/ops';
import { WASM_KERNELS } from '@ndgraph/ops/kernels';

/** A backend of ordinary arrays whose kernels count their calls and the lookups the planner makes. */
function countingBackend(kernels: Record<string, Kernel>) {
  const lookups: string[] = [];
  const calls: string[] = [];
  const backend: Backend = {
    name: 'counting',
    allocate: jsBackend.allocate,
    free: () => {},
    owns: () => false,
    kernel<F>(name: string, dtype: string) {
      lookups.push(`${name}:${dtype}`);
      const k = dtype === 'float32' ? kernels[name] : undefined;
      if (!k) return undefined;
      const counted: Kernel = (inputs, attrs, ctx) => {
        calls.push(name);
        return k(inputs, attrs, ctx);
      };
      return counted as F;
    },
  };
  return { backend, lookups, calls };
}

describe('backends', () => {
  it('the tests of this project run on the backend it names', () => {
    expect(getBackend().name).toBe(process.env.NDGRAPH_TEST_BACKEND);
    expect(new Graph().backend).toBe(getBackend());
    expect(backendNames()).toEqual(['wasm', 'js']);
  });

  it("a node's kernel is chosen once per plan, from the session's backend and the node's dtype", () => {
    const negate: Kernel = ([x], _attrs, ctx) => {
      const out = ctx.output();
      for (let i = 0; i < out.size; i++) out.data[i] = -x.data[x.offset + i];
      return out;
    };
    const { backend, lookups, calls } = countingBackend({ relu: negate });
    const g = new Graph({ backend: 'js' });
    const x32 = g.placeholder('x32', [2]);
    const x64 = g.placeholder('x64', [2], 'float64');
    const y32 = relu(x32);
    const y64 = relu(x64);
    const session = new Session(g, { backend });
    const feeds = { x32: tensor([1, -2]), x64: tensor([1, -2], [2], 'float64') };
    for (let run = 0; run < 3; run++) {
      const [a, b] = session.run([y32, y64], feeds);
      expect(toArray(a)).toEqual([-1, 2]); // the backend's float32 kernel
      expect(toArray(b)).toEqual([1, 0]); // float64: the op's own JavaScript kernel
    }
    expect(lookups.sort()).toEqual(['relu:float32', 'relu:float64']); // once, at planning
    expect(calls).toEqual(['relu', 'relu', 'relu']);
  });

  it('the wasm column of the table holds the SIMD kernels, for float32 only', () => {
    expect(lookupKernel('conv2d', 'wasm', 'float32')).toBe(WASM_KERNELS.conv2d);
    expect(lookupKernel('conv2d', 'wasm', 'float64')).toBeUndefined();
    expect(kernelBackends('matmul')).toEqual(['wasm']);
    expect(kernelBackends('softplus')).toEqual([]);
  });

  it("a custom op registers a kernel for a backend the way the built-ins do; an op reusing a built-in's name gets none of its kernels", () => {
    const double = defineOp({
      name: 'doubleIt',
      inferShape: ([x]) => x,
      forward([x], _a, ctx) {
        const out = ctx.output();
        for (let i = 0; i < out.size; i++) out.data[i] = 2 * x.data[x.offset + i];
        return out;
      },
    });
    const fake = defineOp({
      name: 'relu', // not the built-in relu
      inferShape: ([x]) => x,
      forward([x], _a, ctx) {
        const out = ctx.output();
        out.data.set(x.data.subarray(x.offset, x.offset + out.size));
        return out;
      },
    });
    const seen: string[] = [];
    registerKernel('doubleIt', 'wasm', ((inputs, attrs, ctx) => {
      seen.push('doubleIt on wasm');
      return double.def.forward!(inputs, attrs, ctx);
    }) as Kernel);
    expect(kernelBackends('doubleIt')).toEqual(['wasm']);
    const g = new Graph({ backend: 'wasm' });
    const x = g.placeholder('x', [3]);
    const session = new Session(g);
    expect(toArray(session.run(double([x]), { x: tensor([1, -2, 3]) }))).toEqual([2, -4, 6]);
    expect(seen).toEqual(['doubleIt on wasm']);
    expect(toArray(session.run(fake([x]), { x: tensor([1, -2, 3]) }))).toEqual([1, -2, 3]); // its own kernel, not wasm relu
    expect(toArray(new Session(g, { backend: 'js' }).run(double([x]), { x: tensor([1, 2, 3]) }))).toEqual([2, 4, 6]);
    expect(seen).toHaveLength(1); // the js backend ran the op's forward
  });
});
