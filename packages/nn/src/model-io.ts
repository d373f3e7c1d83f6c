/**
 * Using a model: predict, evaluate, and save / load its weights by variable
 * name (safetensors), with its architecture spec when it has one. Browser-safe:
 * these work on bytes; `@ndgraph/nn/node` adds the file versions
 * (`saveModel(path, ...)`, `loadModel(path)`).
 *
 *   const bytes = encodeModel(trainer.graph, trainer.model, { inputShape: [28, 28, 1], classes: 10 });
 *   const net = decodeModel(bytes);                 // rebuilt from the spec in the file
 *   const { classes, probabilities } = net.predict(images);
 */
import { copyTensor, DataError, dtypeOf, isContiguous, formatShape, Graph, type Node, Session, shapesEqual, type Tensor, wrap } from '@ndgraph/graph';
import { softmax } from '@ndgraph/ops';
import { decodeSafetensors, encodeSafetensors } from './checkpoint/safetensors.ts';
import { batches } from './data/batches.ts';
import { checkDataset, type Dataset } from './data/dataset.ts';
import { countCorrect, crossEntropyLoss } from './losses.ts';
import { modelFromSpec } from './models/from-spec.ts';
import { asModel, checkLogits, type Model, type ModelBuilder } from './models/model.ts';

export interface Prediction {
  /** [N, classes] softmax probabilities. */
  probabilities: Tensor;
  /** The most likely class of each example (first maximum on ties). */
  classes: Int32Array;
}

/** The flat index of the first NaN or ±Infinity in `t`, or -1 when every value is finite. */
export function firstNonFinite(t: Tensor): number {
  for (let i = 0; i < t.size; i++) {
    const x = t.data[t.offset + i];
    if (x - x !== 0) return i;
  }
  return -1;
}

/**
 * Checks `tensors` against the graph's variables before anything is changed:
 * every variable must have a tensor `prefix + name` of its shape and dtype,
 * and no tensor under `prefix` may name a variable the graph lacks (tensors
 * under `otherPrefixes` are someone else's). Throws one DataError naming every
 * missing, unexpected and mis-shaped tensor; returns the pairs to assign.
 */
export function checkWeights(
  graph: Graph,
  tensors: Record<string, Tensor>,
  source: string,
  options: { prefix?: string; otherPrefixes?: string[] } = {},
): [Node, Tensor][] {
  const prefix = options.prefix ?? 'variables/';
  const problems: string[] = [];
  const pairs: [Node, Tensor][] = [];
  const known = new Set<string>();
  for (const v of graph.variables()) {
    const key = prefix + v.name;
    known.add(key);
    const t = tensors[key];
    if (!t) {
      problems.push(`missing tensor '${key}' for variable ${v.name} ${formatShape(v.shape)} ${v.dtype}`);
      continue;
    }
    if (!shapesEqual(t.shape, v.shape) || dtypeOf(t) !== v.dtype) {
      problems.push(`tensor '${key}' is ${formatShape(t.shape)} ${dtypeOf(t)}, but variable ${v.name} is ${formatShape(v.shape)} ${v.dtype}`);
      continue;
    }
    const bad = firstNonFinite(t);
    if (bad >= 0) problems.push(`tensor '${key}' holds a non-finite value (${t.data[t.offset + bad]} at flat index ${bad})`);
    pairs.push([v, t]);
  }
  for (const key of Object.keys(tensors)) {
    if (known.has(key) || options.otherPrefixes?.some((p) => key.startsWith(p))) continue;
    problems.push(`unexpected tensor '${key}': the model has no variable ${key.startsWith(prefix) ? key.slice(prefix.length) : key}`);
  }
  if (problems.length)
    throw new DataError(
      `${source}: the weights do not fit the model (${problems.length} problem${problems.length > 1 ? 's' : ''}):\n  ${problems.join('\n  ')}`,
    );
  return pairs;
}

/** Probabilities and classes for `images` ([N, ...inputShape], or one example of inputShape), in eval mode. */
export function predictWith(session: Session, inputs: Node, logits: Node, images: Tensor): Prediction {
  const exampleShape = inputs.shape.slice(1);
  const compact = isContiguous(images) ? images : copyTensor(images);
  const batched = shapesEqual(compact.shape, exampleShape) ? wrap(compact.data, [1, ...exampleShape], compact.offset) : compact;
  const probabilities = session.run(probabilitiesOf(logits), [[inputs, batched]]);
  const [n, c] = probabilities.shape;
  const classes = new Int32Array(n);
  for (let row = 0; row < n; row++) {
    let best = 0;
    for (let k = 1; k < c; k++) if (probabilities.data[row * c + k] > probabilities.data[row * c + best]) best = k;
    classes[row] = best;
  }
  return { probabilities, classes };
}

/** The softmax node of `logits`, made once per logits node. */
const softmaxOf = new WeakMap<Node, Node>();
function probabilitiesOf(logits: Node): Node {
  let p = softmaxOf.get(logits);
  if (!p) softmaxOf.set(logits, (p = logits.graph.scope('predict', () => softmax(logits))));
  return p;
}

/** What a saved model file says about the model besides its weights. */
export interface ModelInfo {
  /** One example's shape, e.g. [28, 28, 1]. */
  inputShape: number[];
  classes?: number;
}

/** A model's weights (every variable of its graph) and its name, spec and input shape, as safetensors bytes. */
export function encodeModel(graph: Graph, model: Model | undefined, info: ModelInfo): Uint8Array {
  const tensors: Record<string, Tensor> = {};
  for (const v of graph.variables()) tensors[`variables/${v.name}`] = graph.valueOf(v);
  return encodeSafetensors(tensors, {
    format: 'ndgraph-model/1',
    model: JSON.stringify({ name: model?.name ?? 'model', spec: model?.spec ?? null }),
    inputShape: JSON.stringify(info.inputShape),
    ...(info.classes !== undefined && { classes: String(info.classes) }),
  });
}

/** A model ready for inference: its graph with the loaded weights, a session, predict and evaluate. */
export interface LoadedModel {
  readonly model: Model;
  readonly graph: Graph;
  readonly session: Session;
  readonly inputs: Node;
  readonly logits: Node;
  predict(images: Tensor): Prediction;
  /** Mean cross-entropy and accuracy over a labelled dataset. */
  evaluate(ds: Dataset, batchSize?: number): { loss: number; accuracy: number };
}

/**
 * Rebuilds a model from saved bytes (a model file from `encodeModel`, or a
 * training checkpoint from `pnpm train`) and loads its weights, checking
 * every tensor first. Models without a spec (a builder of your own) need
 * `model` passed in.
 */
export function decodeModel(bytes: Uint8Array, source = '<bytes>', model?: Model | ModelBuilder): LoadedModel {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  const format = metadata.format;
  if (format !== 'ndgraph-model/1' && format !== 'ndgraph-training-checkpoint/1') {
    throw new DataError(`${source}: expected an ndgraph model or training checkpoint (format 'ndgraph-model/1'), found format ${JSON.stringify(format)}`);
  }
  const field = (name: string): unknown => {
    if (metadata[name] === undefined) throw new DataError(`${source}: metadata field '${name}' is missing`);
    try {
      return JSON.parse(metadata[name]);
    } catch {
      throw new DataError(`${source}: metadata field '${name}' is not valid JSON`);
    }
  };
  const inputShape = field('inputShape');
  if (!Array.isArray(inputShape) || !inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new DataError(`${source}: metadata field 'inputShape' must be an array of positive integers, found ${metadata.inputShape}`);
  }
  const saved = field('model') as { name?: string; spec?: unknown };
  let chosen: Model;
  if (model !== undefined) chosen = asModel(model, 'decodeModel: the model');
  else if (saved?.spec) chosen = modelFromSpec(saved.spec, `${source}: model spec`);
  else throw new DataError(`${source}: the model '${saved?.name ?? '?'}' was saved without an architecture spec; pass its builder: loadModel(path, myModel)`);
  const graph = new Graph();
  const inputs = graph.placeholder('images', [-1, ...(inputShape as number[])]);
  const logits = checkLogits(chosen.build(inputs), inputs, chosen.name);
  for (const [node, t] of checkWeights(graph, tensors, source, { otherPrefixes: ['optimizer/'] })) graph.assign(node, t);
  const session = new Session(graph);
  return {
    model: chosen,
    graph,
    session,
    inputs,
    logits,
    predict: (images) => predictWith(session, inputs, logits, images),
    evaluate: (ds, batchSize = 500) => evaluateWith(session, inputs, logits, ds, batchSize),
  };
}

const lossOf = new WeakMap<Node, { labels: Node; loss: Node }>();

/** Mean cross-entropy and accuracy of `logits` over a dataset, in eval mode. */
export function evaluateWith(session: Session, inputs: Node, logits: Node, ds: Dataset, batchSize = 500): { loss: number; accuracy: number } {
  checkDataset(ds, 'evaluate');
  let parts = lossOf.get(logits);
  if (!parts) {
    const g = logits.graph;
    parts = g.scope('evaluate', () => {
      const labels = g.placeholder('labels', [-1], 'int32');
      return { labels, loss: crossEntropyLoss(logits, labels) };
    });
    lossOf.set(logits, parts);
  }
  let lossSum = 0;
  let correct = 0;
  let seen = 0;
  for (const batch of batches(ds, batchSize, null, { shuffle: false })) {
    const [lossValue, logitsValue] = session.run(
      [parts.loss, logits],
      [
        [inputs, batch.images],
        [parts.labels, batch.labels],
      ],
      { borrow: true },
    );
    lossSum += lossValue.data[0] * batch.size;
    correct += countCorrect(logitsValue, batch.labels);
    seen += batch.size;
  }
  if (seen === 0) throw new DataError('evaluate: the dataset has no examples');
  return { loss: lossSum / seen, accuracy: correct / seen };
}
