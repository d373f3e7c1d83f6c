// The relaxed-SIMD variant of the kernels' sources: every accumulation
// `s = f32x4.add(s, f32x4.mul(a, b))` (the GEMM and convolution
// micro-kernels) becomes `s = f32x4.relaxed_madd(a, b, s)`, which engines
// may lower to a fused multiply-add: faster, and rounded once instead of
// twice, so its results differ from the plain module's in the last bits.
// Used by scripts/build-wasm.mjs (the opt-in module) and bench/relaxed-simd.ts.

/** `s = f32x4.add(s, f32x4.mul(a, b))` with plain names: an accumulation into s. */
export const ACCUMULATION = /\b([A-Za-z_]\w*) = f32x4\.add\(\1, f32x4\.mul\(([A-Za-z_]\w*), ([A-Za-z_]\w*)\)\)/g;

/** The source with its accumulations rewritten, and how many there were. */
export function toRelaxed(source) {
  let count = 0;
  const text = source.replace(ACCUMULATION, (_match, s, a, b) => {
    count++;
    return `${s} = f32x4.relaxed_madd(${a}, ${b}, ${s})`;
  });
  return { text, count };
}
