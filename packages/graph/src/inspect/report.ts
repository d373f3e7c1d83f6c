/**
 * The per-node report: for every forward node on the way to a loss, its full
 * name, op, shape, dtype, value statistics and the statistics of its gradient,
 * all from ONE run.
 *
 *   const report = inspectRun(session, { loss, feeds, training: true });
 *   console.log(formatReport(report));
 *   writeFileSync('report.json', JSON.stringify(report));
 *
 * How: the gradient of every node on a path to the loss is built once per loss
 * (`allGradients`, cached). The run fetches only the "sinks" of the forward +
 * gradient subgraph, which forces every node of it to be computed, and reads
 * each value through `onValue` as it appears, so statistics are taken while
 * the buffer is live and no intermediate value has to be kept.
 */
import type { DType } from '../dtype.ts';
import { GraphError } from '../errors.ts';
import type { Node } from '../graph.ts';
import { allGradients } from '../autodiff.ts';
import type { Feeds } from '../session/feeds.ts';
import { topologicalOrder } from '../session/plan.ts';
import type { Session } from '../session/session.ts';
import { type TensorStats, tensorStats } from '../stats.ts';

/** One forward node's line in the report. */
export interface NodeReport {
  id: number;
  /** Full name with its scope path, e.g. `lenet/conv1/relu`. */
  name: string;
  scope: string;
  op: string;
  /** The concrete shape in this run (the batch filled in). */
  shape: number[];
  dtype: DType;
  /** Statistics of the value; null if the run did not compute it. */
  value: TensorStats | null;
  /** Statistics of the gradient of the loss with respect to this node; null where there is none (int tensors, constants, nodes no float input or trainable variable leads to). */
  gradient: TensorStats | null;
  /** The gradient node's full name, when there is one. */
  gradientNode: string | null;
  /** The gradient node's op (e.g. `swishGrad`, `addN`), when there is one. */
  gradientOp: string | null;
}

export interface InspectOptions {
  /** The scalar to differentiate. Its forward ancestors are the report's rows. */
  loss: Node;
  feeds?: Feeds;
  /** Training mode (dropout drops, batchnorm uses and updates batch statistics). Default false. */
  training?: boolean;
  /** Reseed the session's generator first, as in `Session.run`. */
  seed?: number;
  /** Stop at the first NaN/Inf with an AnomalyError (see `RunOptions.anomaly`). Default false. */
  anomaly?: boolean;
  /** Also compute the gradient of every row. Default true. */
  gradients?: boolean;
  /** Rows to report (and their ancestors are computed anyway). Default: every forward ancestor of `loss`, in topological order. */
  nodes?: readonly Node[];
}

/** Stats as JSON: NaN (no finite element) becomes null. */
export type TensorStatsJSON = { [K in keyof TensorStats]: number | null };

export interface ReportJSON {
  format: 'ndgraph-report/1';
  loss: { name: string; value: number | null };
  training: boolean;
  nodes: (Omit<NodeReport, 'value' | 'gradient'> & { value: TensorStatsJSON | null; gradient: TensorStatsJSON | null })[];
}

/** The result of `inspectRun`. */
export class Report {
  constructor(
    readonly lossNode: Node,
    /** The loss value of the run. */
    readonly loss: number,
    readonly training: boolean,
    /** One row per reported forward node, in topological order. */
    readonly rows: readonly NodeReport[],
    /** Stats of every node the run computed (forward, gradient and the gradient's intermediates), by node id. */
    private readonly observed: ReadonlyMap<number, TensorStats>,
    /** The gradient node used for each row, by forward node id. */
    private readonly gradientByForward: ReadonlyMap<number, Node>,
    /** Concrete shapes of every node the run computed, by node id. */
    private readonly shapes: ReadonlyMap<number, number[]>,
  ) {}

  /** The row of a node (by node or full name). */
  row(node: Node | string): NodeReport | undefined {
    const name = typeof node === 'string' ? node : node.name;
    return this.rows.find((r) => r.name === name);
  }

  /** Stats of any node the run computed, forward or gradient. */
  statsOf(node: Node): TensorStats | undefined {
    return this.observed.get(node.id);
  }

  /** The concrete shape a node had in the run (undefined if the run did not compute it). */
  shapeOf(node: Node): number[] | undefined {
    return this.shapes.get(node.id)?.slice();
  }

  /** The gradient node the report used for a forward node. */
  gradientNodeOf(node: Node): Node | undefined {
    return this.gradientByForward.get(node.id);
  }

  /** The gradient nodes of the rows (for exports that show the backward graph). */
  gradientNodes(): Node[] {
    return [...this.gradientByForward.values()];
  }

  toJSON(): ReportJSON {
    return {
      format: 'ndgraph-report/1',
      loss: { name: this.lossNode.name, value: finiteOrNull(this.loss) },
      training: this.training,
      nodes: this.rows.map((r) => ({ ...r, shape: r.shape.slice(), value: statsToJSON(r.value), gradient: statsToJSON(r.gradient) })),
    };
  }
}

function finiteOrNull(v: number): number | null {
  return Number.isNaN(v) ? null : Number.isFinite(v) ? v : null;
}

export function statsToJSON(s: TensorStats | null | undefined): TensorStatsJSON | null {
  if (!s) return null;
  const out = {} as TensorStatsJSON;
  for (const [k, v] of Object.entries(s) as [keyof TensorStats, number][]) out[k] = finiteOrNull(v);
  return out;
}

/** Gradient maps are built once per loss node: the graph is append-only, so each new walk would add nodes. */
const gradientCache = new WeakMap<Node, Map<Node, Node>>();

function gradientsOf(loss: Node): Map<Node, Node> {
  let map = gradientCache.get(loss);
  if (!map) gradientCache.set(loss, (map = allGradients(loss)));
  return map;
}

/**
 * Runs the graph once and reports every forward node's value and gradient
 * statistics. The first call for a loss adds its gradient nodes to the graph
 * (one `allGradients` walk); later calls reuse them.
 */
export function inspectRun(session: Session, options: InspectOptions): Report {
  const { loss } = options;
  if (loss.graph !== session.graph) throw new GraphError(`inspectRun: ${loss.describe()} is not a node of the session's graph`);
  const rows = options.nodes ? options.nodes.slice() : topologicalOrder([loss]);
  for (const n of rows) {
    if (n.graph !== session.graph) throw new GraphError(`inspectRun: ${n.describe()} is not a node of the session's graph`);
  }
  const wantGradients = options.gradients ?? true;
  const allGrads = wantGradients ? gradientsOf(loss) : new Map<Node, Node>();
  const gradientByForward = new Map<number, Node>();
  for (const n of rows) {
    const g = allGrads.get(n);
    if (g) gradientByForward.set(n.id, g);
  }

  // The nodes to compute: the loss, the rows and their gradients. Fetching only
  // the sinks of that set (members that are no ancestor of another member)
  // computes all of it while keeping just the sinks' values past their last use.
  const wanted = new Map<number, Node>([[loss.id, loss]]);
  for (const n of rows) wanted.set(n.id, n);
  for (const g of gradientByForward.values()) wanted.set(g.id, g);
  const ancestors = new Set<number>();
  const stack = [...wanted.values()].flatMap((n) => n.inputs);
  while (stack.length) {
    const n = stack.pop()!;
    if (ancestors.has(n.id)) continue;
    ancestors.add(n.id);
    stack.push(...n.inputs);
  }
  const sinks = [...wanted.values()].filter((n) => !ancestors.has(n.id));

  const observed = new Map<number, TensorStats>();
  const shapes = new Map<number, number[]>();
  let lossValue = NaN;
  session.run(sinks, options.feeds, {
    training: options.training ?? false,
    seed: options.seed,
    anomaly: options.anomaly,
    borrow: true,
    onValue: (node, value) => {
      observed.set(node.id, tensorStats(value));
      shapes.set(node.id, value.shape.slice());
      if (node === loss) lossValue = value.data[value.offset];
    },
  });

  const reportRows = rows.map((n): NodeReport => {
    const g = gradientByForward.get(n.id);
    return {
      id: n.id,
      name: n.name,
      scope: n.scope,
      op: n.op.name,
      shape: shapes.get(n.id) ?? n.shape.slice(),
      dtype: n.dtype,
      value: observed.get(n.id) ?? null,
      gradient: g ? (observed.get(g.id) ?? null) : null,
      gradientNode: g?.name ?? null,
      gradientOp: g?.op.name ?? null,
    };
  });
  return new Report(loss, lossValue, options.training ?? false, reportRows, observed, gradientByForward, shapes);
}

// ---------------------------------------------------------------- text table

export interface FormatReportOptions {
  /** Only rows for which this returns true. */
  filter?: (row: NodeReport) => boolean;
  /** Leave out the gradient columns. */
  valuesOnly?: boolean;
}

/** A number in at most 9 characters: 3 significant digits, exponent outside [1e-3, 1e4). */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e4) return String(Number(v.toPrecision(3)));
  return v.toExponential(2);
}

const statColumns = (s: TensorStats | null): string[] =>
  s
    ? [
        formatNumber(s.mean),
        formatNumber(s.std),
        formatNumber(s.min),
        formatNumber(s.max),
        `${(s.zeroFraction * 100).toFixed(1)}%`,
        String(s.nan),
        String(s.inf),
      ]
    : ['-', '-', '-', '-', '-', '-', '-'];

/**
 * The report as an aligned text table, one row per node:
 * name, op, shape, dtype, then mean/std/min/max/zeros/nan/inf of the value and of the gradient.
 */
export function formatReport(report: Report, options: FormatReportOptions = {}): string {
  const rows = options.filter ? report.rows.filter(options.filter) : report.rows;
  const statHead = ['mean', 'std', 'min', 'max', 'zeros', 'nan', 'inf'];
  const head = ['node', 'op', 'shape', 'dtype', ...statHead, ...(options.valuesOnly ? [] : statHead)];
  const body = rows.map((r) => [
    r.name,
    r.op,
    `[${r.shape.join(',')}]`,
    r.dtype,
    ...statColumns(r.value),
    ...(options.valuesOnly ? [] : statColumns(r.gradient)),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((row) => row[c].length)));
  const textColumns = 4; // name, op, shape, dtype: left-aligned; numbers right-aligned
  const line = (cells: string[]) =>
    cells
      .map(
        (cell, c) =>
          (c < textColumns ? cell.padEnd(widths[c]) : cell.padStart(widths[c])) +
          (c === textColumns - 1 || c === textColumns - 1 + statHead.length ? ' |' : ''),
      )
      .join(' ')
      .trimEnd();
  // A group header over the two blocks of statistics.
  const prefix = widths.slice(0, textColumns).reduce((n, w) => n + w + 1, 0) + 2;
  const block = widths.slice(textColumns, textColumns + statHead.length).reduce((n, w) => n + w + 1, 0) + 2;
  const group = ' '.repeat(prefix) + 'value'.padEnd(block) + (options.valuesOnly ? '' : 'gradient');
  const rule = '-'.repeat(Math.max(...[line(head), ...body.map(line)].map((l) => l.length)));
  const title = `loss ${report.lossNode.name} = ${Number.isFinite(report.loss) ? report.loss.toPrecision(6) : formatNumber(report.loss)} (${report.training ? 'training' : 'inference'} run, ${rows.length} nodes)`;
  return [title, group.trimEnd(), line(head), rule, ...body.map(line)].join('\n');
}
