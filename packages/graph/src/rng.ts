/**
 * Seeded random numbers: xoshiro128** (Blackman & Vigna, 2018), a 128-bit-state
 * generator with 32-bit output, seeded through splitmix32 so that nearby seeds
 * give unrelated streams. Pure 32-bit integer arithmetic (Math.imul), so the
 * same seed gives the same numbers bit for bit on every JavaScript engine.
 */
import { DataError } from './errors.ts';

export type RngState = [number, number, number, number];

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spareNormal: number | null = null;

  constructor(seed = 0) {
    this.reseed(seed);
  }

  reseed(seed: number): void {
    if (!Number.isFinite(seed)) throw new RangeError(`Rng seed must be a finite number, found ${seed}`);
    const next = splitmix32((Math.floor(seed) >>> 0) ^ Math.floor(seed / 2 ** 32));
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
    this.spareNormal = null;
  }

  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal by the Box–Muller transform (the second value is kept for the next call). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    const u1 = (this.nextUint32() + 0.5) / 4294967296; // in (0,1): log is finite
    const u2 = this.nextUint32() / 4294967296;
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spareNormal = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** A new generator whose stream is derived from this one (advances this one by two draws). */
  fork(): Rng {
    const child = new Rng(0);
    child.reseed(this.nextUint32() * 4294967296 + this.nextUint32());
    return child;
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: { length: number; [i: number]: T }): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
  }

  /** The full state, to save in a checkpoint. */
  getState(): { words: RngState; spareNormal: number | null } {
    return { words: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0], spareNormal: this.spareNormal };
  }

  setState(state: { words: RngState; spareNormal: number | null }): void {
    const words = state?.words;
    if (!Array.isArray(words) || words.length !== 4 || !words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)) {
      throw new DataError(`Rng.setState: expected words to be 4 unsigned 32-bit integers, found ${JSON.stringify(words)}`);
    }
    if (words.every((w) => w === 0)) throw new DataError('Rng.setState: the state words are all zero, which xoshiro128** never reaches (a corrupted state)');
    if (state.spareNormal !== null && !Number.isFinite(state.spareNormal)) {
      throw new DataError(`Rng.setState: expected spareNormal to be a finite number or null, found ${JSON.stringify(state.spareNormal)}`);
    }
    [this.s0, this.s1, this.s2, this.s3] = words.map((w) => w | 0) as RngState;
    this.spareNormal = state.spareNormal;
  }
}
