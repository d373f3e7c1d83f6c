/** The seed article's comparisons: study definitions, the runner, summaries, figures and reports. Browser-safe. */
export * from './definitions.ts';
export * from './gradient-flow.ts';
export * from './summary.ts';
export * from './runner.ts';
export * from './figures.ts';
export * from './report.ts';
