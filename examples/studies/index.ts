/**
 * The seed article's comparisons (`pnpm compare`, examples/compare.ts): study
 * definitions, the runner, summaries, figures and reports, built on the public
 * entries of @ndgraph/graph and @ndgraph/nn. Browser-safe; the Node-only
 * part that writes and reads a study's files is ./study-files.ts.
 */
export * from './definitions.ts';
export * from './gradient-flow.ts';
export * from './summary.ts';
export * from './runner.ts';
export * from './figures.ts';
export * from './report.ts';
