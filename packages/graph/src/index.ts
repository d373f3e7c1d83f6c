/**
 * @ndgraph/graph
 *
 * @module @ndgraph/graph
 */
export * from './dtype.ts';
export * from './errors.ts';
export { Rng, type RngState } from './rng.ts';
export * from './tensor.ts';
export * from './stats.ts';
export {
  Graph,
  Node,
  defineOp,
  registeredOps,
  buildingNode,
  checkOptionKeys,
  type OpDef,
  type OpBuilder,
  type RunContext,
  type GradContext,
  type BuildOptions,
  type GraphOptions,
  type VariableOptions,
  type GradientInfo,
} from './graph.ts';
export * from './backend.ts';
export { addN, onesLike, zerosLike } from './core-ops.ts';
export { Session, type RunOptions, type SessionOptions } from './session/session.ts';
export type { Feeds } from './session/feeds.ts';
export type { NodeHooks } from './session/hooks.ts';
export { topologicalOrder } from './session/plan.ts';
export { registerFusionRule, fusionRules, type Fusion, type FusionRule } from './session/fusion.ts';
export { gradients, allGradients, type GradientOptions } from './autodiff.ts';
export { gradcheck, type GradcheckOptions, type GradcheckReport, type GradcheckInputReport } from './gradcheck.ts';
export * from './inspect/index.ts';
