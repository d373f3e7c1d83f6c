/**
 * Anomaly mode: throws at the first NaN/Inf in a float value, naming the node,
 * its op and scope, and the stats of its inputs. For a node the gradient walk
 * built, it also names the forward node whose backward pass it belongs to and
 * the forward nodes whose gradient it is, since that is where to look.
 */
import { isFloatDType } from '../dtype.ts';
import { AnomalyError } from '../errors.ts';
import type { Node } from '../graph.ts';
import { formatStats, tensorStats } from '../stats.ts';
import { dtypeOf, formatShape, type Tensor } from '../tensor.ts';

export function checkFinite(node: Node, value: Tensor, inputs: Tensor[]): void {
  if (!isFloatDType(dtypeOf(value))) return;
  const d = value.data;
  for (let i = 0; i < value.size; i++) {
    const v = d[value.offset + i];
    if (v - v !== 0) throw new AnomalyError(describeAnomaly(node, value, inputs, i));
  }
}

function describeAnomaly(node: Node, value: Tensor, inputs: Tensor[], firstIndex: number): string {
  const stats = tensorStats(value);
  const where = (n: Node) => `${n.name} (op ${n.op.name}, scope '${n.scope}')`;
  const lines = [`${where(node)} produced ${stats.nan} NaN and ${stats.inf} Inf values out of ${value.size} (first at flat index ${firstIndex})`];
  const info = node.graph.gradientInfo(node);
  if (info) {
    lines.push(`  it belongs to the backward pass of forward node ${where(info.builtFor)}`);
    if (info.of.length) lines.push(`  it is the gradient with respect to ${info.of.map(where).join(', ')}`);
  }
  node.inputs.forEach((x, k) => {
    const t = inputs[k];
    if (t) lines.push(`  input ${k} ${x.name} (op ${x.op.name}) ${formatShape(t.shape)}: ${formatStats(tensorStats(t))}`);
  });
  return lines.join('\n');
}
