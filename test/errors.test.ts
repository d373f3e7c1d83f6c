/**
 * Every typed error says where it happened: the node's full name, which starts
 * with its scope path (`model/block/add` is node `add` in scope `model/block`),
 * plus what was expected and what was found.
 */
import { describe, it, expect } from 'vitest';
import { AnomalyError, DTypeError, FeedError, GradientError, Graph, Session, ShapeError, defineOp, gradients, tensor, type NdgraphError } from '@ndgraph/graph';
import { add, log, matmul, relu, sum } from '@ndgraph/ops';

/** Runs `f`, expects an error of class `Type`, returns its message. */
function messageOf(Type: new (m: string) => NdgraphError, f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(Type);
    expect((e as Error).name).toBe(Type.name);
    return (e as Error).message;
  }
  return expect.fail(`expected a ${Type.name}`);
}

function inputs() {
  const g = new Graph();
  const a = g.scope('inputs', () => g.placeholder('a', [-1, 3]));
  const b = g.scope('inputs', () => g.placeholder('b', [-1, 3]));
  expect([a.name, b.name, a.scope]).toEqual(['inputs/a', 'inputs_1/b', 'inputs']);
  return { g, a, b };
}

describe('ShapeError', () => {
  it('at build time names node, scope, op, input shapes and the rule', () => {
    const g = new Graph();
    const a = g.placeholder('a', [-1, 3]);
    const c = g.placeholder('c', [-1, 4]);
    const message = messageOf(ShapeError, () => g.scope('model', () => g.scope('block', () => add(a, c))));
    expect(message).toBe('model/block/add (op add, inputs [?,3] float32, [?,4] float32): shapes [?,3] and [?,4] do not broadcast (dimension 1: 3 vs 4)');
  });

  it('at run time names the node and scope with the concrete shapes', () => {
    const { g, a, b } = inputs();
    const sumNode = g.scope('model', () => add(a, b));
    const message = messageOf(ShapeError, () =>
      new Session(g).run(sumNode, [
        [
          a,
          tensor([
            [1, 2, 3],
            [4, 5, 6],
          ]),
        ],
        [
          b,
          tensor([
            [1, 2, 3],
            [4, 5, 6],
            [7, 8, 9],
          ]),
        ],
      ]),
    );
    expect(message).toBe('model/add (op add, inputs [2,3] float32, [3,3] float32): shapes [2,3] and [3,3] do not broadcast (dimension 0: 2 vs 3)');
  });
});

describe('FeedError', () => {
  it('for a missing feed names the placeholder with its scope and the node that needs it', () => {
    const { g, a, b } = inputs();
    const y = g.scope('model', () => add(a, b));
    const message = messageOf(FeedError, () => new Session(g).run(y, [[a, tensor([[1, 2, 3]])]]));
    expect(message).toBe('placeholder inputs_1/b [?,3] float32 was not fed (needed by model/add)');
  });

  it('for a wrong shape or dtype names the placeholder with its scope, expected and found', () => {
    const { g, a, b } = inputs();
    const y = g.scope('model', () => add(a, b));
    const session = new Session(g);
    expect(
      messageOf(FeedError, () =>
        session.run(y, [
          [a, tensor([[1, 2]])],
          [b, tensor([[1, 2, 3]])],
        ]),
      ),
    ).toBe('feed for placeholder inputs/a: expected [?,3] float32, found [1,2] float32');
    expect(
      messageOf(FeedError, () =>
        session.run(y, [
          [a, tensor([[1, 2, 3]], undefined, 'float64')],
          [b, tensor([[1, 2, 3]])],
        ]),
      ),
    ).toBe('feed for placeholder inputs/a: expected [?,3] float32, found [1,3] float64');
  });
});

describe('DTypeError', () => {
  it('names node, scope, op and the input dtypes', () => {
    const { g, a } = inputs();
    const ints = g.scope('data', () => g.placeholder('ids', [3], 'int32'));
    expect(messageOf(DTypeError, () => g.scope('model', () => relu(ints)))).toBe(
      'model/relu (op relu, inputs [3] int32): x must be float32 or float64, found int32',
    );
    expect(messageOf(DTypeError, () => g.scope('layer', () => matmul(a, ints)))).toBe(
      'layer/matmul (op matmul, inputs [?,3] float32, [3] int32): b is int32, expected float32 like a',
    );
  });
});

describe('GradientError', () => {
  const identityShape = ({ shape, dtype }: { shape: number[]; dtype: 'float32' | 'float64' | 'int32' }) => ({ shape: shape.slice(), dtype });

  it('for an op without a gradient rule names the node, its scope and where the gradient had to go', () => {
    const { g, a } = inputs();
    const roundDown = defineOp({ name: 'roundDown', arity: 1, inferShape: ([x]) => identityShape(x), forward: (_x, _a, ctx) => ctx.outputZeros() });
    const y = g.scope('model', () => g.scope('quantize', () => roundDown([a])));
    const loss = g.scope('loss', () => sum(y));
    expect(messageOf(GradientError, () => gradients(loss, [a]))).toBe(
      'model/quantize/roundDown (op roundDown) has no gradient rule, but the gradient of loss/sum must flow through it (to inputs/a)',
    );
  });

  it('for a grad rule returning the wrong shape names the node, its scope and the input', () => {
    const { g, a } = inputs();
    const bad = defineOp({
      name: 'badGrad',
      arity: 1,
      inferShape: ([x]) => identityShape(x),
      forward: (_x, _a, ctx) => ctx.outputZeros(),
      grad: (_ctx, dy) => [sum(dy)],
    });
    const loss = sum(g.scope('model', () => bad([a])));
    expect(messageOf(GradientError, () => gradients(loss, [a]))).toMatch(
      /^grad rule of model\/badGrad \(op badGrad\): gradient for input 0 \(inputs\/a\) must be \[\?,3\] float32, found \[\] float32 from gradients\/model\/badGrad\/sum$/,
    );
  });
});

describe('AnomalyError', () => {
  it('names node, op and scope, and the stats of its inputs', () => {
    const { g, a } = inputs();
    const y = g.scope('model', () => g.scope('head', () => log(a)));
    const message = messageOf(AnomalyError, () => new Session(g).run(y, [[a, tensor([[1, -1, 2]])]], { anomaly: true }));
    expect(message).toBe(
      "model/head/log (op log, scope 'model/head') produced 1 NaN and 0 Inf values out of 3 (first at flat index 1)\n" +
        '  input 0 inputs/a (op placeholder) [1,3]: mean 0.6667 std 1.2472 min -1.0000 max 2.0000 zeros 0.0% nan 0 inf 0',
    );
  });
});

describe('unknown option keys are errors, never ignored', () => {
  it('op builders name the key and list the ones they take', async () => {
    const { conv2d, maxPool, matmul: mm, sum: total, batchNorm } = await import('@ndgraph/ops');
    const g = new Graph();
    const x = g.placeholder('x', [1, 8, 8, 2]);
    const w = g.variable('w', tensor(new Array(3 * 3 * 2 * 4).fill(0.1), [3, 3, 2, 4]));
    // A dilation the op does not have would silently compute another convolution.
    expect(() => conv2d(x, w, { padding: 'same', dilations: [2, 2] } as never)).toThrow("conv2d: unknown option 'dilations'; expected 'strides', 'padding'");
    expect(() => maxPool(x, { ksize: 2, stride: 2 } as never)).toThrow("maxPool: unknown option 'stride'; expected 'ksize', 'strides', 'padding'");
    const m = g.placeholder('m', [2, 2]);
    expect(() => mm(m, m, { transpose: true } as never)).toThrow("matmul: unknown option 'transpose'; expected 'transposeA', 'transposeB'");
    expect(() => total(m, { axis: 0 } as never)).toThrow("sum: unknown option 'axis'; expected 'axes', 'keepDims'");
    const c = g.variable('c', tensor([1, 1]));
    expect(() => batchNorm(m, c, c, c, c, { name: 'bn' } as never)).toThrow("batchNorm: unknown option 'name'; expected 'momentum', 'epsilon'");
  });

  it('layers and models do too', async () => {
    const { layers, lenet5 } = await import('@ndgraph/nn');
    const g = new Graph();
    const x = g.placeholder('x', [-1, 28, 28, 1]);
    expect(() => layers.conv2d(x, { filters: 4, kernelSize: 3, dilation: 2 } as never)).toThrow(
      /conv2d: unknown option 'dilation'; expected 'name', 'filters'/,
    );
    expect(() => layers.dense(g.placeholder('f', [-1, 4]), 3, { activation: 'relu', fuse: false } as never)).toThrow(/dense: unknown option 'fuse'/);
    expect(() => lenet5(x, { fuse: false } as never)).toThrow(/lenet5: unknown option 'fuse'/);
  });
});
