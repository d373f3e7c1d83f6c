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
