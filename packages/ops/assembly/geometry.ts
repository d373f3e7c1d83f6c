// The geometry of a sliding window (conv2d or pooling) over NHWC images, as
// the host writes it into memory: 13 consecutive i32 values at address `g`,
// in the order of the constants below (the same fields as the host's
// ConvGeometry, plus the output channels of a convolution).

export const G_BATCH: usize = 0;
export const G_IN_HEIGHT: usize = 1;
export const G_IN_WIDTH: usize = 2;
export const G_CHANNELS: usize = 3;
export const G_KERNEL_HEIGHT: usize = 4;
export const G_KERNEL_WIDTH: usize = 5;
export const G_STRIDE_HEIGHT: usize = 6;
export const G_STRIDE_WIDTH: usize = 7;
export const G_PAD_TOP: usize = 8;
export const G_PAD_LEFT: usize = 9;
export const G_OUT_HEIGHT: usize = 10;
export const G_OUT_WIDTH: usize = 11;
export const G_OUT_CHANNELS: usize = 12;

/** Field `field` of the geometry at `g`. */
// @ts-ignore: decorator
@inline
export function geo(g: usize, field: usize): i32 {
  return load<i32>(g + field * 4);
}
