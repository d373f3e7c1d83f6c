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
  let i = 0;
  for (; i + 2 <= count; i += 2) adamPair(w, grad, m, v, <usize>i * F32, true, beta1, beta2, lr, epsilon, correction1, correction2, coupledDecay, decoupledDecay);
  if (i < count) adamPair(w, grad, m, v, <usize>i * F32, false, beta1, beta2, lr, epsilon, correction1, correction2, coupledDecay, decoupledDecay);
}

// The updates below work two elements at a time on float64 lanes, the last
// one alone (its other lane 0, never stored): the same arithmetic either way.

// @ts-ignore: decorator
@inline
function load2(at: usize, full: bool): v128 {
  return f64x2.promote_low_f32x4(full ? v128.load64_zero(at) : v128.load32_zero(at));
}

// @ts-ignore: decorator
@inline
function store2(at: usize, v: v128, full: bool): void {
  const narrow = f32x4.demote_f64x2_zero(v);
  if (full) v128.store64_lane(at, narrow, 0);
  else v128.store32_lane(at, narrow, 0);
}

/** g ← grad + decay·w. */
// @ts-ignore: decorator
@inline
function decayed(grad: v128, wide: v128, decay: v128): v128 {
  return f64x2.add(grad, f64x2.mul(decay, wide));
}

// @ts-ignore: decorator
@inline
function sgdPair(w: usize, grad: usize, at: usize, full: bool, lr: v128, decay: v128): void {
  const wide = load2(w + at, full);
  store2(w + at, f64x2.sub(wide, f64x2.mul(lr, decayed(load2(grad + at, full), wide, decay))), full);
}

/** Plain SGD: g ← grad + decay·w;  w ← w − lr·g. */
export function sgdStep(w: usize, grad: usize, count: i32, lr: f64, decay: f64): void {
  const vLr = f64x2.splat(lr), vDecay = f64x2.splat(decay);
  let i = 0;
  for (; i + 2 <= count; i += 2) sgdPair(w, grad, <usize>i * F32, true, vLr, vDecay);
  if (i < count) sgdPair(w, grad, <usize>i * F32, false, vLr, vDecay);
}

// @ts-ignore: decorator
@inline
function nesterovPair(w: usize, grad: usize, velocity: usize, at: usize, full: bool, mu: v128, lr: v128, decay: v128): void {
  const wide = load2(w + at, full);
  const g = decayed(load2(grad + at, full), wide, decay);
  const step = f64x2.mul(lr, g);
  const v = f64x2.sub(f64x2.mul(mu, load2(velocity + at, full)), step);
  store2(velocity + at, v, full);
  store2(w + at, f64x2.sub(f64x2.add(wide, f64x2.mul(mu, v)), step), full);
}

/** Nesterov momentum: g ← grad + decay·w;  v ← μ·v − lr·g;  w ← w + μ·v − lr·g (the unrounded v). */
export function nesterovStep(w: usize, grad: usize, velocity: usize, count: i32, mu: f64, lr: f64, decay: f64): void {
  const vMu = f64x2.splat(mu), vLr = f64x2.splat(lr), vDecay = f64x2.splat(decay);
  let i = 0;
  for (; i + 2 <= count; i += 2) nesterovPair(w, grad, velocity, <usize>i * F32, true, vMu, vLr, vDecay);
  if (i < count) nesterovPair(w, grad, velocity, <usize>i * F32, false, vMu, vLr, vDecay);
}

/** w ← w − lr·g / (√s + ε), from the unrounded s. */
// @ts-ignore: decorator
@inline
function scaledStep(wide: v128, g: v128, s: v128, lr: v128, epsilon: v128): v128 {
  return f64x2.sub(wide, f64x2.div(f64x2.mul(lr, g), f64x2.add(f64x2.sqrt(s), epsilon)));
}

// @ts-ignore: decorator
@inline
function rmspropPair(w: usize, grad: usize, meanSquare: usize, at: usize, full: bool, rho: v128, lr: v128, epsilon: v128, decay: v128): void {
  const wide = load2(w + at, full);
  const g = decayed(load2(grad + at, full), wide, decay);
  const s = f64x2.add(f64x2.mul(rho, load2(meanSquare + at, full)), f64x2.mul(f64x2.mul(f64x2.sub(f64x2.splat(1), rho), g), g));
  store2(meanSquare + at, s, full);
  store2(w + at, scaledStep(wide, g, s, lr, epsilon), full);
}

/** RMSprop: g ← grad + decay·w;  s ← ρ·s + (1 − ρ)·g²;  w ← w − lr·g / (√s + ε). */
export function rmspropStep(w: usize, grad: usize, meanSquare: usize, count: i32, rho: f64, lr: f64, epsilon: f64, decay: f64): void {
  const vRho = f64x2.splat(rho), vLr = f64x2.splat(lr), vEpsilon = f64x2.splat(epsilon), vDecay = f64x2.splat(decay);
  let i = 0;
  for (; i + 2 <= count; i += 2) rmspropPair(w, grad, meanSquare, <usize>i * F32, true, vRho, vLr, vEpsilon, vDecay);
  if (i < count) rmspropPair(w, grad, meanSquare, <usize>i * F32, false, vRho, vLr, vEpsilon, vDecay);
}

// @ts-ignore: decorator
@inline
function adagradPair(w: usize, grad: usize, sumSquares: usize, at: usize, full: bool, lr: v128, epsilon: v128, decay: v128): void {
  const wide = load2(w + at, full);
  const g = decayed(load2(grad + at, full), wide, decay);
  const s = f64x2.add(load2(sumSquares + at, full), f64x2.mul(g, g));
  store2(sumSquares + at, s, full);
  store2(w + at, scaledStep(wide, g, s, lr, epsilon), full);
}

/** AdaGrad: g ← grad + decay·w;  s ← s + g²;  w ← w − lr·g / (√s + ε). */
export function adagradStep(w: usize, grad: usize, sumSquares: usize, count: i32, lr: f64, epsilon: f64, decay: f64): void {
  const vLr = f64x2.splat(lr), vEpsilon = f64x2.splat(epsilon), vDecay = f64x2.splat(decay);
  let i = 0;
  for (; i + 2 <= count; i += 2) adagradPair(w, grad, sumSquares, <usize>i * F32, true, vLr, vEpsilon, vDecay);
  if (i < count) adagradPair(w, grad, sumSquares, <usize>i * F32, false, vLr, vEpsilon, vDecay);
}


// @ts-ignore: decorator
@inline
function adamPair(
  w: usize, grad: usize, m: usize, v: usize, at: usize, full: bool,
  beta1: f64, beta2: f64, lr: f64, epsilon: f64, correction1: f64, correction2: f64, coupledDecay: f64, decoupledDecay: f64,
): void {
  const wide = load2(w + at, full);
  const g = decayed(load2(grad + at, full), wide, f64x2.splat(coupledDecay));
  const b1 = f64x2.splat(beta1), b2 = f64x2.splat(beta2), one = f64x2.splat(1);
  const mi = f64x2.add(f64x2.mul(b1, load2(m + at, full)), f64x2.mul(f64x2.sub(one, b1), g));
  const vi = f64x2.add(f64x2.mul(b2, load2(v + at, full)), f64x2.mul(f64x2.mul(f64x2.sub(one, b2), g), g));
  store2(m + at, mi, full);
  store2(v + at, vi, full);
  const mHat = f64x2.div(mi, f64x2.splat(correction1));
  const vHat = f64x2.div(vi, f64x2.splat(correction2));
  const update = f64x2.add(f64x2.div(mHat, f64x2.add(f64x2.sqrt(vHat), f64x2.splat(epsilon))), f64x2.mul(f64x2.splat(decoupledDecay), wide));
  store2(w + at, f64x2.sub(wide, f64x2.mul(f64x2.splat(lr), update)), full);
}
