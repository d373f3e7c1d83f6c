import { describe, it } from 'vitest';
import { tanh, sigmoid, exp, log, sqrt, softplus, elu, relu, leakyRelu, sum, mean, reshape, biasAdd, mul } from '@ndgraph/ops';
import { Graph, Session, gradients, tensor as makeTensor, type Node } from '@ndgraph/graph';
import { expectClose, expectGradcheck, randomTensor } from '../helpers.ts';

/** The gradient node of sum(f(x)) with respect to x: an ordinary node that can be differentiated again. */
const gradOf = (f: (x: Node) => Node) => (x: Node) => gradients(sum(f(x)), [x])[0];

/** d²/dx² of sum(f(x)), elementwise, through the gradient graph built twice. */
function secondDerivative(f: (x: Node) => Node, points: number[]): number[] {
  const g = new Graph();
  const x = g.placeholder('x', [points.length], 'float64');
  const [d1] = gradients(sum(f(x)), [x]);
  const [d2] = gradients(sum(d1), [x]);
  return Array.from(new Session(g).run(d2, new Map([[x, makeTensor(points, [points.length], 'float64')]])).data);
}

const points = [-2.5, -1, -0.3, 0.2, 0.9, 3];

describe('second-order gradients', () => {
  it("tanh'' = −2·tanh·(1 − tanh²), against the closed form", () => {
    const expected = points.map((v) => -2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2));
    expectClose(secondDerivative(tanh, points), expected, 1e-14);
  });

  it('closed forms for sigmoid, exp, log, sqrt, softplus, elu and the relu family', () => {
    const s = (v: number) => 1 / (1 + Math.exp(-v));
    expectClose(
      secondDerivative(sigmoid, points),
      points.map((v) => s(v) * (1 - s(v)) * (1 - 2 * s(v))),
      1e-14,
    );
    expectClose(secondDerivative(exp, points), points.map(Math.exp), 1e-14);
    expectClose(
      secondDerivative(softplus, points),
      points.map((v) => s(v) * (1 - s(v))),
      1e-14,
    );
    const positive = [0.1, 0.5, 1, 2, 7];
    expectClose(
      secondDerivative(log, positive),
      positive.map((v) => -1 / (v * v)),
      1e-12,
    );
    expectClose(
      secondDerivative(sqrt, positive),
      positive.map((v) => -0.25 * v ** -1.5),
      1e-12,
    );
    // elu(x, α)'' = α·eˣ left of 0 and 0 right of it; relu'' and leakyRelu'' are 0 away from 0.
    expectClose(
      secondDerivative((x) => elu(x, 0.7), points),
      points.map((v) => (v > 0 ? 0 : 0.7 * Math.exp(v))),
      1e-14,
    );
    expectClose(
      secondDerivative(relu, points),
      points.map(() => 0),
      0,
    );
    expectClose(
      secondDerivative((x) => leakyRelu(x, 0.1), points),
      points.map(() => 0),
      0,
    );
  });

  it('gradcheck of the gradient graph itself (tanh and sigmoid)', () => {
    for (const shape of [[6], [2, 3, 3, 2]]) {
      const x = randomTensor(shape, 61, -3, 3);
      expectGradcheck(`grad tanh ${JSON.stringify(shape)}`, gradOf(tanh), [x]);
      expectGradcheck(`grad sigmoid ${JSON.stringify(shape)}`, gradOf(sigmoid), [x]);
    }
  });

  it('gradcheck of the gradient graphs of exp, log, sqrt, softplus and elu', () => {
    const x = randomTensor([3, 4], 67, -2, 2);
    const positive = randomTensor([3, 4], 71, 0.3, 3);
    const awayFromZero = randomTensor([3, 4], 73, -2, 2);
    for (let i = 0; i < awayFromZero.size; i++) awayFromZero.data[i] = Math.sign(awayFromZero.data[i] || 1) * (0.05 + Math.abs(awayFromZero.data[i]));
    expectGradcheck('grad exp', gradOf(exp), [x]);
    expectGradcheck('grad log', gradOf(log), [positive], { rtol: 1e-4 });
    expectGradcheck('grad sqrt', gradOf(sqrt), [positive]);
    expectGradcheck('grad softplus', gradOf(softplus), [x]);
    expectGradcheck(
      'grad elu',
      gradOf((p) => elu(p, 1.5)),
      [awayFromZero],
    );
  });

  it('gradcheck of a gradient through reductions, reshape and biasAdd (a small NHWC layer)', () => {
    // y = mean(tanh(biasAdd(x, b))²) reshaped; its gradient wrt x, checked in x and b.
    const x = randomTensor([2, 3, 3, 4], 79, -1, 1);
    const b = randomTensor([4], 83, -0.5, 0.5);
    const layer = (p: Node, q: Node) => {
      const h = tanh(biasAdd(p, q));
      return mean(mul(reshape(h, [2, -1]), reshape(h, [2, -1])), { axes: [1] });
    };
    expectGradcheck('grad of layer wrt x', (p, q) => gradients(sum(layer(p, q)), [p])[0], [x, b]);
    expectGradcheck('grad of layer wrt b', (p, q) => gradients(sum(layer(p, q)), [q])[0], [x, b]);
  });
});
