// tanh and the logistic sigmoid, and their gradients, over flat float32
// arrays, computed in float64 and rounded once when stored, like the
// JavaScript kernels (ops/tanh.ts, sigmoid.ts, tanh-grad.ts, sigmoid-grad.ts).
// The gradients repeat the JavaScript arithmetic operation for operation (the
// same bits); tanh and exp come from AssemblyScript's Math, which may differ
// from the JavaScript engine's in the last bit of a float64 (rarely the float32).

const F32: usize = 4;

export function tanhForward(x: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(y + <usize>i * F32, <f32>Math.tanh(<f64>load<f32>(x + <usize>i * F32)));
}

export function sigmoidForward(x: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const v = <f64>load<f32>(x + <usize>i * F32);
    let s: f64;
    if (v >= 0) s = 1 / (1 + Math.exp(-v));
    else {
      const e = Math.exp(v);
      s = e / (1 + e);
    }
    store<f32>(y + <usize>i * F32, <f32>s);
  }
}

/** out = dy·(1 − y²). */
export function tanhBackward(dy: usize, y: usize, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const t = <f64>load<f32>(y + <usize>i * F32);
    store<f32>(out + <usize>i * F32, <f32>(<f64>load<f32>(dy + <usize>i * F32) * (1 - t * t)));
  }
}

/** out = dy·y·(1 − y). */
export function sigmoidBackward(dy: usize, y: usize, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const s = <f64>load<f32>(y + <usize>i * F32);
    store<f32>(out + <usize>i * F32, <f32>(<f64>load<f32>(dy + <usize>i * F32) * s * (1 - s)));
  }
}

// Elementwise a ∘ b of two float32 arrays of one shape, four lanes at a time.
// A float32 sum, difference or product is correctly rounded either way, so
// these give the bits of the JavaScript kernels (float64 arithmetic rounded
// to float32: double rounding cannot change a float32 add or multiply).

export function addSame(a: usize, b: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i * F32;
    v128.store(out + at, f32x4.add(v128.load(a + at), v128.load(b + at)));
  }
  for (; i < n; i++) store<f32>(out + <usize>i * F32, load<f32>(a + <usize>i * F32) + load<f32>(b + <usize>i * F32));
}

export function subSame(a: usize, b: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i * F32;
    v128.store(out + at, f32x4.sub(v128.load(a + at), v128.load(b + at)));
  }
  for (; i < n; i++) store<f32>(out + <usize>i * F32, load<f32>(a + <usize>i * F32) - load<f32>(b + <usize>i * F32));
}

export function mulSame(a: usize, b: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i * F32;
    v128.store(out + at, f32x4.mul(v128.load(a + at), v128.load(b + at)));
  }
  for (; i < n; i++) store<f32>(out + <usize>i * F32, load<f32>(a + <usize>i * F32) * load<f32>(b + <usize>i * F32));
}

/** y = factor·x, the product in float64 (factor is a float64 number) rounded once, as the JavaScript kernel does. */
export function scaleForward(x: usize, y: usize, n: i32, factor: f64): void {
  for (let i = 0; i < n; i++) store<f32>(y + <usize>i * F32, <f32>(factor * <f64>load<f32>(x + <usize>i * F32)));
}

/** y = x > 0 ? x : alpha·x (alpha·x in float64, rounded once). */
export function leakyReluForward(x: usize, y: usize, n: i32, alpha: f64): void {
  for (let i = 0; i < n; i++) {
    const v = load<f32>(x + <usize>i * F32);
    store<f32>(y + <usize>i * F32, v > 0 ? v : <f32>(alpha * <f64>v));
  }
}
