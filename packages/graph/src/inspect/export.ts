/**
 * Graph export to Graphviz DOT and to JSON.
 *
 * - Scopes become nested clusters (`subgraph cluster_lenet_conv1 { ... }`).
 * - Nodes are labelled with their op and shape and, given a report, with the
 *   statistics of their value (v) and gradient (g); a node with NaN/Inf is red.
 * - Gradient nodes (everything the gradient walk built, and whatever is
 *   computed from them) are left out unless `gradients: true`; then they are
 *   dashed and orange, grouped under a `gradients` cluster by the scope of the
 *   forward node they belong to.
 *
 * Layout is Graphviz's job: render the DOT text with `renderDotToSvg` from
 * @ndgraph/nn (Graphviz compiled to WebAssembly) or the `dot` program.
 */
import type { Graph, Node } from '../graph.ts';
import { topologicalOrder } from '../session/plan.ts';
import type { TensorStats } from '../stats.ts';
import { type Report, type TensorStatsJSON, formatNumber, statsToJSON } from './report.ts';

export interface ExportOptions {
  /** Include gradient nodes. Default false. */
  gradients?: boolean;
  /** Label nodes with this report's value and gradient statistics. */
  report?: Report;
  /** Title shown above the graph (DOT) / stored in the JSON. */
  title?: string;
  /** Graphviz rank direction. Default 'TB' (inputs at the top). */
  rankdir?: 'TB' | 'LR' | 'BT' | 'RL';
}

/** Is this node part of the backward graph: built by a gradient walk, or computed from such a node? */
function backwardNodes(nodes: readonly Node[]): Set<number> {
  const backward = new Set<number>();
  // Ids grow in creation order and inputs are always older, so id order is topological.
  for (const n of [...nodes].sort((a, b) => a.id - b.id)) {
    if (n.graph.gradientInfo(n) || n.inputs.some((i) => backward.has(i.id))) backward.add(n.id);
  }
  return backward;
}

/**
 * The nodes to export, in id (= topological) order. A graph gives all its
 * nodes; a list of nodes gives them and their ancestors (plus, with
 * `gradients`, their gradient nodes: the report's, or every recorded one).
 */
export function selectNodes(target: Graph | readonly Node[], options: ExportOptions = {}): Node[] {
  let nodes: Node[];
  if (Array.isArray(target)) {
    const list = target as readonly Node[];
    nodes = topologicalOrder(list);
    if (options.gradients) {
      const grads = options.report ? options.report.gradientNodes() : nodes.flatMap((n) => [...n.graph.gradientNodesOf(n)]);
      nodes = topologicalOrder([...list, ...grads]);
    }
  } else {
    nodes = (target as Graph).nodes.slice();
  }
  if (!options.gradients) {
    const backward = backwardNodes(nodes);
    nodes = nodes.filter((n) => !backward.has(n.id));
  }
  return nodes.sort((a, b) => a.id - b.id);
}

// ---------------------------------------------------------------- DOT

/** A DOT double-quoted string; `\n` inside `text` becomes a centered line break. */
function quote(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

const leaf = (name: string) => name.slice(name.lastIndexOf('/') + 1);
const shapeText = (shape: readonly number[]) => `[${shape.map((d) => (d < 0 ? '?' : String(d))).join(',')}]`;

function statsLine(tag: string, s: TensorStats): string {
  const bad = s.nan + s.inf > 0 ? `  NaN ${s.nan} Inf ${s.inf}` : '';
  const zeros = s.zeroFraction > 0 ? `  ${(s.zeroFraction * 100).toFixed(0)}% zeros` : '';
  return `${tag} μ ${formatNumber(s.mean)} σ ${formatNumber(s.std)} [${formatNumber(s.min)}, ${formatNumber(s.max)}]${zeros}${bad}`;
}

const FILL = { placeholder: '#dbeafe', variable: '#dcfce7', constant: '#f3f4f6', op: '#ffffff', gradient: '#ffedd5' } as const;

interface ScopeTree {
  path: string;
  children: Map<string, ScopeTree>;
  nodes: Node[];
}

/** The cluster a node is drawn in: its scope, or for gradient nodes `gradients/<scope of its forward node>`. */
function clusterPath(n: Node, isBackward: boolean): string {
  const info = n.graph.gradientInfo(n);
  if (isBackward && info) return info.builtFor.scope ? `gradients/${info.builtFor.scope}` : 'gradients';
  return n.scope;
}

/**
 * The graph as Graphviz DOT text. `target` is a graph (all its nodes) or a list
 * of nodes (those and their ancestors), e.g. `[loss]`.
 */
export function toDot(target: Graph | readonly Node[], options: ExportOptions = {}): string {
  const nodes = selectNodes(target, options);
  const included = new Set(nodes.map((n) => n.id));
  const backward = backwardNodes(nodes);
  const report = options.report;

  const root: ScopeTree = { path: '', children: new Map(), nodes: [] };
  for (const n of nodes) {
    let tree = root;
    const path = clusterPath(n, backward.has(n.id));
    if (path) {
      for (const part of path.split('/')) {
        let child = tree.children.get(part);
        if (!child) tree.children.set(part, (child = { path: tree.path ? `${tree.path}/${part}` : part, children: new Map(), nodes: [] }));
        tree = child;
      }
    }
    tree.nodes.push(n);
  }

  const nodeLine = (n: Node): string => {
    const isBackward = backward.has(n.id);
    const info = n.graph.gradientInfo(n);
    const lines = [leaf(n.name) === n.op.name ? n.op.name : `${leaf(n.name)}: ${n.op.name}`];
    const value = report?.statsOf(n);
    // The run's concrete shape when a report has it (the batch filled in), else the built one.
    lines.push(`${shapeText(report?.shapeOf(n) ?? n.shape)}${n.dtype === 'float32' ? '' : ` ${n.dtype}`}`);
    if (info?.of.length) lines.push(`gradient of ${info.of.map((f) => leaf(f.name)).join(', ')}`);
    else if (info) lines.push(`in backward of ${leaf(info.builtFor.name)}`);
    if (value) lines.push(statsLine('v', value));
    const gradNode = report && !isBackward ? report.gradientNodeOf(n) : undefined;
    const grad = gradNode ? report!.statsOf(gradNode) : undefined;
    if (grad) lines.push(statsLine('g', grad));
    const anomalous = [value, grad].some((s) => s && s.nan + s.inf > 0);
    const kind = isBackward ? 'gradient' : (n.op.kind ?? 'op');
    // Placeholders are square boxes, everything else rounded; gradient nodes dashed.
    const style = isBackward ? 'rounded,filled,dashed' : n.op.kind === 'placeholder' ? 'filled' : 'rounded,filled';
    const attrs = [
      `label=${quote(lines.join('\n'))}`,
      `tooltip=${quote(`${n.name} (op ${n.op.name}) ${shapeText(n.shape)} ${n.dtype}`)}`,
      `fillcolor=${quote(FILL[kind])}`,
      `style=${quote(style)}`,
    ];
    if (anomalous) attrs.push('color="#dc2626"', 'penwidth=2.5', 'fontcolor="#991b1b"');
    else if (isBackward) attrs.push('color="#c2410c"');
    return `n${n.id} [${attrs.join(', ')}];`;
  };

  const out: string[] = [];
  const usedClusterIds = new Set<string>();
  const emit = (tree: ScopeTree, indent: string): void => {
    for (const n of tree.nodes) out.push(indent + nodeLine(n));
    for (const [name, child] of tree.children) {
      let id = `cluster_${child.path.replace(/[^A-Za-z0-9_]/g, '_')}`;
      for (let k = 1; usedClusterIds.has(id); k++) id = `cluster_${child.path.replace(/[^A-Za-z0-9_]/g, '_')}_${k}`;
      usedClusterIds.add(id);
      const isGradientScope = child.path === 'gradients' || child.path.startsWith('gradients/');
      out.push(`${indent}subgraph ${id} {`);
      out.push(`${indent}  label=${quote(name)}; tooltip=${quote(child.path)};`);
      out.push(`${indent}  style="rounded${isGradientScope ? ',dashed' : ''}"; color=${quote(isGradientScope ? '#fb923c' : '#94a3b8')};`);
      emit(child, `${indent}  `);
      out.push(`${indent}}`);
    }
  };

  // One font family, not a list: Graphviz sizes boxes from built-in metrics of a
  // named font and falls back to narrow Times metrics for a list. Verdana is the
  // widest common sans-serif, so text drawn with any fallback still fits.
  out.push('digraph ndgraph {');
  out.push(
    `  graph [rankdir=${options.rankdir ?? 'TB'}, fontname="Verdana", fontsize=12, labeljust=l, nodesep=0.25, ranksep=0.35${options.title ? `, label=${quote(options.title)}, labelloc=t` : ''}];`,
  );
  out.push('  node [shape=box, style="rounded,filled", fontname="Verdana", fontsize=10, margin="0.12,0.05"];');
  out.push('  edge [color="#475569", arrowsize=0.6];');
  emit(root, '  ');
  for (const n of nodes) {
    for (const input of n.inputs) {
      if (!included.has(input.id)) continue;
      const style = backward.has(n.id) ? ' [color="#fb923c", style=dashed]' : '';
      out.push(`  n${input.id} -> n${n.id}${style};`);
    }
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------- JSON

export interface GraphJSONNode {
  id: number;
  name: string;
  scope: string;
  op: string;
  /** 'placeholder' | 'variable' | 'constant' for source nodes. */
  kind?: string;
  shape: number[];
  dtype: string;
  /** Input node ids, in order. */
  inputs: number[];
  /** The op's attributes, made JSON-safe (typed arrays become arrays, non-finite numbers null). */
  attrs: unknown;
  /** For a gradient node: ids of the forward nodes whose gradient it is. */
  gradientOf?: number[];
  /** For a node the gradient walk built: id of the forward node whose backward pass it belongs to. */
  backwardOf?: number;
  /** With a report: statistics of the value and, for forward nodes, of the gradient. */
  value?: TensorStatsJSON | null;
  gradient?: TensorStatsJSON | null;
}

export interface GraphJSON {
  format: 'ndgraph-graph/1';
  title?: string;
  loss?: { name: string; value: number | null };
  nodes: GraphJSONNode[];
}

/** Makes an attribute value JSON-safe. Nodes become `{ node: id }`; functions are left out. */
export function jsonSafe(v: unknown): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'bigint') return v.toString();
  if (v === undefined || typeof v === 'function' || typeof v === 'symbol') return undefined;
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>, (x) => jsonSafe(x));
  if (Array.isArray(v)) return v.map((x) => jsonSafe(x) ?? null);
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('graph' in o && 'op' in o && 'inputs' in o && typeof o.id === 'number') return { node: o.id };
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) {
      const safe = jsonSafe(x);
      if (safe !== undefined) out[k] = safe;
    }
    return out;
  }
  return String(v);
}

/** The graph as a JSON-able object (`JSON.stringify(toJSON([loss]))`). Same node selection as `toDot`. */
export function toJSON(target: Graph | readonly Node[], options: ExportOptions = {}): GraphJSON {
  const nodes = selectNodes(target, options);
  const report = options.report;
  const out: GraphJSON = { format: 'ndgraph-graph/1', nodes: [] };
  if (options.title) out.title = options.title;
  if (report) out.loss = { name: report.lossNode.name, value: Number.isFinite(report.loss) ? report.loss : null };
  for (const n of nodes) {
    const entry: GraphJSONNode = {
      id: n.id,
      name: n.name,
      scope: n.scope,
      op: n.op.name,
      shape: n.shape.slice(),
      dtype: n.dtype,
      inputs: n.inputs.map((i) => i.id),
      attrs: jsonSafe(n.attrs) ?? {},
    };
    if (n.op.kind) entry.kind = n.op.kind;
    const info = n.graph.gradientInfo(n);
    if (info) {
      if (info.of.length) entry.gradientOf = info.of.map((f) => f.id);
      entry.backwardOf = info.builtFor.id;
    }
    if (report) {
      entry.value = statsToJSON(report.statsOf(n));
      const g = report.gradientNodeOf(n);
      if (g) entry.gradient = statsToJSON(report.statsOf(g));
    }
    out.nodes.push(entry);
  }
  return out;
}
