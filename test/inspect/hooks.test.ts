/**
 * Session hooks on a node's value and gradient. The graph:
 *
 *   x = [1, -2, 3] (placeholder), w = [2, 1, -1] (variable)
 *   h = x ⊙ w = [2, -2, -3]
 *   loss = sum(h²) = 4 + 4 + 9 = 17
 *   ∂loss/∂h = 2h = [4, -4, -6]
 *   ∂loss/∂w = ∂h ⊙ x = [4, 8, -18]
 */
import { describe, it, expect } from 'vitest';
import { Graph, Session, gradients, inspectRun, tensor, toArray, GraphError, type Node, type Tensor } from '@ndgraph/graph';
import { mul, square, sum } from '@ndgraph/ops';
import { sgd } from '@ndgraph/nn';

function build() {
  const g = new Graph();
  const x = g.placeholder('x', [3], 'float64');
  const w = g.variable('w', tensor([2, 1, -1], [3], 'float64'));
  const h = g.scope('model', () => mul(x, w));
  const loss = g.scope('model', () => sum(square(h)));
  const [gw] = gradients(loss, [w]);
  const feeds: [Node, Tensor][] = [[x, tensor([1, -2, 3], [3], 'float64')]];
  return { g, x, w, h, loss, gw, feeds, session: new Session(g) };
}

/** Clips every element to [-limit, limit], in place. */
function clipInPlace(t: Tensor, limit: number): void {
  for (let i = 0; i < t.size; i++) t.data[t.offset + i] = Math.max(-limit, Math.min(limit, t.data[t.offset + i]));
}

describe('Session.hook', () => {
  it('calls value and gradient hooks with the node and, for gradients, the gradient node', () => {
    const { h, w, loss, gw, feeds, session } = build();
    const seen: string[] = [];
    session.hook(h, {
      value: (v, node) => seen.push(`value ${node.name} ${toArray(v).join(',')}`),
      gradient: (g, node, gradNode) => seen.push(`gradient ${node.name} ${toArray(g).join(',')} from ${gradNode.op.name}`),
    });
    session.hook(w, { gradient: (g, node, gradNode) => seen.push(`gradient ${node.name} ${toArray(g).join(',')} ${gradNode === gw}`) });
    session.run([loss, gw], feeds);
    expect(seen).toEqual(['value model/mul 2,-2,-3', 'gradient model/mul 4,-4,-6 from mul', 'gradient w 4,8,-18 true']);
  });

  it('a gradient hook fires only in runs that compute that gradient', () => {
    const { w, loss, feeds, session } = build();
    let calls = 0;
    session.hook(w, { gradient: () => calls++ });
    session.run(loss, feeds);
    expect(calls).toBe(0);
  });

  it('unregisters', () => {
    const { h, loss, feeds, session } = build();
    let calls = 0;
    const stop = session.hook(h, { value: () => calls++ });
    session.run(loss, feeds);
    stop();
    session.run(loss, feeds);
    stop(); // twice is harmless
    expect(calls).toBe(1);
  });

  it('a value hook may change the value in place, and consumers see the change', () => {
    const { h, loss, feeds, session } = build();
    session.hook(h, {
      value: (v) => {
        for (let i = 0; i < v.size; i++) v.data[v.offset + i] *= 2;
      },
    });
    // h becomes [4, -4, -6]: loss = 16 + 16 + 36.
    expect(session.run(loss, feeds).data[0]).toBe(68);
  });

  it('clipping an intermediate gradient changes the gradients computed from it', () => {
    const { h, gw, feeds, session } = build();
    session.hook(h, { gradient: (g) => clipInPlace(g, 5) });
    // ∂h clipped to [4, -4, -5]: ∂w = [4·1, -4·-2, -5·3].
    expect(toArray(session.run(gw, feeds))).toEqual([4, 8, -15]);
  });

  it('gradient clipping by hook changes the optimizer updates', () => {
    const lr = 0.1;
    const train = (clip: boolean): number[] => {
      const { g, w, gw, feeds, session } = build();
      if (clip) session.hook(w, { gradient: (grad) => clipInPlace(grad, 1) });
      const optimizer = sgd({ learningRate: lr });
      const grad = session.run(gw, feeds);
      optimizer.step([{ name: w.name, value: g.valueOf(w), grad }]);
      return toArray(g.valueOf(w));
    };
    // Unclipped: w − 0.1·[4, 8, −18] = [1.6, 0.2, 0.8].
    const plain = train(false);
    [1.6, 0.2, 0.8].forEach((v, i) => expect(plain[i]).toBeCloseTo(v, 12));
    // Clipped to [1, 1, −1]: w − 0.1·[1, 1, −1] = [1.9, 0.9, −0.9].
    const clipped = train(true);
    [1.9, 0.9, -0.9].forEach((v, i) => expect(clipped[i]).toBeCloseTo(v, 12));
  });

  it('the inspector reports what hooks leave', () => {
    const { h, loss, feeds, session } = build();
    session.hook(h, { gradient: (g) => clipInPlace(g, 5) });
    const report = inspectRun(session, { loss, feeds });
    expect(report.row(h)!.gradient).toMatchObject({ min: -5, max: 4 });
  });

  it('rejects a node of another graph and an empty hook', () => {
    const { session, h } = build();
    const other = new Graph().placeholder('p', [1]);
    expect(() => session.hook(other, { value: () => {} })).toThrow(GraphError);
    expect(() => session.hook(h, {})).toThrow(/model\/mul: give a value and\/or gradient callback/);
  });
});
