// Public API of @ndgraph/ops. Each op lives in its own file under ops/.
export * from './util.ts';
export { defineBinary, defineUnary, type BinaryDef, type UnaryDef } from './elementwise.ts';
export * from './ops/add.ts';
export * from './ops/sub.ts';
export * from './ops/mul.ts';
export * from './ops/div.ts';
export * from './ops/neg.ts';
export * from './ops/scale.ts';
export * from './ops/square.ts';
export * from './ops/reduce-to-shape.ts';
export * from './ops/broadcast-to.ts';
