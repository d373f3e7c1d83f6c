import { describe, it, expect } from 'vitest';
import {
  Graph,
  Session,
  defineOp,
  gradients,
  allGradients,
  topologicalOrder,
  tensor,
  toArray,
  zeros,
  FeedError,
  GradientError,
  GraphError,
  ShapeError,
  DTypeError,
  Rng,
  type Node,
} from '@ndgraph/graph';
import { add, mul, square, scale } from '@ndgraph/ops';
import { sessionMemory } from '@ndgraph/graph/debug';

/** A tiny op that counts its kernel calls, to see what the executor runs. */
function counted(name: string) {
  let calls = 0;
  const op = defineOp({
    name,
    arity: 1,
    inferShape: ([x]) => ({ shape: x.shape.slice(), dtype: x.dtype }),
    forward([x], _a, ctx) {
      calls++;
      const o = ctx.output();
      for (let i = 0; i < o.size; i++) o.data[i] = x.data[x.offset + i] + 1;
      return o;
    },
    grad: (_c, dy) => [dy],
  });
  return { op, calls: () => calls };
}

/** sum of all elements to a scalar, with its gradient through mul by ones via broadcasting add. */
const total = defineOp({
  name: 'total',
  arity: 1,
  inferShape: ([x]) => ({ shape: [], dtype: x.dtype }),
  forward([x], _a, ctx) {
    const o = ctx.output();
    let s = 0;
    for (let i = 0; i < x.size; i++) s += x.data[x.offset + i];
    o.data[0] = s;
    return o;
  },
  grad: (_c, dy, node) => [add(scale(node.inputs[0], 0), dy)], // dy broadcast to x's shape
});

describe('graph building', () => {
  it('names nodes by scope path and keeps names unique', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 3]);
    const a = g.scope('lenet', () => g.scope('conv1', () => square(x)));
    const b = g.scope('lenet', () => g.scope('conv1', () => square(x)));
    const c = g.scope('lenet', () => [square(x), square(x)]);
    expect(a.name).toBe('lenet/conv1/square');
    expect(b.name).toBe('lenet_1/conv1/square');
    expect(c.map((n) => n.name)).toEqual(['lenet_2/square', 'lenet_2/square_1']);
    expect(a.scope).toBe('lenet/conv1');
    expect(g.node('lenet/conv1/square')).toBe(a);
    expect(() => g.node('nope')).toThrow(GraphError);
  });

  it('infers shapes with an unknown batch at build time', () => {
    const g = new Graph();
    const x = g.placeholder('images', [-1, 28, 28, 1]);
    const y = add(x, g.constant(tensor([2])));
    expect(y.shape).toEqual([-1, 28, 28, 1]);
    expect(y.dtype).toBe('float32');
  });

  it('rejects inputs from another graph and bad names', () => {
    const g1 = new Graph();
    const g2 = new Graph();
    const a = g1.placeholder('a', [2]);
    const b = g2.placeholder('b', [2]);
    expect(() => add(a, b)).toThrow(/input 1 \(b\) belongs to another graph/);
    expect(() => g1.placeholder('a/b', [1])).toThrow(GraphError);
    expect(() => g1.placeholder('p', [2.5])).toThrow(ShapeError);
  });

  it('a shape error names node, scope, op, input shapes and the rule', () => {
    const g = new Graph();
    const a = g.placeholder('a', [-1, 3]);
    const b = g.placeholder('b', [-1, 4]);
    let message = '';
    try {
      g.scope('model', () => g.scope('block', () => add(a, b)));
    } catch (e) {
      expect(e).toBeInstanceOf(ShapeError);
      message = (e as Error).message;
    }
    expect(message).toBe('model/block/add (op add, inputs [?,3] float32, [?,4] float32): shapes [?,3] and [?,4] do not broadcast (dimension 1: 3 vs 4)');
  });

  it('a dtype error names the node and both dtypes', () => {
    const g = new Graph();
    const a = g.placeholder('a', [2]);
    const b = g.placeholder('b', [2], 'float64');
    expect(() => add(a, b)).toThrow(DTypeError);
    expect(() => add(a, b)).toThrow(/add_1 \(op add, .*\): b is float64, expected float32 like a/);
  });

  it('variables keep their value across runs and can be assigned', () => {
    const g = new Graph();
    const w = g.variable('w', tensor([1, 2, 3]));
    const y = square(w);
    const s = new Session(g);
    expect(toArray(s.run(y))).toEqual([1, 4, 9]);
    g.assign(w, tensor([2, 2, 2]));
    expect(toArray(s.run(y))).toEqual([4, 4, 4]);
    expect(() => g.assign(w, tensor([1, 2]))).toThrow(/assign w: expected \[3\] float32, found \[2\] float32/);
    expect(g.trainableVariables()).toEqual([w]);
    const frozen = g.variable('frozen', tensor([0]), { trainable: false });
    expect(g.trainableVariables()).not.toContain(frozen);
    expect(g.variables()).toContain(frozen);
  });
});

describe('executor', () => {
  it('evaluates in topological order and only the needed subgraph', () => {
    const g = new Graph();
    const x = g.placeholder('x', [2]);
    const A = counted('countA');
    const B = counted('countB');
    const a = A.op([x]);
    const b = B.op([x]);
    const s = new Session(g);
    expect(toArray(s.run(a, { x: tensor([1, 2]) }))).toEqual([2, 3]);
    expect(A.calls()).toBe(1);
    expect(B.calls()).toBe(0); // b was not fetched: never computed
    const order = topologicalOrder([add(a, b)]);
    for (const n of order) for (const i of n.inputs) expect(order.indexOf(i)).toBeLessThan(order.indexOf(n));
    void b;
  });

  it('computes a shared node once per run', () => {
    const g = new Graph();
    const x = g.placeholder('x', [1]);
    const A = counted('shared');
    const a = A.op([x]);
    const y = add(mul(a, a), a);
    new Session(g).run(y, { x: tensor([3]) });
    expect(A.calls()).toBe(1);
  });

  it('feeds by node, by name, and into intermediate nodes', () => {
    const g = new Graph();
    const x = g.placeholder('x', [2]);
    const h = g.scope('h', () => square(x));
    const y = scale(h, 10);
    const s = new Session(g);
    expect(toArray(s.run(y, new Map([[x, tensor([1, 2])]])))).toEqual([10, 40]);
    expect(toArray(s.run(y, { 'h/square': tensor([5, 6]) }))).toEqual([50, 60]); // x not needed
    expect(s.run({ y, h }, [[x, tensor([3, 1])]]).y.data[0]).toBe(90);
  });

  it('feed errors name the placeholder, expected and found shapes', () => {
    const g = new Graph();
    const x = g.scope('input', () => g.placeholder('images', [-1, 28, 28, 1]));
    const y = g.scope('net', () => square(x));
    const s = new Session(g);
    expect(() => s.run(y)).toThrow(FeedError);
    expect(() => s.run(y)).toThrow('placeholder input/images [?,28,28,1] float32 was not fed (needed by net/square)');
    expect(() => s.run(y, { 'input/images': zeros([4, 28, 28]) })).toThrow(
      'feed for placeholder input/images: expected [?,28,28,1] float32, found [4,28,28] float32',
    );
    expect(() => s.run(y, { 'input/images': zeros([4, 28, 28, 1], 'float64') })).toThrow('expected [?,28,28,1] float32, found [4,28,28,1] float64');
    expect(() => s.run(y, { nothere: zeros([1]) })).toThrow("feed for 'nothere': there is no node with that name in the graph");
  });

  it('a kernel returning the wrong shape is caught and named', () => {
    const g = new Graph();
    const bad = defineOp({
      name: 'badKernel',
      arity: 1,
      inferShape: ([x]) => ({ shape: x.shape.slice(), dtype: x.dtype }),
      forward: () => zeros([7]),
    });
    const y = g.scope('s', () => bad([g.placeholder('x', [2])]));
    expect(() => new Session(g).run(y, { 's/x': tensor([1, 2]) })).toThrow(
      's/badKernel (op badKernel): the kernel returned [7] float32, but its shape rule says [2] float32',
    );
  });

  it('a 10,000-node chain runs and differentiates without recursion', () => {
    const g = new Graph();
    const x = g.placeholder('x', [2]);
    let h: Node = x;
    for (let i = 0; i < 10_000; i++) h = scale(h, 1.0001);
    const y = total([h]);
    const [dx] = gradients(y, [x]);
    const [yv, dxv] = new Session(g).run([y, dx], { x: tensor([1, 1]) });
    const factor = Math.pow(1.0001, 10_000);
    expect(yv.data[0]).toBeCloseTo(2 * factor, 1);
    expect(dxv.data[0]).toBeCloseTo(factor, 2);
  });

  it('reuses intermediate buffers: steady-state runs allocate no new pool buffers', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 64]);
    let h: Node = x;
    for (let i = 0; i < 20; i++) h = g.scope(`layer${i}`, () => square(scale(h, 0.5)));
    const s = new Session(g);
    const feed = { x: zeros([32, 64]) };
    s.run(h, feed);
    const first = sessionMemory(s);
    for (let i = 0; i < 5; i++) s.run(h, feed);
    expect(sessionMemory(s).buffers).toBe(first.buffers);
    // Liveness: a chain of 40 nodes needs only a few live buffers at once (not 40).
    expect(first.buffers).toBeLessThanOrEqual(3);
  });

  it('fetched values belong to the caller and are not overwritten by later runs', () => {
    const g = new Graph();
    const x = g.placeholder('x', [3]);
    const y = square(scale(x, 1));
    const s = new Session(g);
    const first = s.run(y, { x: tensor([1, 2, 3]) });
    s.run(y, { x: tensor([7, 7, 7]) });
    expect(toArray(first)).toEqual([1, 4, 9]);
  });

  it('the same seed gives bit-identical random draws; runs differ from each other', () => {
    const draws = defineOp({
      name: 'draws',
      arity: 1,
      inferShape: ([x]) => ({ shape: x.shape.slice(), dtype: x.dtype }),
      forward(_i, _a, ctx) {
        const o = ctx.output();
        for (let i = 0; i < o.size; i++) o.data[i] = ctx.rng.normal();
        return o;
      },
    });
    const make = (seed: number) => {
      const g = new Graph({ seed });
      const y = draws([g.placeholder('x', [5])]);
      const s = new Session(g);
      return [s.run(y, { x: zeros([5]) }), s.run(y, { x: zeros([5]) })].map(toArray);
    };
    const a = make(42);
    const b = make(42);
    expect(a).toEqual(b);
    expect(a[0]).not.toEqual(a[1]);
    expect(make(43)[0]).not.toEqual(a[0]);
  });

  it('training flag reaches kernels', () => {
    const mode = defineOp({
      name: 'mode',
      arity: 1,
      inferShape: () => ({ shape: [], dtype: 'float32' }),
      forward(_i, _a, ctx) {
        const o = ctx.output();
        o.data[0] = ctx.training ? 1 : 0;
        return o;
      },
    });
    const g = new Graph();
    const m = mode([g.placeholder('x', [1])]);
    const s = new Session(g);
    expect(s.run(m, { x: zeros([1]) }).data[0]).toBe(0);
    expect(s.run(m, { x: zeros([1]) }, { training: true }).data[0]).toBe(1);
  });
});

describe('reverse-mode gradients', () => {
  it('sums gradients where a node fans out (residual-style)', () => {
    const g = new Graph();
    const x = g.placeholder('x', [3]);
    const h = square(x); // h = x²
    const y = total([add(add(h, scale(h, 3)), x)]); // y = Σ 4x² + x
    const [dx, dh] = gradients(y, [x, h]);
    const s = new Session(g);
    const [dxv, dhv] = s.run([dx, dh], { x: tensor([1, -2, 0.5]) });
    expect(toArray(dxv)).toEqual([9, -15, 5]); // 8x + 1
    expect(toArray(dhv)).toEqual([4, 4, 4]);
    expect(dx.name.startsWith('gradients/')).toBe(true);
  });

  it('gives gradients for placeholders, variables and intermediates; zeros when unconnected', () => {
    const g = new Graph();
    const x = g.placeholder('x', [2]);
    const w = g.variable('w', tensor([3, 4]));
    const unused = g.variable('unused', tensor([1, 1, 1]));
    const h = mul(x, w);
    const y = total([square(h)]);
    const [dx, dw, dh, du] = gradients(y, [x, w, h, unused]);
    const s = new Session(g);
    const out = s.run({ dx, dw, dh, du }, { x: tensor([1, 2]) });
    expect(toArray(out.dh)).toEqual([6, 16]); // 2h
    expect(toArray(out.dx)).toEqual([18, 64]); // 2h·w
    expect(toArray(out.dw)).toEqual([6, 32]); // 2h·x
    expect(toArray(out.du)).toEqual([0, 0, 0]);
  });

  it('allGradients gives a gradient node for every node on the path', () => {
    const g = new Graph();
    const x = g.placeholder('x', [2]);
    const w = g.variable('w', tensor([3, 4]));
    const h = g.scope('layer', () => mul(x, w));
    const y = total([h]);
    const map = allGradients(y);
    expect([...map.keys()].map((n) => n.name).sort()).toEqual(['layer/mul', 'total', 'w', 'x'].sort());
  });

  it('an op without a grad rule on the path gives a clear error', () => {
    const noGrad = defineOp({ name: 'opaque', arity: 1, inferShape: ([x]) => ({ shape: x.shape.slice(), dtype: x.dtype }), forward: ([x]) => x });
    const g = new Graph();
    const x = g.placeholder('x', [2]);
    const y = total([g.scope('mystery', () => noGrad([x]))]);
    expect(() => gradients(y, [x])).toThrow(GradientError);
    expect(() => gradients(y, [x])).toThrow('mystery/opaque (op opaque) has no gradient rule, but the gradient of total must flow through it (to x)');
  });

  it('checks that a grad rule returns one entry per input with the right shape', () => {
    const g = new Graph();
    const x = g.placeholder('x', [2]);
    const wrongCount = defineOp({ name: 'wrongCount', arity: 1, inferShape: ([s]) => s, forward: ([t]) => t, grad: (_c, dy) => [dy, dy] });
    const wrongShape = defineOp({ name: 'wrongShape', arity: 1, inferShape: ([s]) => s, forward: ([t]) => t, grad: (_c, dy) => [total([dy])] });
    expect(() => gradients(total([wrongCount([x])]), [x])).toThrow('grad rule of wrongCount (op wrongCount): expected one entry per input (1), found 2');
    expect(() => gradients(total([wrongShape([x])]), [x])).toThrow(
      /grad rule of wrongShape \(op wrongShape\): gradient for input 0 \(x\) must be \[2\] float32, found \[\] float32/,
    );
  });

  it('needs a scalar y unless dy is given', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 2]);
    expect(() => gradients(square(x), [x])).toThrow('gradients: square must be a scalar (one element) to differentiate without dy, found shape [?,2]');
  });
});

describe('Rng', () => {
  it('is reproducible and its state round-trips', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const seqA = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(seqA);
    const state = a.getState();
    const next = [a.normal(), a.uniform()];
    const c = new Rng(0);
    c.setState(state);
    expect([c.normal(), c.uniform()]).toEqual(next);
  });
  it('gives uniform and normal draws with the right moments', () => {
    const r = new Rng(123);
    const n = 100_000;
    let su = 0,
      sn = 0,
      sn2 = 0;
    for (let i = 0; i < n; i++) {
      su += r.uniform();
      const z = r.normal();
      sn += z;
      sn2 += z * z;
    }
    expect(su / n).toBeCloseTo(0.5, 2);
    expect(sn / n).toBeCloseTo(0, 1);
    expect(Math.sqrt(sn2 / n)).toBeCloseTo(1, 1);
  });
});

describe('fetched values', () => {
  it('a fetched variable is a snapshot, not the live buffer', () => {
    const g = new Graph();
    const w = g.variable('w', tensor([1, 2]));
    const s = new Session(g);
    const before = s.run(w);
    g.valueOf(w).data[0] = 100;
    expect(toArray(before)).toEqual([1, 2]);
    expect(before.data).not.toBe(g.valueOf(w).data);
  });
});

describe('borrowed fetches and timing', () => {
  it('borrow: fetched buffers are reused by the next run, so steady state allocates nothing', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 8]);
    const y = square(scale(x, 2));
    const s = new Session(g);
    s.run(y, { x: zeros([4, 8]) }, { borrow: true });
    const buffers = sessionMemory(s).buffers;
    const second = s.run(y, { x: tensor(new Array(32).fill(1), [4, 8]) }, { borrow: true });
    expect(sessionMemory(s).buffers).toBe(buffers);
    expect(toArray(second)).toEqual(new Array(32).fill(4));
  });
  it('onTime reports every computed node once', () => {
    const g = new Graph();
    const x = g.placeholder('x', [2]);
    const y = square(scale(x, 2));
    const seen: string[] = [];
    new Session(g).run(
      y,
      { x: tensor([1, 2]) },
      {
        onTime: (n, ms) => {
          expect(ms).toBeGreaterThanOrEqual(0);
          seen.push(n.name);
        },
      },
    );
    expect(seen).toEqual(['scale', 'square']);
  });
});
