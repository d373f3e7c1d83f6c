/**
 * Runs a test project on one backend (as tfjs runs its op tests on every
 * backend): NDGRAPH_TEST_BACKEND names it, and every graph and session the
 * tests make uses it. The project fails at once when that backend cannot run
 * here, rather than quietly testing another.
 */
import { getBackend, setBackend } from '@ndgraph/graph';
import '@ndgraph/ops';

const wanted = process.env.NDGRAPH_TEST_BACKEND;
if (!wanted) throw new Error('test/setup/backend.ts: set NDGRAPH_TEST_BACKEND (the vitest project does)');
setBackend(wanted);
if (getBackend().name !== wanted) throw new Error(`the tests asked for backend '${wanted}', but got '${getBackend().name}'`);
