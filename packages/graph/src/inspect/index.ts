/**
 * Seeing into a graph: the per-node report of values and gradients, DOT and
 * JSON export, plus the hook and gradient-registry types that go with them.
 */
export {
  inspectRun,
  formatReport,
  formatNumber,
  statsToJSON,
  Report,
  type NodeReport,
  type InspectOptions,
  type FormatReportOptions,
  type ReportJSON,
  type TensorStatsJSON,
} from './report.ts';
export { toDot, toJSON, selectNodes, jsonSafe, type ExportOptions, type GraphJSON, type GraphJSONNode } from './export.ts';
