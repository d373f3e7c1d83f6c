/**
 * Neural networks on the engine: layers (the `layers` namespace), models
 * (builders, `sequential`, the built-ins), initializers, losses, optimizers,
 * the Trainer and `fit`, predict / save / load, data batching, metrics and
 * plots. Browser-safe; files and the CLI helpers are in `@ndgraph/nn/node`.
 *
 * @module @ndgraph/nn
 */
export * from './initializers.ts';
export * from './schedules.ts';
export * from './optimizers/index.ts';
export * from './checkpoint/safetensors.ts';
export * from './data/dataset.ts';
export * from './data/idx.ts';
export * from './data/batches.ts';
export * from './metrics.ts';
export * from './plot.ts';
export * as plotParts from './vega-parts.ts';
// Layers are a namespace (layers.conv2d, layers.dense, ...): their names would clash with the ops'.
export * as layers from './layers.ts';
export { activations, activationByName, type Activation, type ActivationName } from './layers.ts';
export * from './models/lenet.ts';
export { asModel, checkLogits, isModelLike, type Model, type ModelBuilder, type ModelSpec, model, registerModelKind } from './models/model.ts';
export { modelFromSpec } from './models/from-spec.ts';
export * from './models/sequential.ts';
export * from './models/zoo.ts';
export * from './model-io.ts';
export * from './step.ts';
export * from './losses.ts';
export * from './training.ts';
export * from './viz.ts';
