/**
 * TensorFlow.js, plain JavaScript backend (cpu): the LeNet-5 benchmark engine.
 * It is slow (tens of images per second), so it runs only a few steps.
 *
 *   npx tsx bench/tfjs-cpu.ts [--json] [--quick]
 */
import { exitWithError, type StepCounts } from './engine-common.ts';
import { runTfjsEngine } from './lenet-tfjs.ts';

const counts: StepCounts = { trainWarmup: 2, trainSteps: 3, inferWarmup: 1, inferBatches: 3, windows: 3 };
const quick: StepCounts = { trainWarmup: 1, trainSteps: 2, inferWarmup: 1, inferBatches: 1, windows: 1 };

await runTfjsEngine('cpu', counts, quick).catch(exitWithError);
