/**
 * Per-op profile of one ndgraph LeNet-5 training step (batch 64, momentum SGD).
 *
 *   pnpm run profile                  # writes bench/results/profile-current.json
 *   pnpm run profile --label before   # writes bench/results/profile-before.json
 *   pnpm run profile --steps 50 --warmup 20
 *   pnpm run profile --quick
 *   pnpm run profile --threads 2      # kernels split their work with a helper thread
 *   pnpm run profile --label after --note 'conv kernels in wasm'   # the note is stored with the results
 *
 * (`pnpm run profile`: a bare `pnpm profile` is npm's own `npm profile` command.)
 *
 * After warm-up steps, runs N steps with the session's `onTime` hook, which
 * reports each computed node's kernel time, each followed by a step without it
 * (the real step time, to show what profiling costs). Kernel time is grouped by op and by pass (a
 * node is backward when its name starts with 'gradients/'). The time outside
 * kernels gets its own rows — copying the batch, the executor's own work
 * inside `session.run`, the optimizer step, and the rest of the loop — so
 * that the rows add up to the whole (instrumented) step.
 */
import { join, relative } from 'node:path';
import type { Node, OpDef } from '@ndgraph/graph';
import { RESULTS_DIR, buildBenchData, codeVersion, formatTable, loadAverage, machineInfo, round2, writeJson } from './common.ts';
import { LEARNING_RATE, MOMENTUM, TRAIN_BATCH, argValue, hasFlag, numberArg } from './engine-common.ts';
import { ndgraphLenet, type StepTimes } from './ndgraph-lenet.ts';
import { enableWasmThreads } from '@ndgraph/ops/node';

type Pass = 'forward' | 'backward';

interface OpRow {
  op: string;
  pass: Pass | 'outside kernels';
  /** Kernel calls per step (nodes of this op in the plan). */
  calls: number;
  msPerStep: number;
  percentOfStep: number;
}

function main(): void {
  const quick = hasFlag('quick');
  const label = argValue('label') ?? 'current';
  if (!/^[A-Za-z0-9._-]+$/.test(label)) throw new Error(`--label: expected letters, digits, '.', '_' or '-', found '${label}'`);
  const warmup = numberArg('warmup', quick ? 10 : 50);
  const steps = Math.max(1, numberArg('steps', quick ? 10 : 40));
  const loadAtStart = loadAverage();

  const requestedThreads = numberArg('threads', 1);
  const threads = enableWasmThreads(requestedThreads);
  if (threads !== requestedThreads) throw new Error(`--threads ${requestedThreads}: the kernels can only use ${threads} thread(s) here`);
  const model = ndgraphLenet(buildBenchData());
  for (let i = 0; i < warmup; i++) model.trainStep();

  // Steps with per-node kernel times, each followed by one without (the real
  // step time): alternating them lets a burst of load on a shared machine hit both alike.
  // Keyed by node; `op` is the op whose kernel ran (a fused one where the planner fused the node).
  const perNode = new Map<Node, { op: string; ms: number; calls: number }>();
  const onTime = (node: Node, ms: number, op: OpDef): void => {
    const entry = perNode.get(node);
    if (entry) {
      entry.ms += ms;
      entry.calls++;
    } else {
      perNode.set(node, { op: op.name, ms, calls: 1 });
    }
  };
  const profiled: StepTimes = { batching: 0, sessionRun: 0, optimizer: 0, total: 0 };
  const plain: StepTimes = { batching: 0, sessionRun: 0, optimizer: 0, total: 0 };
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  for (let i = 0; i < steps; i++) {
    model.trainStep(profiled, onTime);
    model.trainStep(plain);
  }
  const cpuUsed = process.cpuUsage(cpuBefore);
  // Process CPU time over wall time: about 1 when this single-threaded loop had a core to itself.
  const cpuShare = (cpuUsed.user + cpuUsed.system) / 1000 / (performance.now() - wallBefore);
  const loadAtEnd = loadAverage();

  const stepMs = profiled.total / steps;
  const passOf = (node: Node): Pass => (node.name.startsWith('gradients/') ? 'backward' : 'forward');
  const groups = new Map<string, { op: string; pass: Pass; ms: number; calls: number }>();
  let kernelMs = 0;
  const passMs: Record<Pass, number> = { forward: 0, backward: 0 };
  for (const [node, { op, ms, calls }] of perNode) {
    const pass = passOf(node);
    const key = `${op}\u0000${pass}`;
    const g = groups.get(key) ?? { op, pass, ms: 0, calls: 0 };
    g.ms += ms;
    g.calls += calls;
    groups.set(key, g);
    kernelMs += ms;
    passMs[pass] += ms;
  }
  kernelMs /= steps;

  const row = (op: string, pass: OpRow['pass'], calls: number, msPerStep: number): OpRow => ({
    op,
    pass,
    calls,
    msPerStep,
    percentOfStep: (100 * msPerStep) / stepMs,
  });
  const kernelRows = [...groups.values()].map((g) => row(g.op, g.pass, g.calls / steps, g.ms / steps));
  const sessionRunMs = profiled.sessionRun / steps;
  const batchingMs = profiled.batching / steps;
  const optimizerMs = profiled.optimizer / steps;
  const outsideRows = [
    row('(batching: copy the next batch)', 'outside kernels', 1, batchingMs),
    row('(executor: session.run minus kernels)', 'outside kernels', 1, sessionRunMs - kernelMs),
    row('(optimizer step: momentum update)', 'outside kernels', 1, optimizerMs),
    row('(rest of the loop: loss check, gradient hand-over)', 'outside kernels', 1, stepMs - batchingMs - sessionRunMs - optimizerMs),
  ];
  const rows = [...kernelRows, ...outsideRows].sort((a, b) => b.msPerStep - a.msPerStep);
  const sum = rows.reduce((s, r) => s + r.msPerStep, 0);

  const plainStepMs = plain.total / steps;
  console.log(
    `ndgraph LeNet-5 training step, batch ${TRAIN_BATCH}, ${threads} thread(s): per-op profile over ${steps} steps after ${warmup} warm-up steps (label '${label}')`,
  );
  console.log(
    formatTable(
      ['op', 'pass', 'calls/step', 'ms/step', '% of step'],
      rows.map((r) => [r.op, r.pass, r.calls % 1 === 0 ? String(r.calls) : r.calls.toFixed(2), r.msPerStep.toFixed(3), r.percentOfStep.toFixed(1)]),
      2,
    ),
  );
  console.log(
    formatTable(
      ['total', '', '', 'ms/step', '% of step'],
      [
        ['forward kernels', '', '', (passMs.forward / steps).toFixed(3), ((100 * passMs.forward) / steps / stepMs).toFixed(1)],
        ['backward kernels', '', '', (passMs.backward / steps).toFixed(3), ((100 * passMs.backward) / steps / stepMs).toFixed(1)],
        ['outside kernels', '', '', (stepMs - kernelMs).toFixed(3), ((100 * (stepMs - kernelMs)) / stepMs).toFixed(1)],
        ['sum of rows', '', '', sum.toFixed(3), ((100 * sum) / stepMs).toFixed(1)],
        ['step (profiled)', '', '', stepMs.toFixed(3), `${((1000 * TRAIN_BATCH) / stepMs).toFixed(0)} img/s`],
        ['step (not profiled)', '', '', plainStepMs.toFixed(3), `${((1000 * TRAIN_BATCH) / plainStepMs).toFixed(0)} img/s`],
      ],
    ),
  );
  console.log(`load average (1, 5, 15 min): start ${loadAtStart.join(' ')}, end ${loadAtEnd.join(' ')}; CPU share ${(100 * cpuShare).toFixed(0)}%`);
  if (cpuShare < 0.9) console.log('WARNING: CPU share below 90%: other work on the machine took the CPU during the measured steps; rerun when it is quieter.');

  const nodes = [...perNode.entries()]
    .map(([node, { op, ms, calls }]) => ({
      name: node.name,
      op,
      pass: passOf(node),
      shape: node.shape,
      callsPerStep: calls / steps,
      msPerStep: ms / steps,
    }))
    .sort((a, b) => b.msPerStep - a.msPerStep);
  const file = join(RESULTS_DIR, `profile-${label}.json`);
  writeJson(file, {
    benchmark: 'ndgraph LeNet-5 training step: per-op profile',
    label,
    date: new Date().toISOString(),
    quick,
    settings: {
      threads,
      batch: TRAIN_BATCH,
      optimizer: { name: 'momentum', learningRate: LEARNING_RATE, momentum: MOMENTUM },
      dtype: 'float32',
      warmupSteps: warmup,
      profiledSteps: steps,
      unprofiledSteps: steps,
    },
    machine: machineInfo(),
    code: codeVersion(argValue('note')),
    loadAverage: { start: loadAtStart, end: loadAtEnd },
    cpuShare,
    stepMs: {
      profiled: stepMs,
      notProfiled: plainStepMs,
      kernels: kernelMs,
      forwardKernels: passMs.forward / steps,
      backwardKernels: passMs.backward / steps,
      outsideKernels: stepMs - kernelMs,
    },
    imagesPerSecond: { profiled: (1000 * TRAIN_BATCH) / stepMs, notProfiled: (1000 * TRAIN_BATCH) / plainStepMs },
    rows,
    nodes,
    notes: [
      "Kernel time is what the session's onTime hook reports per node: the op's run-time shape check plus its forward kernel.",
      "A node is 'backward' when its name starts with 'gradients/'.",
      'Rows marked outside kernels are measured around the calls of the training loop; all rows add up to the profiled step.',
      'cpuShare is process CPU time over wall time while measuring: about 1 when the loop had a core to itself.',
    ],
    lastLoss: round2(model.losses[model.losses.length - 1] * 1e4) / 1e4,
  });
  console.log(`wrote ${relative(process.cwd(), file)}`);
}

main();
