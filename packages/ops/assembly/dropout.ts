// dropoutMask's draws in training mode: the mask of inverted dropout, from
// the run's seeded generator, with the bits of the JavaScript kernel
// (ops/dropout.ts). The generator is xoshiro128** as in @ndgraph/graph's Rng:
// its four 32-bit state words come in through memory and go back updated, so
// the host's generator continues where the kernel stopped. The draws form one
// sequence, so this kernel runs on one thread.

/** mask[i] = u_i / 2³² ≥ rate ? kept : 0 for i < n, u_i the generator's next output (state: four u32, updated in place). */
export function dropoutMaskDraw(mask: usize, n: i32, rate: f64, kept: f32, state: usize): void {
  let s0 = load<u32>(state), s1 = load<u32>(state, 4), s2 = load<u32>(state, 8), s3 = load<u32>(state, 12);
  for (let i = 0; i < n; i++) {
    const output = rotl<u32>(s1 * 5, 7) * 9;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl<u32>(s3, 11);
    store<f32>(mask + (<usize>i << 2), <f64>output / 4294967296.0 >= rate ? kept : 0);
  }
  store<u32>(state, s0);
  store<u32>(state, s1, 4);
  store<u32>(state, s2, 8);
  store<u32>(state, s3, 12);
}
