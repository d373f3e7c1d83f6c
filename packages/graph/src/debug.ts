/**
 * '@ndgraph/graph/debug': statistics for benchmarks and memory investigations,
 * kept out of the main API.
 *
 * @module @ndgraph/graph/debug
 */
import { poolOf, type Session } from './session/session.ts';

/** How many buffers a session's pool holds and how many bytes they take, and on which backend. */
export function sessionMemory(session: Session): { buffers: number; bytes: number; backend: string } {
  const pool = poolOf.get(session);
  if (!pool) throw new Error('sessionMemory: expected a Session');
  return { ...pool.stats(), backend: pool.backend.name };
}
