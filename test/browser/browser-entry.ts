// The script the browser test loads into the page: runs the workload and
// leaves its result (or the error) where the test can read it.
import { runLenetSteps } from './lenet-steps.ts';

const page = globalThis as { ndgraphResult?: unknown; ndgraphError?: string };
try {
  page.ndgraphResult = runLenetSteps();
} catch (error) {
  page.ndgraphError = error instanceof Error ? `${error.name}: ${error.message}\n${error.stack}` : String(error);
}
