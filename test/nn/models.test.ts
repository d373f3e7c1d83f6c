/**
 * Any model, end to end: the Trainer takes a builder or a Model (shape and
 * classes from the data), the sequential builder makes the functional
 * layers' nodes and a JSON spec that rebuilds it, a trained model is saved
 * and loaded (with every missing, unexpected or mis-shaped tensor named),
 * predicts, and a hand-written loop trains with `trainingStep`.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DataError, Graph, GraphError, gradients, type Node, Rng, Session, wrap } from '@ndgraph/graph';
import {
  batches,
  crossEntropyLoss,
  decodeModel,
  defaultTrainConfig,
  encodeModel,
  fit as fitModel, // 'fit' alone reads as a focused test to the linter
  layers,
  mlp,
  model,
  modelFromSpec,
  momentum,
  seq,
  sequential,
  subset,
  type TrainConfig,
  Trainer,
  trainingStep,
} from '@ndgraph/nn';
import { decodeSafetensors, encodeSafetensors } from '@ndgraph/nn';
import { loadEmbeddedMnist } from '@ndgraph/nn/node';
import { softmaxCrossEntropy } from '@ndgraph/ops';

const data = loadEmbeddedMnist({ trainSize: 512, testSize: 128, seed: 0 });
const small = { train: subset(data.train, 0, 256), test: data.test };
const config: TrainConfig = { ...defaultTrainConfig, epochs: 2, batchSize: 32 };

/** A tiny model of your own: flatten → dense(32) → relu → dense(10). */
const tiny = (x: Node) => layers.dense(layers.dense(layers.flatten(x), 32, { activation: 'relu' }), 10, { name: 'out' });

afterEach(() => vi.restoreAllMocks());

describe('the Trainer trains any model', () => {
  it('a builder function: its nodes, the input shape from the data, a loss that falls', () => {
    const trainer = new Trainer(config, small, tiny);
    expect(trainer.model.name).toBe('tiny');
    expect(trainer.images.shape).toEqual([-1, 28, 28, 1]);
    expect(trainer.classes).toBe(10);
    expect(trainer.parameters.map((p) => p.name)).toEqual(['dense/w', 'dense/b', 'out/w', 'out/b']);
    const first = trainer.trainEpoch();
    const second = trainer.trainEpoch();
    expect(second.trainLoss).toBeLessThan(first.trainLoss);
    expect(second.testAccuracy).toBeGreaterThan(0.5);
  });

  it('features instead of images, a loss and an optimizer of your own', () => {
    const flat = { images: wrap(new Float32Array(small.train.images.data.slice(0, 256 * 784)), [256, 784]), labels: small.train.labels };
    const testFlat = { images: wrap(new Float32Array(data.test.images.data.slice(0, 128 * 784)), [128, 784]), labels: data.test.labels };
    let lossCalls = 0;
    const loss = (logits: Node, labels: Node) => {
      lossCalls++;
      return softmaxCrossEntropy(logits, labels);
    };
    const optimizer = momentum({ learningRate: 0.05 });
    const trainer = new Trainer(config, { train: flat, test: testFlat }, { model: (x) => layers.dense(x, 10), loss, optimizer });
    expect(trainer.images.shape).toEqual([-1, 784]);
    expect(lossCalls).toBe(1);
    expect(trainer.optimizer).toBe(optimizer);
    expect(trainer.trainEpoch().testAccuracy).toBeGreaterThan(0.5);
  });

  it('is the same run, bit for bit, for the same seed', () => {
    const run = () => {
      const t = new Trainer(config, small, mlp({ hidden: [16], dropout: 0.3 }));
      t.trainEpoch();
      return Array.from(t.graph.valueOf(t.parameters[0]).data);
    };
    expect(run()).toEqual(run());
  });

  it("fit trains for the config's epochs and returns the trainer and the epochs", () => {
    const seen: number[] = [];
    const { trainer, epochs } = fitModel(tiny, small, config, { onEpoch: (e) => seen.push(e.epoch) });
    expect(seen).toEqual([1, 2]);
    expect(epochs.map((e) => e.epoch)).toEqual([1, 2]);
    expect(trainer.epoch).toBe(2);
    expect(() => fitModel({ predict: () => 0 } as never, small, config)).toThrow(
      'fit: the model: expected a model — a builder (inputs: Node) => Node, or a Model { name, build(inputs) } — found an object with keys ["predict"]',
    );
  });

  it('refuses what is not a model, with a message that says what a model is', () => {
    expect(() => new Trainer(config, small, { model: 42 } as never)).toThrow(GraphError);
    expect(() => new Trainer(config, small, { model: { layers: [] } } as never)).toThrow(
      'Trainer: the model: expected a model — a builder (inputs: Node) => Node, or a Model { name, build(inputs) } — found an object with keys ["layers"]',
    );
    // A model put in the config's LeNet options is refused, never trained as LeNet-5.
    expect(() => new Trainer({ ...config, model: tiny as never }, small)).toThrow(
      "training config: model holds the options of the default LeNet-5; pass a model of your own as the Trainer's third argument: new Trainer(config, data, tiny)",
    );
    expect(() => new Trainer(config, small, { model: tiny, lossFn: tiny } as never)).toThrow(/Trainer parts: unknown option 'lossFn'/);
  });

  it('refuses logits that are not [N, classes], or fewer classes than the labels hold', () => {
    const fourClasses = (x: Node) => layers.dense(layers.flatten(x), 4);
    expect(() => new Trainer(config, small, fourClasses)).toThrow('model fourClasses: the logits dense/biasAdd have 4 classes, but the labels go up to 9');
    expect(
      () =>
        new Trainer(
          config,
          small,
          model('wide', (x) => x),
        ),
    ).toThrow('model wide: expected logits of shape [N, classes], found images [?,28,28,1]');
  });

  it('restores its checkpoint bit-identically, and refuses one of another model, changing nothing', () => {
    const a = new Trainer(config, small, tiny);
    a.trainEpoch();
    const ckpt = a.checkpoint();
    const b = new Trainer(config, small, tiny);
    const before = Array.from(b.graph.valueOf(b.parameters[0]).data);
    const broken = { tensors: { ...ckpt.tensors }, metadata: ckpt.metadata };
    delete broken.tensors['variables/out/b'];
    broken.tensors['variables/extra'] = ckpt.tensors['variables/out/b'];
    expect(() => b.restore(broken, 'ckpt')).toThrow(
      "ckpt: the weights do not fit the model (2 problems):\n  missing tensor 'variables/out/b' for variable out/b [10] float32\n  unexpected tensor 'variables/extra': the model has no variable extra",
    );
    expect(Array.from(b.graph.valueOf(b.parameters[0]).data)).toEqual(before); // all or nothing
    expect(b.epoch).toBe(0);
    b.restore(ckpt, 'ckpt');
    expect(Array.from(b.graph.valueOf(b.parameters[0]).data)).toEqual(Array.from(a.graph.valueOf(a.parameters[0]).data));
    const other = new Trainer(config, small, mlp({ hidden: [8] }));
    expect(() => other.restore(ckpt, 'ckpt')).toThrow(/ckpt: the checkpoint was made with model = \{"name":"tiny","spec":null\}, this run has \{"name":"mlp"/);
  });
});

describe('sequential', () => {
  const specs = [seq.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }), seq.relu(), seq.maxPool(2), seq.flatten(), seq.dense(10)];

  it('makes the nodes the functional layers make, under its name', () => {
    const g1 = new Graph();
    const x1 = g1.placeholder('images', [-1, 28, 28, 1]);
    sequential(specs, { name: 'net' }).build(x1);
    const g2 = new Graph();
    const x2 = g2.placeholder('images', [-1, 28, 28, 1]);
    g2.scope('net', () =>
      layers.dense(layers.flatten(layers.maxPool(layers.conv2d(x2, { filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }), { ksize: 2 })), 10),
    );
    const names = (g: Graph) => g.nodes.map((n) => `${n.name} ${n.op.name} [${n.shape}]`);
    // The same variables and shapes; the relu is a node of its own in both.
    expect(names(g1).filter((n) => n.includes('variable'))).toEqual(names(g2).filter((n) => n.includes('variable')));
    expect(g1.variables().map((v) => v.name)).toEqual(['net/conv/w', 'net/conv/b', 'net/dense/w', 'net/dense/b']);
  });

  it('its spec is JSON that rebuilds the same model', () => {
    const net = sequential(specs, { name: 'net' });
    const spec = JSON.parse(JSON.stringify(net.spec));
    expect(spec.kind).toBe('sequential');
    const again = modelFromSpec(spec);
    const shapes = (m: typeof net) => {
      const g = new Graph();
      m.build(g.placeholder('images', [-1, 28, 28, 1]));
      return g.variables().map((v) => `${v.name} [${v.shape}]`);
    };
    expect(shapes(again)).toEqual(shapes(net));
  });

  it('a bad layer spec names the layer and what it expected', () => {
    const g = new Graph();
    const x = g.placeholder('images', [-1, 28, 28, 1]);
    expect(() => sequential([seq.flatten(), { type: 'dense', units: 10, dilation: 2 } as never]).build(x)).toThrow(
      "sequential sequential: layer 1 (dense): unknown option 'dilation'; expected 'units', 'useBias', 'activation', 'init', 'name'",
    );
    expect(() => sequential([{ type: 'lstm' } as never]).build(x)).toThrow(/sequential sequential: layer 0: expected a layer spec \{ type: conv2d \| dense/);
    expect(() => modelFromSpec({ kind: 'transformer' })).toThrow(/unknown model kind 'transformer'; known: .*sequential/);
  });
});

describe('save, load, predict', () => {
  const trained = (() => {
    const t = new Trainer({ ...config, epochs: 1 }, small, sequential([seq.flatten(), seq.dense(16, { activation: 'relu' }), seq.dense(10)], { name: 'mlp' }));
    t.trainEpoch();
    return t;
  })();

  it('a saved model loads from its spec alone and predicts the same bits', () => {
    const bytes = encodeModel(trained.graph, trained.model, { inputShape: [28, 28, 1], classes: 10 });
    const loaded = decodeModel(bytes, 'mlp.safetensors');
    const images = subset(data.test, 0, 8).images;
    const a = trained.predict(images);
    const b = loaded.predict(images);
    expect(Array.from(b.probabilities.data)).toEqual(Array.from(a.probabilities.data));
    expect(Array.from(b.classes)).toEqual(Array.from(a.classes));
    // One image of the input shape is a batch of one.
    expect(loaded.predict(data.test.images.pick(0)).classes).toEqual(b.classes.slice(0, 1));
    expect(loaded.evaluate(data.test).accuracy).toBeCloseTo(trained.evaluate(data.test).accuracy, 12);
  });

  it('a training checkpoint loads for inference too', () => {
    const ckpt = trained.checkpoint();
    const loaded = decodeModel(encodeSafetensors(ckpt.tensors, ckpt.metadata), 'checkpoint.safetensors');
    expect(Array.from(loaded.predict(data.test.images.pick(3)).classes)).toEqual(Array.from(trained.predict(data.test.images.pick(3)).classes));
  });

  it('loading names every missing, unexpected and mis-shaped tensor, and a model without a spec needs its builder', () => {
    const { tensors, metadata } = decodeSafetensors(encodeModel(trained.graph, trained.model, { inputShape: [28, 28, 1] }));
    delete tensors['variables/mlp/dense/b'];
    tensors['variables/mlp/dense_1/w'] = wrap(new Float32Array(16 * 9), [16, 9]);
    tensors['variables/mlp/dense_2/w'] = wrap(new Float32Array(4), [4]);
    let message = '';
    try {
      decodeModel(encodeSafetensors(tensors, metadata), 'bad.safetensors');
    } catch (e) {
      expect(e).toBeInstanceOf(DataError);
      message = (e as Error).message;
    }
    expect(message).toBe(
      [
        'bad.safetensors: the weights do not fit the model (3 problems):',
        "  missing tensor 'variables/mlp/dense/b' for variable mlp/dense/b [16] float32",
        "  tensor 'variables/mlp/dense_1/w' is [16,9] float32, but variable mlp/dense_1/w is [16,10] float32",
        "  unexpected tensor 'variables/mlp/dense_2/w': the model has no variable mlp/dense_2/w",
      ].join('\n'),
    );
    const custom = new Trainer({ ...config, epochs: 1 }, small, tiny);
    const bytes = encodeModel(custom.graph, custom.model, { inputShape: [28, 28, 1] });
    expect(() => decodeModel(bytes, 'tiny.safetensors')).toThrow(
      "tiny.safetensors: the model 'tiny' was saved without an architecture spec; pass its builder: loadModel(path, myModel)",
    );
    expect(decodeModel(bytes, 'tiny.safetensors', tiny).predict(data.test.images.pick(0)).classes).toHaveLength(1);
  });
});

describe('training mode and hand-written loops', () => {
  it('a gradient run through dropout or batchnorm in eval mode warns once per session', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const g = new Graph({ seed: 1 });
    const x = g.placeholder('images', [-1, 28, 28, 1]);
    const labels = g.placeholder('labels', [-1], 'int32');
    const logits = mlp({ hidden: [8], dropout: 0.5 }).build(x);
    const loss = crossEntropyLoss(logits, labels);
    const grads = gradients(loss, g.trainableVariables());
    const session = new Session(g);
    const feeds = { images: subset(data.train, 0, 4).images, labels: subset(data.train, 0, 4).labels };
    session.run([loss, ...grads], feeds);
    session.run([loss, ...grads], feeds);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/computes gradients through mlp\/hidden1\/dropout\/mask \(dropoutMask\) without training: true/);
    session.run([loss, ...grads], feeds, { training: true });
    session.run(logits, { images: feeds.images }); // eval without gradients: no warning
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('trainingStep runs forward, backward and the update in one call', () => {
    const g = new Graph({ seed: 2 });
    const x = g.placeholder('images', [-1, 28, 28, 1]);
    const labels = g.placeholder('labels', [-1], 'int32');
    const logits = tiny(x);
    const step = trainingStep(crossEntropyLoss(logits, labels), momentum({ learningRate: 0.05 }));
    const rng = new Rng(3);
    const losses: number[] = [];
    for (let epoch = 0; epoch < 3; epoch++) for (const b of batches(small.train, 32, rng)) losses.push(step({ images: b.images, labels: b.labels }));
    expect(losses).toHaveLength(24);
    expect(losses.slice(-4).reduce((a, b) => a + b) / 4).toBeLessThan(losses.slice(0, 4).reduce((a, b) => a + b) / 4);
    expect(() => trainingStep(logits, momentum({ learningRate: 0.1 }))).toThrow('trainingStep: the loss must be a scalar node, found out/biasAdd [?,10]');
  });
});
