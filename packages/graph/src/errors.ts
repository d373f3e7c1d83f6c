/**
 * Typed errors. Each says what was expected, what was found, and where:
 * the node's full name (its scope path) and its op, or the file and byte offset.
 */
export class NdgraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Shapes that do not fit an op's rule, at graph-build time or at run time. */
export class ShapeError extends NdgraphError {}
/** An input of the wrong element type. */
export class DTypeError extends NdgraphError {}
/** A missing feed, or a feed whose shape or dtype does not match its placeholder. */
export class FeedError extends NdgraphError {}
/** A gradient that cannot be built: an op without a grad rule, or a rule returning the wrong thing. */
export class GradientError extends NdgraphError {}
/** A NaN or Inf found in anomaly mode. */
export class AnomalyError extends NdgraphError {}
/** A data or checkpoint file that is truncated or not what it claims to be. */
export class DataError extends NdgraphError {}
/** A graph used wrongly: nodes from two graphs, unknown names, bad arguments. */
export class GraphError extends NdgraphError {}
/** A buffer that does not fit in a backend's memory; says which node asked for what shape. */
export class MemoryError extends NdgraphError {}
