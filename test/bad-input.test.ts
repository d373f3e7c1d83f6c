/**
 * The bad-input catalogue: one test per way a hostile or careless user broke
 * ndgraph once, each asserting the message it gives now. Nothing here may
 * end in a silent NaN, a wrong number, a hang or a lost checkpoint.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import ndarray from 'ndarray';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError, defineOp, FeedError, Graph, Session, ShapeError, tensor, toArray, type wrap } from '@ndgraph/graph';
import { type Dataset, decodeSafetensors, encodeSafetensors, layers, subset, type TrainConfig, Trainer } from '@ndgraph/nn';
import { claimRunFolder, loadEmbeddedMnist, loadMnistIdx } from '@ndgraph/nn/node';
import { add, leakyRelu, matmul, maxPool, scale } from '@ndgraph/ops';
import { wasmKernels } from '@ndgraph/ops/kernels';

const scratch = mkdtempSync(join(tmpdir(), 'ndgraph-bad-input-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const data = loadEmbeddedMnist({ trainSize: 256, testSize: 64, seed: 0 });
const config: TrainConfig = { epochs: 1, batchSize: 32, optimizer: 'momentum', learningRate: 0.05, seed: 1 };
const tiny = (x: Parameters<typeof layers.flatten>[0]) => layers.dense(layers.flatten(x), 10, { name: 'out' });

describe('1. a borrowed result fed into the next run', () => {
  it('gives the right numbers: y = x·2I + x twice is 9x', () => {
    const g = new Graph({ backend: 'wasm' });
    const x = g.placeholder('x', [1, 4]);
    const w = g.variable(
      'w',
      tensor([
        [2, 0, 0, 0],
        [0, 2, 0, 0],
        [0, 0, 2, 0],
        [0, 0, 0, 2],
      ]),
    );
    const y = add(matmul(x, w), x);
    const session = new Session(g);
    const first = session.run(y, { x: tensor([[1, 2, 3, 4]]) }, { borrow: true });
    const second = session.run(y, { x: first }, { borrow: true });
    expect(toArray(second)).toEqual([9, 18, 27, 36]);
  });
});

describe('2. a diverging run', () => {
  it('stops at the epoch whose test loss or weights are not finite, before a checkpoint of it can be saved', () => {
    const trainer = new Trainer(config, { train: data.train, test: data.test }, tiny);
    const good = trainer.checkpoint();
    // Poison the gradients of the epoch's last step: its loss is still finite, the weights after it are not.
    trainer.monitor = {
      onGradients: (step, _params, grads) => {
        if (step.step === trainer.stepsPerEpoch) for (const g of grads) g.data.fill(Number.POSITIVE_INFINITY);
      },
    };
    expect(() => trainer.trainEpoch()).toThrow(DataError);
    const again = new Trainer(config, { train: data.train, test: data.test }, tiny);
    again.monitor = trainer.monitor;
    expect(() => again.trainEpoch()).toThrow(/^training diverged: the test loss is NaN after epoch 1 \(step 8\)$/);
    expect(trainer.epoch).toBe(0); // the epoch was not counted, so nothing saves it as done
    expect(good.metadata.epoch).toBe('0');
  });
});

describe('3. loaders that could hang or read without bound', () => {
  const labels = (n: number) => Buffer.concat([Buffer.from([0, 0, 8, 1, 0, 0, (n >> 8) & 255, n & 255]), Buffer.alloc(n)]);
  const images = (n: number, extra = 0) =>
    Buffer.concat([Buffer.from([0, 0, 8, 3, 0, 0, (n >> 8) & 255, n & 255, 0, 0, 0, 28, 0, 0, 0, 28]), Buffer.alloc(n * 784 + extra)]);
  const folder = (name: string, trainImages: (dir: string) => void) => {
    const dir = join(scratch, name);
    mkdirSync(dir);
    trainImages(dir);
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), labels(2));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), images(2));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), labels(2));
    return dir;
  };

  it('a FIFO is refused without reading it', () => {
    const dir = folder('fifo', (d) => execFileSync('mkfifo', [join(d, 'train-images-idx3-ubyte')]));
    expect(() => loadMnistIdx(dir)).toThrow(`${join(dir, 'train-images-idx3-ubyte')}: expected a regular file, found a FIFO`);
  });

  it('a link to /dev/zero is refused without reading it', () => {
    const dir = folder('zero', (d) => symlinkSync('/dev/zero', join(d, 'train-images-idx3-ubyte')));
    expect(() => loadMnistIdx(dir)).toThrow(`${join(dir, 'train-images-idx3-ubyte')}: expected a regular file, found a character device`);
  });

  it('a file larger than its header says, and a gzip that expands past it, are refused', () => {
    const big = folder('big', (d) => writeFileSync(join(d, 'train-images-idx3-ubyte'), images(2, 100)));
    expect(() => loadMnistIdx(big)).toThrow(`${join(big, 'train-images-idx3-ubyte')}: the IDX header declares 1584 bytes, but the file holds 1684`);
    const bomb = folder('bomb', (d) => writeFileSync(join(d, 'train-images-idx3-ubyte.gz'), gzipSync(images(2, 32 * 2 ** 20))));
    expect(() => loadMnistIdx(bomb)).toThrow(`${join(bomb, 'train-images-idx3-ubyte.gz')}: decompresses to more bytes than its IDX header declares; refused`);
  });
});

describe('4. runs sharing an output folder', () => {
  it('the second run is refused, naming the process that holds the folder; a stale lock is taken over', () => {
    const dir = join(scratch, 'shared');
    mkdirSync(dir);
    writeFileSync(join(dir, '.ndgraph-run.lock'), `${process.ppid}\n`); // a live process
    expect(() => claimRunFolder(dir)).toThrow(`${dir}: another run (process ${process.ppid}) is using this folder; wait for it, or choose another --out`);
    writeFileSync(join(dir, '.ndgraph-run.lock'), '4194000\n'); // no such process
    const claimed = claimRunFolder(dir);
    claimed.release();
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('5. --resume of a malformed checkpoint', () => {
  const trained = new Trainer(config, { train: data.train, test: data.test }, tiny);
  trained.trainEpoch();
  const ckpt = trained.checkpoint();
  const tamper = (change: (t: Record<string, ReturnType<typeof wrap>>, m: Record<string, string>) => void) => {
    const copy = decodeSafetensors(encodeSafetensors(ckpt.tensors, ckpt.metadata), 'c');
    change(copy.tensors, copy.metadata);
    return copy;
  };
  const restoring = (c: ReturnType<typeof tamper>) => () => new Trainer(config, { train: data.train, test: data.test }, tiny).restore(c, 'ckpt.safetensors');

  it('names the missing or extra optimizer slot, the extra tensor, the NaN weight, the bad field', () => {
    expect(restoring(tamper((t) => delete t['optimizer/out/w/v']))).toThrow(
      "ckpt.safetensors: the optimizer state does not fit (1 problem):\n  missing optimizer slot 'optimizer/out/w/v' for parameter out/w",
    );
    expect(restoring(tamper((t) => (t['optimizer/ghost/v'] = t['optimizer/out/b/v'])))).toThrow(
      "unexpected optimizer slot 'optimizer/ghost/v': momentum has no such slot for a parameter of this model",
    );
    expect(restoring(tamper((t) => (t.extra = t['variables/out/b'])))).toThrow("unexpected tensor 'extra': the model has no variable extra");
    expect(restoring(tamper((t) => (t['variables/out/b'].data[3] = Number.NaN)))).toThrow(
      "tensor 'variables/out/b' holds a non-finite value (NaN at flat index 3)",
    );
    expect(restoring(tamper((_t, m) => (m.epoch = 'abc')))).toThrow('ckpt.safetensors: metadata field \'epoch\' must be a whole number ≥ 0, found "abc"');
    expect(restoring(tamper((_t, m) => delete m.config))).toThrow("ckpt.safetensors: metadata field 'config' is missing");
    expect(restoring(tamper((_t, m) => (m.dataRng = JSON.stringify({ words: [0, 0, 0, 0], spareNormal: null }))))).toThrow(
      "ckpt.safetensors: metadata field 'dataRng': Rng.setState: the state words are all zero, which xoshiro128** never reaches (a corrupted state)",
    );
  });

  it('changes nothing unless all of it fits', () => {
    const target = new Trainer(config, { train: data.train, test: data.test }, tiny);
    const before = Array.from(target.graph.valueOf(target.parameters[0]).data);
    const bad = tamper((_t, m) => (m.sessionRng = '{"words":[1,2,3]}'));
    expect(() => target.restore(bad, 'ckpt')).toThrow(/metadata field 'sessionRng'/);
    expect(Array.from(target.graph.valueOf(target.parameters[0]).data)).toEqual(before);
    expect([target.epoch, target.step, target.optimizer.getState().step]).toEqual([0, 0, 0]);
  });
});

describe('6. batchnorm and a last batch of one', () => {
  it('129 examples at batch 64 train: the single example is left out of the epoch', () => {
    const train: Dataset = subset(data.train, 0, 129);
    const net = (x: Parameters<typeof layers.flatten>[0]) => layers.dense(layers.batchNorm(layers.dense(layers.flatten(x), 8)), 10);
    const trainer = new Trainer({ ...config, batchSize: 64 }, { train, test: data.test }, net);
    expect(trainer.stepsPerEpoch).toBe(2);
    const info = trainer.trainEpoch();
    expect(info.step).toBe(2);
    expect(Number.isFinite(info.trainLoss)).toBe(true);
  });
});

describe('7. sizes and empty data', () => {
  it('no training or no test examples are errors, not 12% or NaN%', () => {
    expect(() => new Trainer(config, { train: subset(data.train, 0, 0), test: data.test }, tiny)).toThrow(
      'training data: expected at least one example, found none',
    );
    expect(() => new Trainer(config, { train: data.train, test: subset(data.test, 0, 0) }, tiny)).toThrow(
      'test data: expected at least one example to evaluate on, found none',
    );
    expect(() => subset(data.train, 0, 99999)).toThrow('subset: expected 0 <= start and start + count <= 256 (whole integers), found start 0, count 99999');
  });
  // The CLI's --train-size 0, -5, 1.5 and 99999: test/examples.test.ts ('a bad option is a clear error').
});

describe('8. options that were never checked', () => {
  it('a zero kernel, a NaN factor, a string alpha: errors naming the node and scope', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 8, 8, 1]);
    expect(() => layers.conv2d(x, { filters: 2, kernelSize: 0 })).toThrow('conv2d: kernelSize must be a positive integer or a pair of them, found 0');
    expect(() => g.scope('net', () => scale(x, Number.NaN))).toThrow(
      'net/scale (op scale, inputs [?,8,8,1] float32): factor must be a finite number, found NaN',
    );
    expect(() => leakyRelu(x, 'a' as never)).toThrow('leakyRelu (op leakyRelu, inputs [?,8,8,1] float32): alpha must be a finite number, found "a"');
    expect(() => g.scope('block', () => maxPool(x, { ksize: 2, strides: 0 }))).toThrow(
      'block/maxPool (op maxPool): strides must be a positive integer or a pair of them, found 0',
    );
  });

  it("a custom op's shape rule returning NaN, or its kernel throwing a TypeError, is tied to its node", () => {
    const g = new Graph();
    const x = g.placeholder('x', [2]);
    const nanShape = defineOp({ name: 'nanShape', inferShape: ([s]) => ({ shape: [Number.NaN], dtype: s.dtype }), forward: (_i, _a, ctx) => ctx.output() });
    expect(() => nanShape([x], {}, { name: 'mine' })).toThrow(ShapeError);
    expect(() => nanShape([x], {}, { name: 'mine' })).toThrow(
      'mine_1 (op nanShape, inputs [2] float32): the shape rule returned shape [null]; expected integer dimensions ≥ 0 (or -1 for unknown)',
    );
    const buggy = defineOp({
      name: 'buggy',
      inferShape: ([s]) => s,
      forward: () => {
        throw new TypeError('cannot read x of undefined');
      },
    });
    const y = buggy([x], {}, { name: 'custom' });
    expect(() => new Session(g).run(y, { x: tensor([1, 2]) })).toThrow(TypeError);
    expect(() => new Session(g).run(y, { x: tensor([1, 2]) })).toThrow('custom (op buggy, inputs [2] float32): cannot read x of undefined');
  });

  it('a feed whose shape reaches past its data is refused', () => {
    const g = new Graph();
    const x = g.placeholder('x', [-1, 4]);
    // An ndarray made by hand (wrap would refuse it) whose shape says more than its data holds.
    const short = ndarray(new Float32Array(6), [3, 4]);
    expect(() => new Session(g).run(add(x, x), { x: short })).toThrow(FeedError);
    expect(() => new Session(g).run(add(x, x), { x: short })).toThrow(
      'feed for x: its shape [3,4] (offset 0, strides [4,1]) reaches elements 0..11, but its data holds 6',
    );
  });
});

describe('9. leftovers of killed runs', () => {
  it("temporary checkpoint files of dead processes are removed when a run claims the folder; a live writer's are kept", () => {
    const dir = join(scratch, 'leftovers');
    mkdirSync(dir);
    writeFileSync(join(dir, 'checkpoint.safetensors.tmp-4194001-0a1b2c'), 'half');
    writeFileSync(join(dir, `checkpoint.safetensors.tmp-${process.ppid}-0a1b2c`), 'in progress');
    const claimed = claimRunFolder(dir);
    expect(claimed.removedLeftovers).toEqual(['checkpoint.safetensors.tmp-4194001-0a1b2c']);
    claimed.release();
    expect(readdirSync(dir)).toEqual([`checkpoint.safetensors.tmp-${process.ppid}-0a1b2c`]);
    expect(() => claimRunFolder('')).toThrow('run folder: expected a directory path, found ""');
  });
});

describe('10. kernel memory stays bounded', () => {
  it('300 trainers with different batch sizes, each disposed, hold no more kernel memory than the first few', async () => {
    const kernels = wasmKernels()!;
    const gc = (globalThis as { gc?: () => void }).gc!;
    const small = { train: subset(data.train, 0, 64), test: subset(data.test, 0, 16) };
    const used: number[] = [];
    for (let i = 0; i < 300; i++) {
      const trainer = new Trainer({ ...config, batchSize: 1 + ((i * 37) % 64) }, small, tiny);
      trainer.trainEpoch();
      trainer.dispose(); // the session's buffers go back now; weights and slots once they are unreachable
      if (i % 25 === 24) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 1)); // finalizers run between tasks
      }
      used.push(kernels.stats().tensorBytes);
    }
    expect(Math.max(...used.slice(100))).toBeLessThan(Math.max(...used.slice(0, 25)) + 4 * 2 ** 20);
  });
  // One session over 150 random batch sizes, and an allocation that cannot fit: test/kernels/wasm-runtime.test.ts.
});
