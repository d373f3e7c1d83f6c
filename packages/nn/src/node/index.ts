/**
 * The Node-only part of @ndgraph/nn: datasets (MNIST IDX files, the embedded
 * digits, Fashion-MNIST, `loadDataset`), model and checkpoint files written
 * atomically, run folders, the progress bar and PNG rendering.
 *
 * @module @ndgraph/nn/node
 */
export * from './checkpoint-file.ts';
export * from './mnist-files.ts';
export * from './mnist-embedded.ts';
export * from './progress.ts';
export * from './png.ts';
export * from './write-run-files.ts';
export * from './model-files.ts';
export * from './fashion-mnist.ts';
export * from './datasets.ts';
export * from './run-folder.ts';
