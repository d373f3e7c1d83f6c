/**
 * Sessions give their backend's memory back: all of it, once, on `dispose()`,
 * or after the session has been garbage-collected (the backend's arrays
 * release themselves once unreachable). A disposed session refuses to run.
 * Graphs keep variables in their backend's memory. The pool gives buffers
 * that recent runs did not use back to the backend, so memory stays bounded
 * when shapes change from run to run. (test/nn/training.test.ts checks the
 * same with the WebAssembly backend and the Trainer.)
 */
import { describe, expect, it } from 'vitest';
import {
  type Backend,
  type DType,
  Graph,
  GraphError,
  newTypedArray,
  releaseWhenUnreachable,
  forgetUnreachable,
  Session,
  tensor,
  type TypedArray,
} from '@ndgraph/graph';
import { add, mul, square } from '@ndgraph/ops';

/** A backend of ordinary arrays that records what it hands out and what comes back (by allocation number). */
function trackingBackend() {
  const handedOut = new WeakMap<TypedArray, number>(); // weak: a dropped array can be collected
  const freed: number[] = [];
  let next = 0;
  let live = 0;
  const backend: Backend = {
    name: 'tracking',
    allocate(dtype: DType, length: number) {
      const array = newTypedArray(dtype, length);
      const id = next++;
      handedOut.set(array, id);
      live++;
      releaseWhenUnreachable(array, () => {
        live--;
        freed.push(id);
      });
      return array;
    },
    free(array) {
      const id = handedOut.get(array);
      if (id === undefined) return;
      forgetUnreachable(array);
      handedOut.delete(array);
      live--;
      freed.push(id);
    },
    owns: (array) => handedOut.has(array),
    kernel: () => undefined,
  };
  return { backend, freed, allocations: () => next, live: () => live };
}

/** A graph with a few float32 intermediates: y = (x + x)² · x. */
function smallGraph() {
  const g = new Graph({ backend: 'js' });
  const x = g.placeholder('x', [-1, 3]);
  const y = mul(square(add(x, x)), x);
  const feed = tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  return { g, x, y, feed };
}

const gc = (globalThis as { gc?: () => void }).gc;

describe('Session.dispose and dropped sessions', () => {
  it('dispose gives every buffer back, once, and the session refuses to run after it', () => {
    const { g, x, y, feed } = smallGraph();
    const tracking = trackingBackend();
    const session = new Session(g, { backend: tracking.backend });
    const first = session.run(y, [[x, feed]]);
    session.run(y, [[x, feed]], { borrow: true });
    expect(Array.from(first.data)).toEqual([4, 32, 108, 256, 500, 864]);
    expect(tracking.allocations()).toBeGreaterThan(0);
    expect(tracking.freed).toHaveLength(0);
    session.dispose();
    expect(tracking.live()).toBe(0);
    expect(new Set(tracking.freed).size).toBe(tracking.allocations()); // each once
    expect(tracking.freed).toHaveLength(tracking.allocations());
    expect(() => session.run(y, [[x, feed]])).toThrow(GraphError);
    expect(() => session.run(y, [[x, feed]])).toThrow('run: this session has been disposed; make a new Session');
    session.dispose(); // a second dispose does nothing
    expect(tracking.freed).toHaveLength(tracking.allocations());
    // The fetched value was copied out of the backend's memory: it is still the caller's.
    expect(Array.from(first.data)).toEqual([4, 32, 108, 256, 500, 864]);
  });

  it('a session dropped without dispose gives its buffers back once it has been garbage-collected', async () => {
    expect(gc, 'the test workers run with --expose-gc').toBeTypeOf('function');
    const { g, x, y, feed } = smallGraph();
    const tracking = trackingBackend();
    (() => {
      const session = new Session(g, { backend: tracking.backend });
      session.run(y, [[x, feed]]);
    })();
    expect(tracking.allocations()).toBeGreaterThan(0);
    // Finalization runs some time after a collection: give it a few turns.
    for (let turn = 0; turn < 50 && tracking.freed.length < tracking.allocations(); turn++) {
      gc!();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(new Set(tracking.freed).size).toBe(tracking.allocations());
  });

  it('buffers that recent runs did not use go back to the backend, so changing shapes keep memory bounded', () => {
    const { g, x, y } = smallGraph();
    const tracking = trackingBackend();
    const session = new Session(g, { backend: tracking.backend });
    for (let batch = 1; batch <= 40; batch++) session.run(y, [[x, tensor(new Array(batch * 3).fill(1), [batch, 3])]]);
    // Each run needs a few buffers of its own batch size; only those of the last few runs are kept.
    expect(tracking.allocations()).toBeGreaterThan(40);
    expect(tracking.live()).toBeLessThan(20);
    // A repeated shape reuses its buffers: no new allocation in the steady state.
    const feed = tensor(new Array(12).fill(2), [4, 3]);
    session.run(y, [[x, feed]]);
    const before = tracking.allocations();
    for (let i = 0; i < 10; i++) session.run(y, [[x, feed]]);
    expect(tracking.allocations()).toBe(before);
  });
});

describe('Graph backend', () => {
  it("puts variable values in memory of the graph's backend (copied in)", () => {
    const tracking = trackingBackend();
    const g = new Graph({ backend: tracking.backend });
    const initial = tensor([
      [1, 2],
      [3, 4],
    ]);
    const w = g.variable('w', initial);
    const d = g.variable('d', tensor([1, 2], [2], 'float64'));
    const value = g.valueOf(w);
    expect(tracking.backend.owns(value.data)).toBe(true);
    expect(tracking.backend.owns(g.valueOf(d).data)).toBe(true);
    expect(Array.from(value.data)).toEqual([1, 2, 3, 4]);
    expect(value.shape).toEqual([2, 2]);
    expect(value.data).not.toBe(initial.data); // a copy, not the caller's array
    expect(g.valueOf(d).data).toBeInstanceOf(Float64Array);
    // Runs read it like any variable; the session uses the graph's backend by default.
    const session = new Session(g);
    expect(session.backend).toBe(tracking.backend);
    expect(Array.from(session.run(add(w, w)).data)).toEqual([2, 4, 6, 8]);
  });

  it('unknown options and backends are errors that say what is expected', () => {
    expect(() => new Graph({ seed: 1, allocateFloat32: () => new Float32Array(1) } as never)).toThrow(
      "Graph: unknown option 'allocateFloat32'; expected 'seed', 'backend'",
    );
    expect(() => new Graph({ backend: 'cuda' })).toThrow(/unknown backend 'cuda'; registered: .*js/);
    const g = new Graph();
    expect(() => new Session(g, { fuse: false } as never)).toThrow("Session: unknown option 'fuse'; expected 'seed', 'backend', 'fusion'");
  });
});
