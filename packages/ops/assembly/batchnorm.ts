// Batch normalization over [rows, C] float32 data (channels last), with the
// statistics in float64: each function does what the JavaScript kernel of its
// op does (batch-norm*.ts), operation for operation in float64 in the same
// order, so both give the same bits. Per-channel vectors (mean, inverse std,
// sums) are float64 arrays of C values; gamma and beta are float32.

const F32: usize = 4;
const F64: usize = 8;

// @ts-ignore: decorator
@inline
function f64At(base: usize, c: i32): usize {
  return base + <usize>c * F64;
}

/** Per-channel mean and biased variance (two passes, as channelMoments). */
export function batchNormMoments(x: usize, n: i32, channels: i32, mean: usize, variance: usize): void {
  for (let c = 0; c < channels; c++) {
    store<f64>(f64At(mean, c), 0);
    store<f64>(f64At(variance, c), 0);
  }
  const count = <f64>(n / channels);
  for (let i = 0, c = 0; i < n; i++) {
    const at = f64At(mean, c);
    store<f64>(at, load<f64>(at) + <f64>load<f32>(x + <usize>i * F32));
    if (++c == channels) c = 0;
  }
  for (let c = 0; c < channels; c++) store<f64>(f64At(mean, c), load<f64>(f64At(mean, c)) / count);
  for (let i = 0, c = 0; i < n; i++) {
    const d = <f64>load<f32>(x + <usize>i * F32) - load<f64>(f64At(mean, c));
    const at = f64At(variance, c);
    store<f64>(at, load<f64>(at) + d * d);
    if (++c == channels) c = 0;
  }
  for (let c = 0; c < channels; c++) store<f64>(f64At(variance, c), load<f64>(f64At(variance, c)) / count);
}

/** y = gamma[c]·(x − mean[c])·inverseStd[c] + beta[c]. */
export function batchNormApply(x: usize, n: i32, channels: i32, gamma: usize, beta: usize, mean: usize, inverseStd: usize, y: usize): void {
  for (let i = 0, c = 0; i < n; i++) {
    const g = <f64>load<f32>(gamma + <usize>c * F32);
    const b = <f64>load<f32>(beta + <usize>c * F32);
    const v = g * (<f64>load<f32>(x + <usize>i * F32) - load<f64>(f64At(mean, c))) * load<f64>(f64At(inverseStd, c)) + b;
    store<f32>(y + <usize>i * F32, <f32>v);
    if (++c == channels) c = 0;
  }
}

/** sums[c] = Σ dy·(x − mean[c])·inverseStd[c] (the gamma gradient, before it is stored as float32). */
export function batchNormGradGammaSums(dy: usize, x: usize, n: i32, channels: i32, mean: usize, inverseStd: usize, sums: usize): void {
  for (let c = 0; c < channels; c++) store<f64>(f64At(sums, c), 0);
  for (let i = 0, c = 0; i < n; i++) {
    const at = f64At(sums, c);
    const d = <f64>load<f32>(dy + <usize>i * F32);
    store<f64>(at, load<f64>(at) + d * (<f64>load<f32>(x + <usize>i * F32) - load<f64>(f64At(mean, c))) * load<f64>(f64At(inverseStd, c)));
    if (++c == channels) c = 0;
  }
}

/**
 * The input gradient in training mode: with scale[c] = γ_c·inverseStd[c],
 * dx = scale·(dy − mean(dy) − x̂·mean(dy·x̂)), the means per channel.
 * `meanDy` and `meanDyXhat` are C-float64 workspaces.
 */
export function batchNormGradInputTrain(
  dy: usize, x: usize, n: i32, channels: i32, mean: usize, inverseStd: usize, scale: usize, meanDy: usize, meanDyXhat: usize, dx: usize,
): void {
  const count = <f64>(n / channels);
  for (let c = 0; c < channels; c++) {
    store<f64>(f64At(meanDy, c), 0);
    store<f64>(f64At(meanDyXhat, c), 0);
  }
  for (let i = 0, c = 0; i < n; i++) {
    const d = <f64>load<f32>(dy + <usize>i * F32);
    store<f64>(f64At(meanDy, c), load<f64>(f64At(meanDy, c)) + d);
    const at = f64At(meanDyXhat, c);
    store<f64>(at, load<f64>(at) + d * (<f64>load<f32>(x + <usize>i * F32) - load<f64>(f64At(mean, c))) * load<f64>(f64At(inverseStd, c)));
    if (++c == channels) c = 0;
  }
  for (let c = 0; c < channels; c++) {
    store<f64>(f64At(meanDy, c), load<f64>(f64At(meanDy, c)) / count);
    store<f64>(f64At(meanDyXhat, c), load<f64>(f64At(meanDyXhat, c)) / count);
  }
  for (let i = 0, c = 0; i < n; i++) {
    const xHat = (<f64>load<f32>(x + <usize>i * F32) - load<f64>(f64At(mean, c))) * load<f64>(f64At(inverseStd, c));
    const v = load<f64>(f64At(scale, c)) * (<f64>load<f32>(dy + <usize>i * F32) - load<f64>(f64At(meanDy, c)) - xHat * load<f64>(f64At(meanDyXhat, c)));
    store<f32>(dx + <usize>i * F32, <f32>v);
    if (++c == channels) c = 0;
  }
}

/** The input gradient in eval mode: dx = dy·scale[c]. */
export function batchNormGradInputEval(dy: usize, n: i32, channels: i32, scale: usize, dx: usize): void {
  for (let i = 0, c = 0; i < n; i++) {
    store<f32>(dx + <usize>i * F32, <f32>(<f64>load<f32>(dy + <usize>i * F32) * load<f64>(f64At(scale, c))));
    if (++c == channels) c = 0;
  }
}

/**
 * out[c] = Σ over rows of x[row, c], accumulated in float32 row after row:
 * the sum reduceToShape's JavaScript kernel makes for [..., C] → [C] (a
 * float64 sum of two float32 values rounded to float32 is the float32 sum, so
 * the bits agree).
 */
export function sumRowsF32(x: usize, rows: i32, channels: i32, out: usize): void {
  for (let c = 0; c < channels; c++) store<f32>(out + <usize>c * F32, 0);
  for (let r = 0; r < rows; r++) {
    const row = x + <usize>r * <usize>channels * F32;
    for (let c = 0; c < channels; c++) {
      const at = out + <usize>c * F32;
      store<f32>(at, load<f32>(at) + load<f32>(row + <usize>c * F32));
    }
  }
}
