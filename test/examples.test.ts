/**
 * The example programs run as a user runs them (`npx tsx ...`), on small
 * settings, and print or write what their docs promise.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
    expect(stdout).toMatch(/training run: +biasAdd ×5, swish ×4, biasAddSwish ×0, swishGrad ×4/);
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
});
