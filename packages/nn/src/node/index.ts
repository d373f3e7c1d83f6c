export * from './checkpoint-file.ts';
export * from './mnist-files.ts';
export * from './mnist-embedded.ts';
export * from './progress.ts';
export * from './png.ts';
export * from './write-run-files.ts';
export * from './model-files.ts';
export * from './fashion-mnist.ts';
