/**
 * Run by test/kernels/relaxed-simd.test.ts in a process of its own (the
 * relaxed kernels must be asked for before any module is compiled): asks for
 * them, then prints as JSON why not (or null), whether they loaded, and, for
 * each output of the seeded case, its largest difference from the JavaScript
 * kernels' over its largest magnitude.
 */
import { enableRelaxedSimd } from '@ndgraph/ops/node';
import { wasmKernels } from '@ndgraph/ops/kernels';
import { relaxedSimdCase } from './relaxed-simd-case.ts';

const refused = enableRelaxedSimd();
const outputs = relaxedSimdCase('wasm');
const relativeDifferences = relaxedSimdCase('js').map((want, k) => {
  const scale = Math.max(...want.map(Math.abs));
  return Math.max(...want.map((v, i) => Math.abs(outputs[k][i] - v))) / scale;
});
console.log(JSON.stringify({ refused, relaxedSimd: wasmKernels()?.relaxedSimd ?? false, relativeDifferences }));
