/**
 * Run by test/kernels/relaxed-simd.test.ts in a process of its own (the
 * relaxed kernels must be asked for before any module is compiled): asks for
 * them, then prints as JSON why not (or null), whether they loaded, and a
 * conv2d + relu and a matmul on the seeded inputs the test computes too.
 */
import { enableRelaxedSimd } from '@ndgraph/ops/node';
import { wasmKernels } from '@ndgraph/ops/kernels';
import { relaxedSimdCase } from './relaxed-simd-case.ts';

const refused = enableRelaxedSimd();
const outputs = relaxedSimdCase('wasm');
console.log(JSON.stringify({ refused, relaxedSimd: wasmKernels()?.relaxedSimd ?? false, outputs }));
process.exit(0);
