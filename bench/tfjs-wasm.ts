/**
 * TensorFlow.js, WebAssembly backend (SIMD, one thread under Node): the LeNet-5
 * benchmark engine. Checks the Conv2DBackpropFilter kernel the benchmark adds
 * (see tfjs-setup.ts) against the cpu backend before measuring.
 *
 *   npx tsx bench/tfjs-wasm.ts [--json] [--quick]
 */
import { exitWithError, type StepCounts } from './engine-common.ts';
import { runTfjsEngine } from './lenet-tfjs.ts';

const counts: StepCounts = { trainWarmup: 10, trainSteps: 60, inferWarmup: 3, inferBatches: 30, windows: 5 };
const quick: StepCounts = { trainWarmup: 5, trainSteps: 20, inferWarmup: 2, inferBatches: 10, windows: 3 };

await runTfjsEngine('wasm', counts, quick).catch(exitWithError);
