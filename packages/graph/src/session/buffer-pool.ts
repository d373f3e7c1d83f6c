/**
 * The session's buffers, by dtype and length, taken from its backend. A
 * buffer is retained once per live value that uses it (a view such as
 * reshape shares its input's buffer) and goes back to the free list when its
 * count reaches zero; later steps and runs reuse it. Buffers not from the pool
 * (variables, constants, feeds) are never tracked.
 *
 * When a run had to allocate (its shapes were new), free buffers that no run
 * has taken for `IDLE_RUNS` runs go back to the backend, so a session whose
 * shapes keep changing (random batch sizes) holds only what its recent runs
 * need, while one that alternates between a few shapes (training and
 * evaluation) keeps its buffers.
 */
import type { Backend } from '../backend.ts';
import { type DType, dtypeOfArray, type TypedArray } from '../dtype.ts';

/** Runs a free buffer may wait to be reused before it is given back to the backend. */
export const IDLE_RUNS = 4;

export class BufferPool {
  private readonly free = new Map<string, TypedArray[]>();
  private readonly refs = new Map<TypedArray, number>();
  /** The run in which each free buffer was last released. */
  private readonly releasedIn = new Map<TypedArray, number>();
  private runs = 0;
  /** True when this run allocated a buffer (the steady state allocates none). */
  private grew = false;

  constructor(readonly backend: Backend) {}

  acquire(dtype: DType, size: number): TypedArray {
    let buf = this.free.get(`${dtype}:${size}`)?.pop();
    if (buf === undefined) {
      buf = this.backend.allocate(dtype, size);
      this.grew = true;
    }
    this.releasedIn.delete(buf);
    this.refs.set(buf, 0);
    return buf;
  }

  retain(buf: TypedArray): void {
    const r = this.refs.get(buf);
    if (r !== undefined) this.refs.set(buf, r + 1);
  }

  release(buf: TypedArray): void {
    const r = this.refs.get(buf);
    if (r === undefined) return;
    if (r <= 1) {
      this.refs.set(buf, 0);
      this.toFree(buf);
    } else {
      this.refs.set(buf, r - 1);
    }
  }

  /** Releases a buffer that no value holds (scratch, or an output the kernel did not return). */
  releaseIfUnheld(buf: TypedArray): void {
    if (this.refs.get(buf) === 0) this.toFree(buf);
  }

  owns(buf: TypedArray): boolean {
    return this.refs.has(buf);
  }

  /** True when a fetched value in `buf` must be copied out: it lives in the backend's own memory, which stays pooled. */
  mustCopyOut(buf: TypedArray): boolean {
    return this.backend.owns(buf);
  }

  /** Hands a buffer to the caller for good. */
  detach(buf: TypedArray): void {
    this.refs.delete(buf);
  }

  /** Ends a run: after a run that allocated, free buffers idle for IDLE_RUNS runs go back to the backend. */
  endRun(): void {
    this.runs++;
    if (!this.grew) return;
    this.grew = false;
    const idle = (buf: TypedArray) => this.runs - (this.releasedIn.get(buf) ?? this.runs) >= IDLE_RUNS;
    for (const [key, list] of this.free) {
      if (!list.some(idle)) continue;
      const kept = list.filter((buf) => !idle(buf));
      for (const buf of list) if (idle(buf)) this.giveBack(buf);
      if (kept.length) this.free.set(key, kept);
      else this.free.delete(key);
    }
  }

  /** Gives every buffer back to the backend and forgets them. */
  freeAll(): void {
    const all = new Set<TypedArray>(this.refs.keys());
    for (const list of this.free.values()) for (const buf of list) all.add(buf);
    this.free.clear();
    this.refs.clear();
    this.releasedIn.clear();
    for (const buf of all) this.backend.free(buf);
  }

  /** Buffers the pool holds and the bytes they take. */
  stats(): { buffers: number; bytes: number } {
    let buffers = 0;
    let bytes = 0;
    for (const buf of this.refs.keys()) {
      buffers++;
      bytes += buf.byteLength;
    }
    return { buffers, bytes };
  }

  private giveBack(buf: TypedArray): void {
    this.refs.delete(buf);
    this.releasedIn.delete(buf);
    this.backend.free(buf);
  }

  private toFree(buf: TypedArray): void {
    const key = `${dtypeOfArray(buf)}:${buf.length}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    if (!list.includes(buf)) list.push(buf);
    this.releasedIn.set(buf, this.runs);
  }
}
