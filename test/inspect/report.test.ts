/**
 * The per-node report against numbers worked out by hand on a small graph:
 *
 *   x = [1, -2, 0, 3]   (placeholder)      w = [0.5, 0.5, -1, 2]   (variable)
 *   h = x ⊙ w = [0.5, -1, 0, 6]
 *   r = relu(h) = [0.5, 0, 0, 6]
 *   s = r² = [0.25, 0, 0, 36]
 *   loss = sum(s) = 36.25
 *
 * Backward (relu'(0) = 0):
 *   ∂loss/∂s = [1, 1, 1, 1]      ∂loss/∂r = 2r = [1, 0, 0, 12]
 *   ∂loss/∂h = [1, 0, 0, 12]     ∂loss/∂x = ∂h ⊙ w = [0.5, 0, 0, 24]
 *   ∂loss/∂w = ∂h ⊙ x = [1, 0, 0, 36]
 */
import { describe, it, expect } from 'vitest';
import { Graph, Session, inspectRun, formatReport, formatNumber, tensor, type TensorStats, type Node } from '@ndgraph/graph';
import { log, mul, relu, square, sum } from '@ndgraph/ops';

/** Independent two-pass statistics, NaN/Inf counted apart, population std. */
function naiveStats(values: number[]): TensorStats {
  const finite = values.filter((v) => Number.isFinite(v));
  const mean = finite.reduce((a, b) => a + b, 0) / finite.length;
  const variance = finite.reduce((a, v) => a + (v - mean) ** 2, 0) / finite.length;
  return {
    size: values.length,
    mean,
    std: Math.sqrt(variance),
    min: Math.min(...finite),
    max: Math.max(...finite),
    zeroFraction: values.filter((v) => v === 0).length / values.length,
    nan: values.filter((v) => Number.isNaN(v)).length,
    inf: values.filter((v) => v === Infinity || v === -Infinity).length,
  };
}

function expectStats(actual: TensorStats | null, values: number[], label: string): void {
  expect(actual, label).not.toBeNull();
  const want = naiveStats(values);
  for (const key of Object.keys(want) as (keyof TensorStats)[]) {
    expect(actual![key], `${label}.${key}`).toBeCloseTo(want[key], 12);
  }
}

function smallGraph() {
  const g = new Graph();
  const x = g.placeholder('x', [4], 'float64');
  const w = g.variable('w', tensor([0.5, 0.5, -1, 2], [4], 'float64'));
  const { h, r, s, loss } = g.scope('model', () => {
    const h = mul(x, w);
    const r = relu(h);
    const s = square(r);
    return { h, r, s, loss: sum(s) };
  });
  const feeds = new Map<Node, ReturnType<typeof tensor>>([[x, tensor([1, -2, 0, 3], [4], 'float64')]]);
  return { g, x, w, h, r, s, loss, feeds, session: new Session(g) };
}

describe('inspectRun', () => {
  it('reports every forward node with value and gradient statistics computed by hand', () => {
    const { x, w, h, r, s, loss, feeds, session } = smallGraph();
    const report = inspectRun(session, { loss, feeds });
    expect(report.loss).toBe(36.25);
    expect(report.rows.map((row) => row.name)).toEqual(['x', 'w', 'model/mul', 'model/relu', 'model/square', 'model/sum']);

    const row = (n: Node) => report.row(n)!;
    expect(row(h)).toMatchObject({ name: 'model/mul', scope: 'model', op: 'mul', shape: [4], dtype: 'float64' });
    expectStats(row(x).value, [1, -2, 0, 3], 'x value');
    expectStats(row(w).value, [0.5, 0.5, -1, 2], 'w value');
    expectStats(row(h).value, [0.5, -1, 0, 6], 'h value');
    expectStats(row(r).value, [0.5, 0, 0, 6], 'r value');
    expectStats(row(s).value, [0.25, 0, 0, 36], 's value');
    expectStats(row(loss).value, [36.25], 'loss value');

    expectStats(row(loss).gradient, [1], 'loss gradient');
    expectStats(row(s).gradient, [1, 1, 1, 1], 's gradient');
    expectStats(row(r).gradient, [1, 0, 0, 12], 'r gradient');
    expectStats(row(h).gradient, [1, 0, 0, 12], 'h gradient');
    expectStats(row(x).gradient, [0.5, 0, 0, 24], 'x gradient');
    expectStats(row(w).gradient, [1, 0, 0, 36], 'w gradient');

    // Spot-check a few numbers written out fully, not through naiveStats.
    expect(row(r).value!.mean).toBeCloseTo(1.625, 12);
    expect(row(r).value!.std).toBeCloseTo(Math.sqrt(25.6875 / 4), 12);
    expect(row(r).value!.zeroFraction).toBe(0.5);
    expect(row(w).gradient!.max).toBe(36);
    expect(row(h).gradientNode).toMatch(/^gradients\/model\//);
  });

  it('counts NaN and Inf apart and takes mean/std over the finite values', () => {
    const g = new Graph();
    const x = g.placeholder('x', [4], 'float64');
    const y = g.scope('net', () => log(x));
    const loss = g.scope('net', () => sum(y));
    const report = inspectRun(new Session(g), { loss, feeds: [[x, tensor([0, -1, 1, Math.E], [4], 'float64')]], gradients: false });
    // log: [-inf, nan, 0, 1]
    const row = report.row('net/log')!;
    expect(row.value).toMatchObject({ size: 4, nan: 1, inf: 1, mean: 0.5, min: 0, max: 1, zeroFraction: 0.25 });
    expect(row.value!.std).toBeCloseTo(0.5, 12);
    expect(row.gradient).toBeNull();
    expect(Number.isNaN(report.loss)).toBe(true); // -inf + nan
  });

  it('builds the gradient nodes once per loss and reuses them on later calls', () => {
    const { g, loss, feeds, session } = smallGraph();
    inspectRun(session, { loss, feeds });
    const size = g.nodes.length;
    const again = inspectRun(session, { loss, feeds });
    expect(g.nodes.length).toBe(size);
    expect(again.loss).toBe(36.25);
  });

  it('fetches only the sinks: intermediate values are read during the run, not kept', () => {
    const { w, loss, feeds, session } = smallGraph();
    const fetched: Node[][] = [];
    const run = session.run.bind(session);
    (session as unknown as { run: (f: Node[], ...rest: unknown[]) => unknown }).run = (f: Node[], ...rest: unknown[]) => {
      fetched.push(f);
      return (run as (...a: unknown[]) => unknown)(f, ...rest);
    };
    inspectRun(session, { loss, feeds });
    expect(fetched).toHaveLength(1);
    // Everything else feeds into the gradients of the sources x and w.
    const names = fetched[0].map((n) => n.name).sort();
    expect(names).toEqual([session.graph.gradientNodesOf(session.graph.node('x'))[0].name, session.graph.gradientNodesOf(w)[0].name].sort());
  });

  it('prints an aligned table and a JSON form', () => {
    const { loss, feeds, session } = smallGraph();
    const report = inspectRun(session, { loss, feeds });
    const text = formatReport(report);
    const lines = text.split('\n');
    expect(lines[0]).toBe('loss model/sum = 36.2500 (inference run, 6 nodes)');
    expect(lines[2]).toMatch(/^node\s+op\s+shape\s+dtype\s+\|\s+mean\s+std\s+min\s+max\s+zeros\s+nan\s+inf\s+\|\s+mean/);
    const body = lines.slice(4);
    expect(body).toHaveLength(6);
    // Columns line up: every row has its separators at the same places as the header.
    const bars = (l: string) => [...l].flatMap((c, i) => (c === '|' ? [i] : []));
    for (const l of body) expect(bars(l)).toEqual(bars(lines[2]));
    const relu = body.find((l) => l.startsWith('model/relu'))!;
    expect(relu).toMatch(/model\/relu\s+relu\s+\[4\]\s+float64 \|\s+1\.63\s+2\.53\s+0\s+6\s+50\.0%\s+0\s+0 \|\s+3\.25\s+5\.07\s+0\s+12\s+50\.0%\s+0\s+0$/);
    expect(formatReport(report, { filter: (r) => r.op === 'relu' }).split('\n')).toHaveLength(5);

    const json = JSON.parse(JSON.stringify(report));
    expect(json.format).toBe('ndgraph-report/1');
    expect(json.loss).toEqual({ name: 'model/sum', value: 36.25 });
    expect(json.nodes).toHaveLength(6);
    expect(json.nodes[3]).toMatchObject({
      name: 'model/relu',
      op: 'relu',
      shape: [4],
      dtype: 'float64',
      value: { mean: 1.625, min: 0, max: 6, zeroFraction: 0.5 },
    });
  });

  it('JSON has null where a statistic is NaN', () => {
    const g = new Graph();
    const x = g.placeholder('x', [2], 'float64');
    const loss = sum(log(x));
    const report = inspectRun(new Session(g), { loss, feeds: [[x, tensor([-1, -2], [2], 'float64')]], gradients: false });
    const json = JSON.parse(JSON.stringify(report));
    expect(json.loss.value).toBeNull();
    expect(json.nodes[1].value).toMatchObject({ mean: null, std: null, min: null, max: null, nan: 2, inf: 0 });
  });

  it('formats numbers in a short fixed style', () => {
    expect([0, 1.625, -0.004567, 123456, 1.5e-7, NaN, Infinity, -Infinity].map(formatNumber)).toEqual([
      '0',
      '1.63',
      '-0.00457',
      '1.23e+5',
      '1.50e-7',
      'nan',
      'inf',
      '-inf',
    ]);
  });
});
