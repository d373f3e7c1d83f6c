import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, tensor, type Tensor } from '@ndgraph/graph';
import { Trainer, batches, subset, type Dataset } from '@ndgraph/nn';
import { loadEmbeddedMnist } from '@ndgraph/nn/node';
import {
  STUDIES,
  STUDY_NAMES,
  activationStats,
  oneStandardErrorChoice,
  inactiveRule,
  l2Norm,
  layerOfNode,
  meanStd,
  runStudy,
  studyByName,
  variantTrainConfig,
  type Study,
  type StudyResult,
} from '../../examples/studies/index.ts';
import { readStudyResult, writeStudyFiles } from '../../examples/studies/study-files.ts';

// Tiny versions of every study: 128 training / 64 test images, 1 epoch, 2 seeds.
const EPOCHS = 1;
const SEEDS = [0, 1];
const FLOW_EVERY = 1;
let data: { train: Dataset; test: Dataset };
let dir: string;
const results = new Map<string, StudyResult>();

beforeAll(async () => {
  const full = loadEmbeddedMnist({ seed: 0 });
  data = { train: subset(full.train, 0, 128), test: subset(full.test, 0, 64) };
  dir = mkdtempSync(join(tmpdir(), 'ndgraph-studies-'));
  for (const study of STUDIES) {
    const result = runStudy(study, data, { epochs: EPOCHS, seeds: SEEDS, gradientFlowEvery: FLOW_EVERY });
    results.set(study.name, result);
    await writeStudyFiles(dir, result, { command: `pnpm compare ${study.name}` });
  }
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('meanStd', () => {
  it('gives the mean and the sample standard deviation', () => {
    // mean 0.95; deviations ±0.05, 0 → variance (0.0025 + 0 + 0.0025) / (3 − 1) = 0.0025 → std 0.05
    const m = meanStd([0.9, 0.95, 1.0]);
    expect(m.n).toBe(3);
    expect(m.mean).toBeCloseTo(0.95, 12);
    expect(m.std).toBeCloseTo(0.05, 12);
    expect(meanStd([0.7])).toEqual({ mean: 0.7, std: null, n: 1 });
    expect(meanStd([])).toEqual({ mean: null, std: null, n: 0 });
  });
});

describe('dead / saturated unit statistics', () => {
  it('counts inactive outputs and units that are inactive for the whole batch (units on the last axis)', () => {
    // [2 examples, 2 positions, 3 units]; unit 0 is 0 everywhere, unit 1 is 0 in 3 of 4 places, unit 2 never.
    const y = tensor([0, 0, 1, 0, 2, 3, 0, 0, 4, 0, 0, 5], [2, 2, 3]);
    const s = activationStats(y, inactiveRule('relu'));
    expect(s.inactiveFraction).toBeCloseTo(7 / 12, 12);
    expect(s.deadUnitFraction).toBeCloseTo(1 / 3, 12);
  });
  it('uses the stated thresholds: sigmoid outside [0.01, 0.99], |tanh| > 0.99, leaky relu and elu ≤ 0', () => {
    const sig = inactiveRule('sigmoid');
    expect([0.005, 0.01, 0.5, 0.99, 0.995].map((v) => sig.isInactive(v))).toEqual([true, false, false, false, true]);
    const th = inactiveRule('tanh');
    expect([-0.995, -0.99, 0, 0.99, 0.999].map((v) => th.isInactive(v))).toEqual([true, false, false, false, true]);
    expect([-0.01, 0, 0.01].map((v) => inactiveRule('leakyRelu').isInactive(v))).toEqual([true, true, false]);
    expect([-0.5, 0, 0.5].map((v) => inactiveRule('elu').isInactive(v))).toEqual([true, true, false]);
    expect([0, 1e-30].map((v) => inactiveRule('relu').isInactive(v))).toEqual([true, false]);
  });
  it('measures gradient norms and names layers from node names', () => {
    expect(l2Norm(tensor([3, -4, 0, 0], [2, 2]))).toBe(5);
    expect(layerOfNode('lenet/conv1/relu')).toBe('conv1');
    expect(layerOfNode('lenet/fc2/dense/w')).toBe('fc2');
    expect(layerOfNode('lenet/logits/w')).toBe('logits');
  });
});

describe('study runs (tiny)', () => {
  it('writes JSON, Markdown, SVG and PNG for every study, with one table row per configuration', () => {
    for (const name of STUDY_NAMES) {
      const study = studyByName(name);
      const json = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as StudyResult;
      expect(json.format).toBe('ndgraph-study/1');
      expect(json.study).toBe(name);
      expect(json.settings).toEqual({ epochs: EPOCHS, seeds: SEEDS, trainSize: 128, testSize: 64, batchSize: 64 });
      expect(json.variants.map((v) => v.id)).toEqual(study.variants.map((v) => v.id));
      for (const v of json.variants) {
        expect(v.runs.map((r) => r.seed)).toEqual(SEEDS);
        expect(v.epochs).toHaveLength(EPOCHS);
        expect(v.stepLoss).toHaveLength(2); // 128 images, batch 64
        expect(Object.keys(v.summary).sort()).toEqual([
          'bestEpoch',
          'bestTestAccuracy',
          'divergedRuns',
          'finalTestAccuracy',
          'finalTestLoss',
          'imagesPerSecond',
          'runs',
          'secondsPerRun',
        ]);
        for (const r of v.runs) expect(Object.keys(r).sort()).toEqual(['diverged', 'epochs', 'imagesPerSecond', 'learningRate', 'seconds', 'seed']);
      }

      const md = readFileSync(join(dir, `${name}.md`), 'utf8');
      const header = md.split('\n').findIndex((l) => l.startsWith('| configuration |'));
      expect(header).toBeGreaterThan(0);
      const rows = md
        .split('\n')
        .slice(header + 2)
        .filter((l, i, all) => l.startsWith('|') && all.slice(0, i).every((x) => x.startsWith('|')));
      expect(rows.map((r) => r.split(' | ')[0].slice(2))).toEqual(study.variants.map((v) => v.label));
      expect(md).toContain(`\`pnpm compare ${name}\``);

      const svg = readFileSync(join(dir, `${name}.svg`), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      for (const v of study.variants) expect(svg).toContain(v.label.replace(/&/g, '&amp;'));
      const png = readFileSync(join(dir, `${name}.png`));
      expect([...png.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
      expect(existsSync(join(dir, `${name}-gradient-flow.svg`))).toBe(name === 'activations');
    }
  });

  it('reads the JSON back for redrawing, and rejects files that are not study results', () => {
    const back = readStudyResult(join(dir, 'losses.json'));
    const original = results.get('losses')!;
    expect(back.variants.map((v) => v.summary.finalTestAccuracy.mean)).toEqual(
      original.variants.map((v) => Number(v.summary.finalTestAccuracy.mean!.toPrecision(6))),
    );
    expect(back.variants[0].stepLoss).toHaveLength(original.variants[0].stepLoss.length);
    expect(() => readStudyResult(join(dir, 'losses.md'))).toThrow(/could not read study results/);
  });

  it('summarizes each configuration as the mean ± sample std of its seeds', () => {
    for (const result of results.values()) {
      for (const v of result.variants) {
        const finals = v.runs.filter((r) => !r.diverged).map((r) => r.epochs[r.epochs.length - 1].testAccuracy);
        const mean = finals.reduce((a, b) => a + b, 0) / finals.length;
        expect(v.summary.finalTestAccuracy.mean).toBeCloseTo(mean, 12);
        if (finals.length === 2) expect(v.summary.finalTestAccuracy.std).toBeCloseTo(Math.abs(finals[0] - finals[1]) / Math.SQRT2, 12);
        expect(v.epochs[0].testAccuracy.mean).toBeCloseTo(mean, 12);
      }
    }
  });

  it('seeds every configuration identically: the same configuration in different studies trains to the same numbers', () => {
    // He init, relu, cross-entropy, momentum 0.05, no extras: the base configuration appears in four studies.
    const same = [
      results.get('initializers')!.variants.find((v) => v.id === 'he-relu')!,
      results.get('activations')!.variants.find((v) => v.id === 'relu')!, // this one also runs with the gradient-flow monitor attached
      results.get('losses')!.variants.find((v) => v.id === 'cross-entropy')!,
      results.get('tricks')!.variants.find((v) => v.id === 'plain')!,
    ];
    const numbers = (v: (typeof same)[number]) => v.runs.map((r) => r.epochs.map((e) => [e.trainLoss, e.testLoss, e.testAccuracy]));
    for (const v of same.slice(1)) {
      expect(numbers(v)).toEqual(numbers(same[0]));
      expect(v.stepLoss).toEqual(same[0].stepLoss);
    }
    // ...while different seeds do differ.
    expect(numbers(same[0])[0]).not.toEqual(numbers(same[0])[1]);
  });

  it('picks each optimizer rate from the sweep by validation accuracy, never looking at the test set', () => {
    const result = results.get('optimizers')!;
    const study = studyByName('optimizers');
    const sweep = result.sweep!;
    expect(sweep.epochs).toBe(EPOCHS); // as long as the study's runs
    expect(sweep.validationSize).toBe(16); // 12.5% of 128
    expect(sweep.trainSize).toBe(112);
    expect(sweep.trials).toHaveLength(Object.values(study.sweep!.candidates).reduce((n, r) => n + r.length, 0));
    for (const v of result.variants) {
      const trials = sweep.trials.filter((t) => t.variant === v.id);
      expect(trials.map((t) => t.learningRate)).toEqual(study.sweep!.candidates[v.id]);
      // One-standard-error rule on 16 validation images: the smallest rate within √(p(1 − p)/16) of the best p.
      const p = Math.max(...trials.filter((t) => t.validationAccuracy !== null).map((t) => t.validationAccuracy!));
      const withinOneError = trials.filter((t) => t.validationAccuracy !== null && t.validationAccuracy >= p - Math.sqrt((p * (1 - p)) / 16));
      const expected = Math.min(...withinOneError.map((t) => t.learningRate));
      expect(sweep.chosen[v.id]).toBe(expected);
      expect(v.config.learningRate).toBe(expected);
      expect(v.runs.every((r) => r.learningRate === expected)).toBe(true);
    }
    const md = readFileSync(join(dir, 'optimizers.md'), 'utf8');
    expect(md).toContain('Learning-rate sweep');
  });

  it('records dead units and gradient norms that match a separate forward/backward pass', () => {
    const study = studyByName('activations');
    const result = results.get('activations')!;
    for (const variant of study.variants) {
      const flow = result.variants.find((v) => v.id === variant.id)!.gradientFlow!;
      expect(flow.layers).toEqual(['conv1', 'conv2', 'fc1', 'fc2', 'logits']);
      expect(flow.points.filter((p) => p.layer === 'conv1').map((p) => p.step)).toEqual([1, 2]);
      // Step 1 again, by hand: same seed, same first batch, fetch the activation and the gradient.
      const perSeed = SEEDS.map((seed) => {
        const config = variantTrainConfig(study, variant, EPOCHS, seed);
        const trainer = new Trainer(config, data);
        const batch = batches(data.train, config.batchSize, new Rng(seed + 2)).next().value!;
        // relu is fused into the dense layer's matmulBiasRelu node; the others are nodes of their own.
        const activationOps = variant.config.model!.activation === 'relu' ? ['relu', 'matmulBiasRelu'] : [variant.config.model!.activation as string];
        const act = trainer.graph.nodes.find((n) => n.name.startsWith('lenet/fc1/') && activationOps.includes(n.op.name))!;
        const wIndex = trainer.parameters.findIndex((p) => p.name === 'lenet/conv1/conv/w');
        const [y, g] = trainer.session.run(
          [act, trainer.gradients[wIndex]],
          [
            [trainer.images, batch.images],
            [trainer.labels, batch.labels],
          ],
          { training: true },
        ) as Tensor[];
        let inactive = 0;
        for (let i = 0; i < y.size; i++) {
          const v = y.data[y.offset + i];
          const off = { relu: v === 0, leakyRelu: v <= 0, elu: v <= 0, sigmoid: v < 0.01 || v > 0.99, tanh: Math.abs(v) > 0.99 }[variant.id as 'relu'];
          if (off) inactive++;
        }
        let squares = 0;
        for (let i = 0; i < g.size; i++) squares += g.data[g.offset + i] ** 2;
        return { inactive: inactive / y.size, norm: Math.sqrt(squares) };
      });
      const at = (layer: string) => flow.points.find((p) => p.step === 1 && p.layer === layer)!;
      expect(at('fc1').inactiveFraction).toBeCloseTo((perSeed[0].inactive + perSeed[1].inactive) / 2, 10);
      expect(at('conv1').gradientNorm! / ((perSeed[0].norm + perSeed[1].norm) / 2)).toBeCloseTo(1, 5);
      expect(at('logits').inactiveFraction).toBeNull();
    }
    const md = readFileSync(join(dir, 'activations.md'), 'utf8');
    expect(md).toContain('Weight-gradient norm');
    expect(readFileSync(join(dir, 'activations-gradient-flow.png')).subarray(1, 4).toString()).toBe('PNG');
  });

  it('chooses the smallest rate within one standard error of the best validation accuracy', () => {
    const trial = (learningRate: number, validationAccuracy: number | null) => ({
      variant: 'x',
      learningRate,
      validationAccuracy,
      validationLoss: null,
      diverged: validationAccuracy === null,
    });
    // Best 0.93 on 1,000 images: one standard error is √(0.93 · 0.07 / 1000) ≈ 0.00807, so 0.926 is within it and 0.918 is not.
    expect(oneStandardErrorChoice([trial(0.01, 0.918), trial(0.03, 0.926), trial(0.1, 0.93)], 1000)).toBe(0.03);
    expect(oneStandardErrorChoice([trial(0.01, 0.918), trial(0.03, 0.92), trial(0.1, 0.93)], 1000)).toBe(0.1);
    expect(oneStandardErrorChoice([trial(0.01, null), trial(0.1, null)], 1000)).toBeNull();
  });

  it('records a run whose loss blows up as diverged instead of failing the study', () => {
    const blowUp: Study = {
      name: 'losses',
      title: 'diverging',
      question: 'does it diverge?',
      base: { ...studyByName('losses').base, optimizer: 'sgd' },
      variants: [{ id: 'huge', label: 'lr 1e9', config: { learningRate: 1e9 } }],
    };
    const result = runStudy(blowUp, { train: subset(data.train, 0, 64), test: data.test }, { epochs: 2, seeds: [0] });
    const v = result.variants[0];
    expect(v.runs[0].diverged).not.toBeNull();
    expect(v.summary.divergedRuns).toBe(1);
    expect(v.summary.finalTestAccuracy.n).toBe(0);
  });
});
