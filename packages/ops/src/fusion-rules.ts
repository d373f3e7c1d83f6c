/**
 * The fusion rules of the built-in ops: chains the planner runs as one kernel
 * when nothing else needs the nodes inside them (not fetched, fed or hooked,
 * no other consumer). Users build the plain chains; the graph they see keeps
 * every node.
 *
 *   conv2d → biasAdd → relu → maxPool   conv2dBiasReluMaxPool   (a conv layer and its pooling, in inference)
 *   conv2d → biasAdd → relu          conv2dBiasRelu        (a conv layer's forward pass)
 *   conv2d → biasAdd                 conv2dBias            (one with another activation; relu's rule goes first)
 *   matmul → biasAdd → relu          matmulBiasRelu        (a dense layer's, no transposes)
 *   maxPoolGrad(dy, y) → reluGrad(·, y)   maxPoolGrad with positiveOnly   (pooling after relu, backward)
 *   batchNorm → relu                 batchNormRelu         (a normalized layer's activation)
 */
import { type FusionRule, type Node, registerFusionRule } from '@ndgraph/graph';
import { batchNormOp, runningAveragesAreVariables } from './ops/batch-norm.ts';
import { batchNormReluOp } from './ops/batch-norm-relu.ts';
import { biasAddOp } from './ops/bias-add.ts';
import { conv2dOp } from './ops/conv2d.ts';
import { conv2dBiasOp } from './ops/conv2d-bias.ts';
import { conv2dBiasReluOp } from './ops/conv2d-bias-relu.ts';
import { conv2dBiasReluMaxPoolOp } from './ops/conv2d-bias-relu-max-pool.ts';
import { matmulOp, type MatmulAttrs } from './ops/matmul.ts';
import { matmulBiasReluOp } from './ops/matmul-bias-relu.ts';
import { type MaxPoolGradAttrs, maxPoolGradOp } from './ops/max-pool-grad.ts';
import { reluOp } from './ops/relu.ts';
import type { PoolAttrs, WindowAttrs } from './window.ts';

/** relu(biasAdd(product(x, w), b)) with the biasAdd and the product absorbable, else null. */
function productBiasRelu(relu: Node, product: { def: unknown }, canAbsorb: (n: Node) => boolean): { biasAdd: Node; product: Node } | null {
  const biasAdd = relu.inputs[0];
  if (biasAdd.op !== biasAddOp.def || !canAbsorb(biasAdd)) return null;
  const inner = biasAdd.inputs[0];
  if (inner.op !== product.def || !canAbsorb(inner)) return null;
  return { biasAdd, product: inner };
}

export const FUSION_RULES: FusionRule[] = [
  {
    // Tried before relu's rules: the planner tries the later root of a chain first.
    name: 'conv2d + biasAdd + relu + maxPool',
    root: 'maxPool',
    into: 'conv2dBiasReluMaxPool',
    match(pool, canAbsorb) {
      const relu = pool.inputs[0];
      if (relu.op !== reluOp.def || !canAbsorb(relu)) return null;
      const chain = productBiasRelu(relu, conv2dOp, canAbsorb);
      if (!chain) return null;
      const [x, filter] = chain.product.inputs;
      return {
        op: conv2dBiasReluMaxPoolOp.def,
        attrs: { conv: chain.product.attrs as WindowAttrs, pool: pool.attrs as PoolAttrs },
        inputs: [x, filter, chain.biasAdd.inputs[1]],
        absorbs: [relu, chain.biasAdd, chain.product],
      };
    },
  },
  {
    name: 'conv2d + biasAdd + relu',
    root: 'relu',
    into: 'conv2dBiasRelu',
    match(relu, canAbsorb) {
      const chain = productBiasRelu(relu, conv2dOp, canAbsorb);
      if (!chain) return null;
      const [x, filter] = chain.product.inputs;
      return { op: conv2dBiasReluOp.def, attrs: chain.product.attrs, inputs: [x, filter, chain.biasAdd.inputs[1]], absorbs: [chain.biasAdd, chain.product] };
    },
  },
  {
    // The planner visits consumers first, so a relu after the biasAdd has already taken it (the rule above).
    name: 'conv2d + biasAdd',
    root: 'biasAdd',
    into: 'conv2dBias',
    match(biasAdd, canAbsorb) {
      const conv = biasAdd.inputs[0];
      if (conv.op !== conv2dOp.def || !canAbsorb(conv)) return null;
      const [x, filter] = conv.inputs;
      return { op: conv2dBiasOp.def, attrs: conv.attrs, inputs: [x, filter, biasAdd.inputs[1]], absorbs: [conv] };
    },
  },
  {
    name: 'matmul + biasAdd + relu',
    root: 'relu',
    into: 'matmulBiasRelu',
    match(relu, canAbsorb) {
      const chain = productBiasRelu(relu, matmulOp, canAbsorb);
      const attrs = chain?.product.attrs as MatmulAttrs | undefined;
      if (!chain || attrs?.transposeA || attrs?.transposeB) return null;
      const [x, w] = chain.product.inputs;
      return { op: matmulBiasReluOp.def, attrs: {}, inputs: [x, w, chain.biasAdd.inputs[1]], absorbs: [chain.biasAdd, chain.product] };
    },
  },
  {
    name: 'maxPoolGrad + reluGrad',
    root: 'reluGrad',
    into: 'maxPoolGrad',
    match(reluGrad, canAbsorb) {
      const [poolGrad, y] = reluGrad.inputs;
      const attrs = poolGrad.attrs as MaxPoolGradAttrs;
      if (poolGrad.op !== maxPoolGradOp.def || attrs.positiveOnly || poolGrad.inputs[1] !== y || !canAbsorb(poolGrad)) return null;
      return { op: maxPoolGradOp.def, attrs: { ...attrs, positiveOnly: true }, inputs: [poolGrad.inputs[0], y], absorbs: [poolGrad] };
    },
  },
  {
    name: 'batchNorm + relu',
    root: 'relu',
    into: 'batchNormRelu',
    match(relu, canAbsorb) {
      const normalized = relu.inputs[0];
      if (normalized.op !== batchNormOp.def || !canAbsorb(normalized)) return null;
      // Running averages that are not variables are left to batchNorm, which says why it cannot train with them.
      if (!runningAveragesAreVariables(normalized)) return null;
      return { op: batchNormReluOp.def, attrs: normalized.attrs, inputs: normalized.inputs.slice(), absorbs: [normalized] };
    },
  },
];

for (const rule of FUSION_RULES) registerFusionRule(rule);
