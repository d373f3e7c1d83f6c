/** Feeds as the caller gives them (a Map, pairs or a record, keyed by node or name), checked against their placeholders. */
import type { DType } from '../dtype.ts';
import { FeedError } from '../errors.ts';
import type { Graph, Node } from '../graph.ts';
import { copyTensor, dtypeOf, formatShape, isContiguous, shapeMatches, type Tensor } from '../tensor.ts';

/** Feeds by node, or by node name. */
export type Feeds = Map<Node | string, Tensor> | ReadonlyArray<readonly [Node | string, Tensor]> | Record<string, Tensor>;

/** The feeds by node id, each checked for dtype and shape (a strided feed is copied to a contiguous one). */
export function normalizeFeeds(graph: Graph, feeds: Feeds | undefined): Map<number, Tensor> {
  const out = new Map<number, Tensor>();
  if (!feeds) return out;
  const entries: [Node | string, Tensor][] =
    feeds instanceof Map ? [...feeds.entries()] : Array.isArray(feeds) ? (feeds as [Node | string, Tensor][]) : Object.entries(feeds as Record<string, Tensor>);
  for (const [key, value] of entries) {
    let node: Node;
    if (typeof key === 'string') {
      if (!graph.hasNode(key)) throw new FeedError(`feed for '${key}': there is no node with that name in the graph`);
      node = graph.node(key);
    } else if (isNode(key) && key.graph === graph) {
      node = key;
    } else {
      throw new FeedError(`feed key must be a node of this graph or a node name, found ${describeAny(key)}`);
    }
    if (!value || typeof value !== 'object' || !('shape' in value) || !('data' in value)) {
      throw new FeedError(`feed for ${node.name}: expected an ndarray tensor, found ${describeAny(value)}`);
    }
    let dtype: DType;
    try {
      dtype = dtypeOf(value);
    } catch {
      throw new FeedError(`feed for ${node.name}: expected a ${node.dtype} tensor, found data of type ${Object.prototype.toString.call(value.data)}`);
    }
    if (dtype !== node.dtype || !shapeMatches(node.shape, value.shape)) {
      throw new FeedError(
        `feed for ${node.op.kind ?? 'node'} ${node.name}: expected ${formatShape(node.shape)} ${node.dtype}, found ${formatShape(value.shape)} ${dtype}`,
      );
    }
    const [lowest, highest] = indexRange(value);
    if (value.size > 0 && (lowest < 0 || highest >= value.data.length)) {
      throw new FeedError(
        `feed for ${node.name}: its shape ${formatShape(value.shape)} (offset ${value.offset}, strides [${value.stride.join(',')}]) reaches elements ${lowest}..${highest}, but its data holds ${value.data.length}`,
      );
    }
    out.set(node.id, isContiguous(value) ? value : copyTensor(value));
  }
  return out;
}

export function isNode(x: unknown): x is Node {
  return typeof x === 'object' && x !== null && 'op' in x && 'inputs' in x && 'graph' in x;
}

export function describeAny(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (isNode(x)) return `node ${x.name} of another graph`;
  return typeof x === 'object' ? (x.constructor?.name ?? 'object') : `${typeof x} ${String(x)}`;
}

/** The smallest and largest data index a view reads. */
function indexRange(t: Tensor): [number, number] {
  let lowest = t.offset;
  let highest = t.offset;
  t.shape.forEach((d, i) => {
    const reach = (d - 1) * t.stride[i];
    if (reach > 0) highest += reach;
    else lowest += reach;
  });
  return [lowest, highest];
}
