// Optimizer updates over flat float32 arrays, computed in float64 exactly as
// the JavaScript optimizers of @ndgraph/nn compute them (each float32 read
// widened, the arithmetic in float64 in the same order, rounded once when
// stored), so both paths give the same bits.

const F32: usize = 4;

/**
 * Momentum SGD for `count` elements:
 *   g ← grad + decay·w;  v ← μ·v − lr·g;  w ← w + v
 * where the new w adds the unrounded v (as the JavaScript loop does).
 */
export function momentumStep(w: usize, grad: usize, velocity: usize, count: i32, mu: f64, lr: f64, decay: f64): void {
  const vMu = f64x2.splat(mu), vLr = f64x2.splat(lr), vDecay = f64x2.splat(decay);
  let i = 0;
  // Two floats at a time: widened to one f64x2, narrowed back on store.
  for (; i + 2 <= count; i += 2) {
    const at = <usize>i * F32;
    const wide = f64x2.promote_low_f32x4(v128.load64_zero(w + at));
    const g = f64x2.add(f64x2.promote_low_f32x4(v128.load64_zero(grad + at)), f64x2.mul(vDecay, wide));
    const v = f64x2.sub(f64x2.mul(vMu, f64x2.promote_low_f32x4(v128.load64_zero(velocity + at))), f64x2.mul(vLr, g));
    v128.store64_lane(velocity + at, f32x4.demote_f64x2_zero(v), 0);
    v128.store64_lane(w + at, f32x4.demote_f64x2_zero(f64x2.add(wide, v)), 0);
  }
  for (; i < count; i++) {
    const at = <usize>i * F32;
    const wide = <f64>load<f32>(w + at);
    const g = <f64>load<f32>(grad + at) + decay * wide;
    const v = mu * <f64>load<f32>(velocity + at) - lr * g;
    store<f32>(velocity + at, <f32>v);
    store<f32>(w + at, <f32>(wide + v));
  }
}

/**
 * Adam (and AdamW) for `count` elements, as the JavaScript loop computes it:
 *   g ← grad + coupledDecay·w;  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g·g
 *   w ← w − lr·(m̂ / (√v̂ + ε) + decoupledDecay·w),  m̂ = m / correction1, v̂ = v / correction2
 * with m̂ and v̂ from the unrounded m and v.
 */
export function adamStep(
  w: usize, grad: usize, m: usize, v: usize, count: i32,
  beta1: f64, beta2: f64, lr: f64, epsilon: f64, correction1: f64, correction2: f64, coupledDecay: f64, decoupledDecay: f64,
): void {
  for (let i = 0; i < count; i++) {
    const at = <usize>i * F32;
    const wide = <f64>load<f32>(w + at);
    const g = <f64>load<f32>(grad + at) + coupledDecay * wide;
    const mi = beta1 * <f64>load<f32>(m + at) + (1 - beta1) * g;
    const vi = beta2 * <f64>load<f32>(v + at) + (1 - beta2) * g * g;
    store<f32>(m + at, <f32>mi);
    store<f32>(v + at, <f32>vi);
    const mHat = mi / correction1;
    const vHat = vi / correction2;
    store<f32>(w + at, <f32>(wide - lr * (mHat / (Math.sqrt(vHat) + epsilon) + decoupledDecay * wide)));
  }
}
