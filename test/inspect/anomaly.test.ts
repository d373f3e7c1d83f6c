/** Anomaly mode: the first NaN/Inf stops the run and the error says where it came from. */
import { describe, it, expect } from 'vitest';
import { AnomalyError, Graph, Session, gradients, inspectRun, tensor, type Node, type Tensor } from '@ndgraph/graph';
import { log, mul, sqrt, sum } from '@ndgraph/ops';

function catchAnomaly(run: () => unknown): AnomalyError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(AnomalyError);
    return e as AnomalyError;
  }
  return expect.fail('expected an AnomalyError');
}

describe('anomaly mode', () => {
  it('names the forward node whose value is first non-finite: log(0)', () => {
    const g = new Graph();
    const x = g.scope('inputs', () => g.placeholder('x', [3], 'float64'));
    const loss = g.scope('model', () => sum(mul(log(x), x)));
    const feeds: [Node, Tensor][] = [[x, tensor([0, 1, 2], [3], 'float64')]];
    const session = new Session(g);
    const e = catchAnomaly(() => session.run(loss, feeds, { anomaly: true }));
    const lines = e.message.split('\n');
    expect(lines[0]).toBe("model/log (op log, scope 'model') produced 0 NaN and 1 Inf values out of 3 (first at flat index 0)");
    expect(lines[1]).toBe('  input 0 inputs/x (op placeholder) [3]: mean 1.0000 std 0.8165 min 0.0000 max 2.0000 zeros 33.3% nan 0 inf 0');
    expect(lines).toHaveLength(2); // a forward node: no gradient lines
    // Without anomaly mode the run goes through (0·log 0 = NaN reaches the loss).
    expect(Number.isNaN(session.run(loss, feeds).data[0])).toBe(true);
  });

  it('names the forward node whose backward pass blew up: the gradient of sqrt at 0', () => {
    const g = new Graph();
    const x = g.placeholder('x', [3], 'float64');
    const root = g.scope('net', () => sqrt(x));
    const loss = g.scope('net', () => sum(root));
    const [gx] = gradients(loss, [x]);
    const feeds: [Node, Tensor][] = [[x, tensor([0, 1, 4], [3], 'float64')]];
    const session = new Session(g);
    // The forward values are finite (√0 = 0); dy/(2√x) at 0 is +Inf.
    const e = catchAnomaly(() => session.run([loss, gx], feeds, { anomaly: true }));
    const lines = e.message.split('\n');
    expect(lines[0]).toMatch(
      /^gradients\/net\/sqrt\/\S+ \(op div, scope 'gradients\/net\/sqrt'\) produced 0 NaN and 1 Inf values out of 3 \(first at flat index 0\)$/,
    );
    expect(lines[1]).toBe("  it belongs to the backward pass of forward node net/sqrt (op sqrt, scope 'net')");
    expect(lines[2]).toBe("  it is the gradient with respect to x (op placeholder, scope '')");
    // The stats of the failing gradient node's inputs: dy (all ones) and 2√x = [0, 2, 4].
    expect(lines[3]).toMatch(/^ {2}input 0 \S+ \(op \w+\) \[3\]: mean 1\.0000 std 0\.0000 min 1\.0000 max 1\.0000 zeros 0\.0% nan 0 inf 0$/);
    expect(lines[4]).toMatch(
      /^ {2}input 1 gradients\/net\/sqrt\/scale \(op scale\) \[3\]: mean 2\.0000 std 1\.6330 min 0\.0000 max 4\.0000 zeros 33\.3% nan 0 inf 0$/,
    );
    // The registry agrees: the failing node was built for the sqrt node.
    const failing = g.node(lines[0].split(' ')[0]);
    expect(g.gradientInfo(failing)!.builtFor).toBe(root);
    expect(g.gradientInfo(failing)!.of).toEqual([x]);
  });

  it('names the intermediate forward node a gradient belongs to', () => {
    // h = x ⊙ x, loss = sum(√h). At x = 0 the forward pass is finite (√0 = 0), but
    // ∂loss/∂h = 1/(2√h) is Inf: it is the gradient of h, built by sqrt's grad rule.
    const g = new Graph();
    const x = g.placeholder('x', [2], 'float64');
    const { h, loss } = g.scope('layer', () => {
      const h = mul(x, x);
      return { h, loss: sum(sqrt(h)) };
    });
    expect(h.name).toBe('layer/mul');
    const [gx] = gradients(loss, [x]);
    const session = new Session(g);
    const e = catchAnomaly(() => session.run(gx, [[x, tensor([1, 0], [2], 'float64')]], { anomaly: true }));
    expect(e.message).toMatch(
      /^gradients\/layer\/sqrt\/\S+ \(op div, scope 'gradients\/layer\/sqrt'\) produced 0 NaN and 1 Inf values out of 2 \(first at flat index 1\)/,
    );
    expect(e.message).toContain("\n  it belongs to the backward pass of forward node layer/sqrt (op sqrt, scope 'layer')\n");
    expect(e.message).toContain("\n  it is the gradient with respect to layer/mul (op mul, scope 'layer')\n");
  });

  it('works through inspectRun', () => {
    const g = new Graph();
    const x = g.placeholder('x', [2], 'float64');
    const loss = g.scope('net', () => sum(sqrt(x)));
    const session = new Session(g);
    const feeds: [Node, Tensor][] = [[x, tensor([0, 1], [2], 'float64')]];
    const e = catchAnomaly(() => inspectRun(session, { loss, feeds, anomaly: true }));
    expect(e.message).toContain("backward pass of forward node net/sqrt (op sqrt, scope 'net')");
    // Without anomaly mode the report shows where the Inf is.
    const report = inspectRun(session, { loss, feeds });
    expect(report.row('net/sqrt')!.gradient).toMatchObject({ inf: 0, nan: 0 });
    expect(report.row('x')!.gradient).toMatchObject({ inf: 1, nan: 0 });
  });
});
