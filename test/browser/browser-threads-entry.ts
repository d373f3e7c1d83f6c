// The script the two-thread browser test loads into a cross-origin isolated
// page: starts a worker thread for the kernels, runs the workload, and leaves
// its result (or the error) where the test can read it.
import { wasmKernels } from '@ndgraph/ops/kernels';
import { enableWasmThreadsInBrowser } from '@ndgraph/ops/browser';
import { runLenetSteps } from './lenet-steps.ts';

const page = globalThis as { ndgraphResult?: unknown; ndgraphError?: string };
(async () => {
  const threads = await enableWasmThreadsInBrowser(2);
  const result = runLenetSteps();
  page.ndgraphResult = { threads, crossOriginIsolated: globalThis.crossOriginIsolated, callsWithHelpers: wasmKernels()!.stats().callsWithHelpers, ...result };
})().catch((error: unknown) => {
  page.ndgraphError = error instanceof Error ? `${error.name}: ${error.message}\n${error.stack}` : String(error);
});
