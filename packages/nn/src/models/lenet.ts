/**
 * LeNet-5 (LeCun et al., 1998) in its common modern form, for 28×28×1 MNIST:
 *
 *   conv 5×5×6 'same' → act → maxpool 2      [N,28,28,6] → [N,14,14,6]
 *   conv 5×5×16 'valid' → act → maxpool 2    [N,10,10,16] → [N,5,5,16]
 *   flatten → dense 120 → act → dense 84 → act → dense 10 (logits)
 *
 * Options swap the activation and the initializer, and add batchnorm (after
 * each conv/dense, before the activation), dropout (after the hidden dense
 * layers) or residual blocks (a 'same'-padded 3×3 conv block after each pooling).
 */
import { checkOptionKeys, type Node } from '@ndgraph/graph';
import { type Activation, type ActivationName, activationByName, batchNorm, conv2d, dense, dropout, flatten, maxPool, avgPool, residual } from '../layers.ts';
import { type Initializer, heNormal } from '../initializers.ts';

export interface LeNetOptions {
  activation?: Activation | ActivationName;
  init?: Initializer;
  batchNorm?: boolean;
  /** Dropout rate after each hidden dense layer (0 = none). */
  dropout?: number;
  /** Add a residual block (two 3×3 'same' convs) after each pooling stage. */
  residual?: boolean;
  /** 'max' (default) or 'avg' pooling. */
  pooling?: 'max' | 'avg';
  /** Number of classes. Default 10. */
  classes?: number;
}

export function lenet5(images: Node, options: LeNetOptions = {}): Node {
  checkOptionKeys('lenet5', options, ['activation', 'init', 'batchNorm', 'dropout', 'residual', 'pooling', 'classes']);
  const g = images.graph;
  const act: Activation = typeof options.activation === 'string' ? activationByName(options.activation) : (options.activation ?? activationByName('relu'));
  const init = options.init ?? heNormal;
  const pool = (x: Node, name: string) => (options.pooling === 'avg' ? avgPool(x, { name, ksize: 2 }) : maxPool(x, { name, ksize: 2 }));
  const normalized = (x: Node) => (options.batchNorm ? batchNorm(x) : x);
  // The activation is a node of its own in the block's scope, after batchnorm when there is one.
  // (A session fuses conv/dense + bias + relu into one kernel when nothing else needs the pre-activation.)
  const after = (x: Node) => act(normalized(x));
  const convBlock = (x: Node, name: string, filters: number, padding: 'same' | 'valid') =>
    g.scope(name, () => after(conv2d(x, { name: 'conv', filters, kernelSize: 5, padding, init, useBias: !options.batchNorm })));
  const resBlock = (x: Node, name: string) =>
    residual(
      x,
      (h) => {
        const c = h.shape[3];
        const a = after(conv2d(h, { name: 'conv1', filters: c, kernelSize: 3, padding: 'same', init, useBias: !options.batchNorm }));
        return normalized(conv2d(a, { name: 'conv2', filters: c, kernelSize: 3, padding: 'same', init, useBias: !options.batchNorm }));
      },
      { name, init },
    );
  const denseBlock = (x: Node, name: string, units: number) =>
    g.scope(name, () => {
      const h = after(dense(x, units, { name: 'dense', init, useBias: !options.batchNorm }));
      return options.dropout ? dropout(h, options.dropout) : h;
    });

  return g.scope('lenet', () => {
    let x = pool(convBlock(images, 'conv1', 6, 'same'), 'pool1');
    if (options.residual) x = act(resBlock(x, 'res1'));
    x = pool(convBlock(x, 'conv2', 16, 'valid'), 'pool2');
    if (options.residual) x = act(resBlock(x, 'res2'));
    x = flatten(x);
    x = denseBlock(x, 'fc1', 120);
    x = denseBlock(x, 'fc2', 84);
    return dense(x, options.classes ?? 10, { name: 'logits', init });
  });
}
