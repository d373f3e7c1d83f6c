/** DOT and JSON export: which nodes, clusters for scopes, labels, gradient nodes, JSON-safe attrs, and a real Graphviz render. */
import { describe, it, expect } from 'vitest';
import { Graph, Session, gradients, inspectRun, jsonSafe, tensor, toDot, toJSON, type Node, type Tensor } from '@ndgraph/graph';
import { mul, relu, scale, square, sum } from '@ndgraph/ops';
import { renderDotToSvg } from '@ndgraph/nn';

/**
 * x (placeholder), model/block/w (variable), model/block/mul, model/block/relu,
 * model/square, model/sum: scopes model and model/block.
 */
function build() {
  const g = new Graph();
  const x = g.placeholder('x', [-1, 2], 'float64');
  const { w, h, r, loss } = g.scope('model', () => {
    const { w, h, r } = g.scope('block', () => {
      const w = g.variable('w', tensor([[1, -1]], [1, 2], 'float64'));
      const h = mul(x, w);
      return { w, h, r: relu(h) };
    });
    return { w, h, r, loss: sum(square(r)) };
  });
  return { g, x, w, h, r, loss };
}

/** The lines of one `subgraph NAME { ... }` block, matched by braces. */
function clusterBlock(dot: string, name: string): string {
  const start = dot.indexOf(`subgraph ${name} {`);
  expect(start, `cluster ${name} in\n${dot}`).toBeGreaterThanOrEqual(0);
  let depth = 0;
  for (let i = dot.indexOf('{', start); i < dot.length; i++) {
    if (dot[i] === '{') depth++;
    if (dot[i] === '}' && --depth === 0) return dot.slice(start, i + 1);
  }
  throw new Error('unbalanced braces');
}

const nodeIdsIn = (text: string) => [...text.matchAll(/^\s*n(\d+) \[/gm)].map((m) => Number(m[1]));
const edges = (dot: string) => [...dot.matchAll(/n(\d+) -> n(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);

describe('toDot', () => {
  it('draws the forward graph with scopes as nested clusters and labelled nodes', () => {
    const { x, w, h, r, loss } = build();
    const square = loss.inputs[0];
    const dot = toDot([loss]);
    expect(dot.startsWith('digraph ndgraph {\n')).toBe(true);
    expect(dot.trimEnd().endsWith('}')).toBe(true);
    // Every forward node once; no gradient walk has been made, so nothing else.
    expect(nodeIdsIn(dot).sort((a, b) => a - b)).toEqual([x, w, h, r, square, loss].map((n) => n.id));
    // model contains model/block; block holds w, mul and relu; model holds square and sum directly.
    const model = clusterBlock(dot, 'cluster_model');
    const block = clusterBlock(dot, 'cluster_model_block');
    expect(model).toContain(block);
    expect(nodeIdsIn(block).sort((a, b) => a - b)).toEqual([w.id, h.id, r.id]);
    expect(nodeIdsIn(model.replace(block, '')).sort((a, b) => a - b)).toEqual([square.id, loss.id]);
    expect(block).toContain('label="block"');
    // x is outside every cluster.
    expect(nodeIdsIn(dot.slice(0, dot.indexOf('subgraph')))).toEqual([x.id]);
    // Labels: leaf name and op, then the shape (unknown batch as ?).
    expect(dot).toContain(`n${w.id} [label="w: variable\\n[1,2] float64"`);
    expect(dot).toContain(`n${h.id} [label="mul\\n[?,2] float64"`);
    // Edges: one per input.
    expect(edges(dot).sort()).toEqual(
      [
        [x.id, h.id],
        [w.id, h.id],
        [h.id, r.id],
        [r.id, square.id],
        [square.id, loss.id],
      ].sort(),
    );
  });

  it('leaves gradient nodes out by default and draws them dashed on request', () => {
    const { g, x, w, loss } = build();
    const [gw] = gradients(loss, [w]);
    const forward = toDot([loss]);
    expect(forward).not.toContain('cluster_gradients');
    // A whole graph without gradients: the same forward nodes.
    expect(nodeIdsIn(toDot(g)).sort()).toEqual(nodeIdsIn(forward).sort());

    const both = toDot([loss], { gradients: true });
    const ids = nodeIdsIn(both);
    expect(ids).toContain(gw.id);
    expect(ids).toContain(x.id);
    const gradientBlock = clusterBlock(both, 'cluster_gradients');
    expect(gradientBlock).toContain('style="rounded,dashed"');
    // Every gradient node is drawn inside the gradients cluster, dashed and orange.
    const gradientIds = g.nodes.filter((n) => g.gradientInfo(n)).map((n) => n.id);
    expect(nodeIdsIn(gradientBlock).sort((a, b) => a - b)).toEqual(gradientIds);
    for (const id of gradientIds) expect(both).toMatch(new RegExp(`n${id} \\[[^\\n]*fillcolor="#ffedd5", style="rounded,filled,dashed"`));
    // The gradient of w says whose gradient it is.
    expect(both).toMatch(new RegExp(`n${gw.id} \\[label="[^"]*\\\\ngradient of w`));
  });

  it('puts value and gradient statistics on the nodes when given a report, and marks NaN/Inf red', () => {
    const { g, x, h, loss } = build();
    const feeds: [Node, Tensor][] = [
      [
        x,
        tensor(
          [
            [2, 3],
            [-1, 0],
          ],
          [2, 2],
          'float64',
        ),
      ],
    ];
    // h = x ⊙ [1, -1] = [[2, -3], [-1, 0]]: mean -0.5, std √(27/4 − ... ) computed below.
    const report = inspectRun(new Session(g), { loss, feeds });
    const dot = toDot([loss], { report, title: 'small' });
    const hValues = [2, -3, -1, 0];
    const mean = hValues.reduce((a, b) => a + b) / 4;
    const std = Math.sqrt(hValues.reduce((a, v) => a + (v - mean) ** 2, 0) / 4);
    expect(mean).toBe(-0.5);
    // The run's concrete shape replaces [?,2].
    expect(dot).toContain(`n${h.id} [label="mul\\n[2,2] float64\\nv μ -0.5 σ ${Number(std.toPrecision(3))} [-3, 2]  25% zeros\\ng μ `);
    expect(dot).toContain('label="small", labelloc=t');

    const bad = inspectRun(new Session(g), {
      loss,
      feeds: [
        [
          x,
          tensor(
            [
              [NaN, 1],
              [1, 1],
            ],
            [2, 2],
            'float64',
          ),
        ],
      ],
    });
    const badDot = toDot([loss], { report: bad });
    expect(badDot).toMatch(new RegExp(`n${h.id} \\[[^\\n]*NaN 1 Inf 0[^\\n]*color="#dc2626"`));
  });

  it('escapes quotes and backslashes and renders with Graphviz', async () => {
    const g = new Graph();
    const x = g.placeholder('x', [1]);
    const y = g.scope('a-b', () => scale(x, 2));
    const dot = toDot([y], { title: 'say "hi" \\ bye' });
    expect(dot).toContain('label="say \\"hi\\" \\\\ bye"');
    expect(dot).toContain('subgraph cluster_a_b {');
    const svg = await renderDotToSvg(dot);
    expect(svg).toContain('<svg');
    expect(svg).toContain('<title>cluster_a_b</title>');
    expect(svg).toContain(`<title>n${y.id}</title>`);
    expect(svg).toContain('say &quot;hi&quot; \\ bye');
    await expect(renderDotToSvg('digraph { a -> }')).rejects.toThrow();
  });
});

describe('toJSON', () => {
  it('lists nodes with ids, names, ops, shapes, dtypes, input ids and attrs', () => {
    const { x, w, h, r, loss } = build();
    const square = loss.inputs[0];
    const json = toJSON([loss]);
    expect(json.format).toBe('ndgraph-graph/1');
    expect(json.nodes.map((n) => n.id)).toEqual([x, w, h, r, square, loss].map((n) => n.id));
    expect(json.nodes[0]).toEqual({
      id: x.id,
      name: 'x',
      scope: '',
      op: 'placeholder',
      kind: 'placeholder',
      shape: [-1, 2],
      dtype: 'float64',
      inputs: [],
      attrs: { shape: [-1, 2], dtype: 'float64' },
    });
    expect(json.nodes[2]).toMatchObject({ id: h.id, name: 'model/block/mul', scope: 'model/block', op: 'mul', inputs: [x.id, w.id] });
    expect(json.nodes[2].gradientOf).toBeUndefined();
    // Every input refers to a listed node, and the whole thing survives JSON.
    const ids = new Set(json.nodes.map((n) => n.id));
    for (const n of json.nodes) for (const i of n.inputs) expect(ids.has(i)).toBe(true);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });

  it('marks gradient nodes with the forward nodes they belong to', () => {
    const { g, w, h, loss } = build();
    const [gw] = gradients(loss, [w]);
    const json = toJSON(g, { gradients: true });
    expect(json.nodes).toHaveLength(g.nodes.length);
    const entry = json.nodes.find((n) => n.id === gw.id)!;
    expect(entry.gradientOf).toEqual([w.id]);
    expect(entry.backwardOf).toBe(h.id); // mul's grad rule built ∂w
    const seed = json.nodes.find((n) => n.name.endsWith('/seed'))!;
    expect(seed).toMatchObject({ op: 'onesLike', gradientOf: [loss.id], backwardOf: loss.id });
    expect(toJSON(g).nodes.some((n) => n.gradientOf || n.backwardOf !== undefined)).toBe(false);
  });

  it("keeps a caller's dy a forward node: only nodes the walk built are gradient nodes", () => {
    const g = new Graph();
    const x = g.placeholder('x', [2], 'float64');
    const y = g.scope('net', () => scale(x, 3));
    const dy = g.constant(tensor([1, 2], [2], 'float64'), { name: 'dy' });
    const [gx] = gradients(y, [x], { dy });
    expect(g.gradientInfo(dy)).toBeUndefined();
    expect(g.gradientInfo(gx)).toEqual({ of: [x], builtFor: y });
    const json = toJSON(g);
    expect(json.nodes.map((n) => n.name)).toEqual(['x', 'net/scale', 'dy']);
  });

  it('carries report statistics, NaN as null', () => {
    const { g, x, h, loss } = build();
    const report = inspectRun(new Session(g), { loss, feeds: [[x, tensor([[2, 3]], [1, 2], 'float64')]] });
    const json = toJSON([loss], { report });
    expect(json.loss).toEqual({ name: 'model/sum', value: 4 }); // relu([2, -3])² summed
    const hEntry = json.nodes.find((n) => n.id === h.id)!;
    expect(hEntry.value).toMatchObject({ size: 2, mean: -0.5, min: -3, max: 2 });
    // ∂loss/∂h = 2·relu(h)·relu'(h) = [4, 0]
    expect(hEntry.gradient).toMatchObject({ mean: 2, min: 0, max: 4, zeroFraction: 0.5 });
  });

  it('makes attributes JSON-safe', () => {
    const { x } = build();
    expect(jsonSafe({ a: new Float32Array([1, 2]), b: Infinity, c: () => 1, d: [NaN, 1], e: { f: x }, g: undefined, h: 'k' })).toEqual({
      a: [1, 2],
      b: null,
      d: [null, 1],
      e: { f: { node: x.id } },
      h: 'k',
    });
  });
});
