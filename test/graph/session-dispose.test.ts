/**
 * Sessions whose float32 buffers come from an outside allocator (kernel
 * memory, in practice) give them back: all of them, once, on `dispose()`, or
 * after the session has been garbage-collected. A disposed session refuses
 * to run. (test/nn/training.test.ts checks the same with the kernels' own
 * memory and the Trainer.)
 */
import { describe, expect, it } from 'vitest';
import { Graph, GraphError, Session, tensor } from '@ndgraph/graph';
import { add, mul, square } from '@ndgraph/ops';

/** An allocator that records what it hands out and what comes back. */
function trackingAllocator() {
  const handedOut = new Set<Float32Array>();
  const freed: Float32Array[] = [];
  return {
    handedOut,
    freed,
    allocateFloat32: (length: number) => {
      const array = new Float32Array(length);
      handedOut.add(array);
      return array;
    },
    freeFloat32: (array: Float32Array) => {
      freed.push(array);
    },
  };
}

/** A graph with a few float32 intermediates: y = (x + x)² · x. */
function smallGraph() {
  const g = new Graph();
  const x = g.placeholder('x', [2, 3]);
  const y = mul(square(add(x, x)), x);
  const feed = tensor([[1, 2, 3], [4, 5, 6]]);
  return { g, x, y, feed };
}

const gc = (globalThis as { gc?: () => void }).gc;

describe('Session.dispose and dropped sessions', () => {
  it('dispose gives every outside-allocated buffer back, once, and the session refuses to run after it', () => {
    const { g, x, y, feed } = smallGraph();
    const tracking = trackingAllocator();
    const session = new Session(g, tracking);
    const first = session.run(y, [[x, feed]]);
    session.run(y, [[x, feed]], { borrow: true });
    expect(Array.from(first.data)).toEqual([4, 32, 108, 256, 500, 864]);
    expect(tracking.handedOut.size).toBeGreaterThan(0);
    expect(tracking.freed).toHaveLength(0);
    session.dispose();
    expect(new Set(tracking.freed)).toEqual(tracking.handedOut);
    expect(tracking.freed).toHaveLength(tracking.handedOut.size); // each once
    expect(() => session.run(y, [[x, feed]])).toThrow(GraphError);
    expect(() => session.run(y, [[x, feed]])).toThrow('run: this session has been disposed; make a new Session');
    session.dispose(); // a second dispose does nothing
    expect(tracking.freed).toHaveLength(tracking.handedOut.size);
    // The fetched value was copied out of the pool: it is still the caller's.
    expect(Array.from(first.data)).toEqual([4, 32, 108, 256, 500, 864]);
  });

  it('a session dropped without dispose gives its buffers back once it has been garbage-collected', async () => {
    expect(gc, 'the test workers run with --expose-gc').toBeTypeOf('function');
    const { g, x, y, feed } = smallGraph();
    const tracking = trackingAllocator();
    (() => {
      const session = new Session(g, tracking);
      session.run(y, [[x, feed]]);
    })();
    expect(tracking.handedOut.size).toBeGreaterThan(0);
    // Finalization runs some time after a collection: give it a few turns.
    for (let turn = 0; turn < 50 && tracking.freed.length < tracking.handedOut.size; turn++) {
      gc!();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(new Set(tracking.freed)).toEqual(tracking.handedOut);
    expect(tracking.freed).toHaveLength(tracking.handedOut.size);
  });
});

describe('Graph allocateFloat32', () => {
  it('puts float32 variable values in buffers from the allocator (copied in), and nothing else', () => {
    const tracking = trackingAllocator();
    const g = new Graph({ allocateFloat32: tracking.allocateFloat32 });
    const initial = tensor([[1, 2], [3, 4]]);
    const w = g.variable('w', initial);
    const d = g.variable('d', tensor([1, 2], [2], 'float64'));
    const value = g.valueOf(w);
    expect(tracking.handedOut.has(value.data as Float32Array)).toBe(true);
    expect(Array.from(value.data)).toEqual([1, 2, 3, 4]);
    expect(value.shape).toEqual([2, 2]);
    expect(value.data).not.toBe(initial.data); // a copy, not the caller's array
    expect(g.valueOf(d).data).toBeInstanceOf(Float64Array);
    expect(tracking.handedOut.size).toBe(1);
    // Runs read it like any variable.
    expect(Array.from(new Session(g).run(add(w, w)).data)).toEqual([2, 4, 6, 8]);
  });
});
