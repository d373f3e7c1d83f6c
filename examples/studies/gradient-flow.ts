/**
 * A dead-unit / gradient-flow view of training, for the activation study.
 * At watched steps it records, per layer:
 *
 *   inactive fraction   the share of the activation's outputs in its "off"
 *                       region, where little or no gradient flows back:
 *                         relu        y = 0 exactly             (f' = 0: nothing flows back)
 *                         leaky relu  y ≤ 0 (pre-activation ≤ 0) (f' = 0.01)
 *                         elu         y ≤ 0 (pre-activation ≤ 0) (f' = y + 1 < 1, fading)
 *                         sigmoid     y < 0.01 or y > 0.99       (f' = y(1 − y) < 0.0099, under 4% of its peak 0.25)
 *                         tanh        |y| > 0.99                 (f' = 1 − y² < 0.0199, under 2% of its peak 1)
 *                       For the relu family this is the share of pre-activations
 *                       ≤ 0; only for relu itself does it mean zero gradient.
 *   dead-unit fraction  the share of units (conv channels or dense neurons)
 *                       whose every output in the batch, at every position,
 *                       is inactive: for relu, units that pass no gradient
 *                       for any example of the batch.
 *   gradient norm       the L2 norm ‖∂loss/∂W‖ of the layer's weight matrix
 *                       or filter. Vanishing gradients show as norms that
 *                       shrink towards the input (conv1 ≪ fc2).
 *
 * Browser-safe.
 */
import { type Node, type Tensor, copyTensor, isContiguous } from '@ndgraph/graph';
import type { ActivationName, TrainingMonitor } from '@ndgraph/nn';

export interface InactiveRule {
  activation: ActivationName;
  /** The rule in words, for reports. */
  definition: string;
  isInactive(y: number): boolean;
}

const RULES: Record<Exclude<ActivationName, 'linear'>, Omit<InactiveRule, 'activation'>> = {
  relu: { definition: 'y = 0 exactly (zero gradient)', isInactive: (y) => y === 0 },
  leakyRelu: { definition: 'y ≤ 0 (the leaky side, gradient 0.01)', isInactive: (y) => y <= 0 },
  elu: { definition: 'y ≤ 0 (the exponential side, gradient y + 1 < 1)', isInactive: (y) => y <= 0 },
  sigmoid: { definition: 'y < 0.01 or y > 0.99 (saturated, gradient < 0.0099)', isInactive: (y) => y < 0.01 || y > 0.99 },
  tanh: { definition: '|y| > 0.99 (saturated, gradient < 0.0199)', isInactive: (y) => Math.abs(y) > 0.99 },
};

/** The op names whose output is each activation's output (relu may be fused into conv/dense + bias + relu nodes). */
const OP_NAMES: Record<Exclude<ActivationName, 'linear'>, readonly string[]> = {
  relu: ['relu', 'conv2dBiasRelu', 'matmulBiasRelu'],
  leakyRelu: ['leakyRelu'],
  elu: ['elu'],
  sigmoid: ['sigmoid'],
  tanh: ['tanh'],
};

export function inactiveRule(activation: ActivationName): InactiveRule {
  if (activation === 'linear') throw new RangeError('inactiveRule: a linear activation has no inactive region');
  return { activation, ...RULES[activation] };
}

/**
 * The layer a node belongs to, from its name: the first scope under the model
 * scope (`lenet/conv1/relu` → `conv1`, `lenet/fc1/dense/w` → `fc1`,
 * `lenet/logits/w` → `logits`).
 */
export function layerOfNode(name: string): string {
  const parts = name.split('/');
  return parts.length >= 3 ? parts[1] : parts[0];
}

function contiguous(t: Tensor): Tensor {
  return isContiguous(t) ? t : copyTensor(t);
}

/** Inactive and dead-unit fractions of one activation output; units are along the last axis. */
export function activationStats(value: Tensor, rule: InactiveRule): { inactiveFraction: number; deadUnitFraction: number } {
  const t = contiguous(value);
  const units = t.shape[t.shape.length - 1];
  const size = t.size;
  const activeSeen = new Uint8Array(units);
  let inactive = 0;
  for (let i = 0; i < size; i++) {
    if (rule.isInactive(t.data[t.offset + i])) inactive++;
    else activeSeen[i % units] = 1;
  }
  let dead = 0;
  for (let u = 0; u < units; u++) if (activeSeen[u] === 0) dead++;
  return { inactiveFraction: size > 0 ? inactive / size : 0, deadUnitFraction: units > 0 ? dead / units : 0 };
}

/** Euclidean norm of all elements. */
export function l2Norm(value: Tensor): number {
  const t = contiguous(value);
  let sum = 0;
  for (let i = 0; i < t.size; i++) {
    const v = t.data[t.offset + i];
    sum += v * v;
  }
  return Math.sqrt(sum);
}

export interface GradientFlowPoint {
  step: number;
  epoch: number;
  layer: string;
  /** Null for a layer with no activation (the logits). */
  inactiveFraction: number | null;
  deadUnitFraction: number | null;
  /** Null for a layer whose weight was not found. */
  gradientNorm: number | null;
}

/**
 * Records a GradientFlowPoint per layer at every watched step. Attach it with
 * `trainer.monitor = new GradientFlowMonitor(trainer.graph.nodes, 'relu', 5)`.
 * Layers are the scopes of the activation nodes and of the weights (variables
 * named `…/w`), in graph order.
 */
export class GradientFlowMonitor implements TrainingMonitor {
  readonly points: GradientFlowPoint[] = [];
  readonly rule: InactiveRule;
  readonly layers: string[] = [];
  private readonly activationLayer = new Map<number, string>();
  private pending = new Map<string, { inactiveFraction: number; deadUnitFraction: number }>();

  constructor(
    nodes: readonly Node[],
    activation: ActivationName,
    readonly everySteps = 1,
  ) {
    this.rule = inactiveRule(activation);
    const opNames = OP_NAMES[this.rule.activation as Exclude<ActivationName, 'linear'>];
    for (const node of nodes) {
      const isActivation = opNames.includes(node.op.name);
      const isWeight = node.op.kind === 'variable' && node.name.endsWith('/w');
      if (!isActivation && !isWeight) continue;
      const layer = layerOfNode(node.name);
      if (isActivation) this.activationLayer.set(node.id, layer);
      if (!this.layers.includes(layer)) this.layers.push(layer);
    }
  }

  onValue(node: Node, value: Tensor): void {
    const layer = this.activationLayer.get(node.id);
    if (layer !== undefined) this.pending.set(layer, activationStats(value, this.rule));
  }

  onGradients(at: { epoch: number; step: number }, parameters: readonly Node[], gradients: readonly Tensor[]): void {
    const norms = new Map<string, number>();
    parameters.forEach((p, i) => {
      if (p.name.endsWith('/w')) norms.set(layerOfNode(p.name), l2Norm(gradients[i]));
    });
    for (const layer of this.layers) {
      const stats = this.pending.get(layer);
      this.points.push({
        step: at.step,
        epoch: at.epoch,
        layer,
        inactiveFraction: stats?.inactiveFraction ?? null,
        deadUnitFraction: stats?.deadUnitFraction ?? null,
        gradientNorm: norms.get(layer) ?? null,
      });
    }
    this.pending = new Map();
  }
}
