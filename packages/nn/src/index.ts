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
export * from './losses.ts';
export * from './training.ts';
export * from './viz.ts';
