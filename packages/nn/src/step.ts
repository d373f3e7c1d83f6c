/**
 * The step helper for training loops of your own, the way a PyTorch loop
 * reads (zero_grad / backward / step are one call here, since gradients are
 * graph nodes computed in the same run as the loss):
 *
 *   const step = trainingStep(loss, momentum({ learningRate: 0.05 }));
 *   for (let epoch = 0; epoch < 3; epoch++)
 *     for (const batch of batches(train, 64, rng))
 *       console.log(step({ images: batch.images, labels: batch.labels }));
 */
import { formatShape, type Feeds, GraphError, gradients, type Node, Session, type Tensor } from '@ndgraph/graph';
import type { Optimizer } from './optimizers/optimizer.ts';

export interface TrainingStepOptions {
  /** The variables to train. Default: every trainable variable of the loss's graph. */
  parameters?: Node[];
  /** The session to run in. Default: a new one on the loss's graph. */
  session?: Session;
}

/** One training step: a training-mode run of the loss and its gradients, then the optimizer's update; returns the loss. */
export type TrainingStep = ((feeds: Feeds) => number) & { readonly session: Session; readonly parameters: readonly Node[] };

export function trainingStep(loss: Node, optimizer: Optimizer, options: TrainingStepOptions = {}): TrainingStep {
  if (loss.rank !== 0) throw new GraphError(`trainingStep: the loss must be a scalar node, found ${loss.name} ${formatShape(loss.shape)}`);
  const g = loss.graph;
  const parameters = options.parameters ?? g.trainableVariables();
  if (!parameters.length) throw new GraphError(`trainingStep: the graph of ${loss.name} has no trainable variables`);
  const grads = gradients(loss, parameters);
  const session = options.session ?? new Session(g);
  const params = parameters.map((p) => ({ name: p.name, value: g.valueOf(p), grad: undefined as unknown as Tensor }));
  const step = (feeds: Feeds): number => {
    const [lossValue, ...gradValues] = session.run([loss, ...grads], feeds, { training: true, borrow: true });
    const value = lossValue.data[lossValue.offset];
    if (!Number.isFinite(value)) throw new GraphError(`trainingStep: the loss ${loss.name} is ${value}; the step was not applied`);
    params.forEach((p, i) => (p.grad = gradValues[i]));
    optimizer.step(params);
    return value;
  };
  return Object.assign(step, { session, parameters });
}
