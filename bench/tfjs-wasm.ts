/**
 * TensorFlow.js, WebAssembly backend (SIMD, one thread under Node): the LeNet-5
 * benchmark engine. Checks the Conv2DBackpropFilter kernel the benchmark adds
 * (see tfjs-setup.ts) against the cpu backend before measuring.
 *
 *   npx tsx bench/tfjs-wasm.ts [--json] [--quick]
 */
import { FAST_ENGINE_COUNTS, FAST_ENGINE_QUICK_COUNTS, exitWithError } from './engine-common.ts';
import { runTfjsEngine } from './lenet-tfjs.ts';

await runTfjsEngine('wasm', FAST_ENGINE_COUNTS, FAST_ENGINE_QUICK_COUNTS).catch(exitWithError);
