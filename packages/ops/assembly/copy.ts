// Short runs of floats (a window row of im2col is often 5 to 100 floats):
// v128 moves and a scalar tail beat a bulk-memory call at these sizes.

const F32: usize = 4;

// @ts-ignore: decorator
@inline
export function copyFloats(dst: usize, src: usize, count: i32): void {
  let e = 0;
  for (; e + 4 <= count; e += 4) v128.store(dst + <usize>e * F32, v128.load(src + <usize>e * F32));
  for (; e < count; e++) store<f32>(dst + <usize>e * F32, load<f32>(src + <usize>e * F32));
}

// @ts-ignore: decorator
@inline
export function zeroFloats(dst: usize, count: i32): void {
  const zero = f32x4.splat(0);
  let e = 0;
  for (; e + 4 <= count; e += 4) v128.store(dst + <usize>e * F32, zero);
  for (; e < count; e++) store<f32>(dst + <usize>e * F32, 0);
}

/** dst[e] += src[e] for `count` floats. */
// @ts-ignore: decorator
@inline
export function addFloats(dst: usize, src: usize, count: i32): void {
  let e = 0;
  for (; e + 4 <= count; e += 4) {
    const at = dst + <usize>e * F32;
    v128.store(at, f32x4.add(v128.load(at), v128.load(src + <usize>e * F32)));
  }
  for (; e < count; e++) {
    const at = dst + <usize>e * F32;
    store<f32>(at, load<f32>(at) + load<f32>(src + <usize>e * F32));
  }
}
