// conv2d → bias → relu → max pooling, a few images at a time: each block of
// images is convolved into the workspace, small enough to stay in the
// cache, and pooled from there into y, so the full-size activation is never
// written to memory and read back. The two steps are convForward and
// maxPoolForward themselves, so the values are those of the separate
// kernels, bit for bit.

import { convForward, convForwardWorkspaceBytes } from './conv';
import { maxPoolForward } from './pool';
import { alignUp } from './workspace';
import { geo, G_CHANNELS, G_OUT_HEIGHT, G_OUT_WIDTH, G_OUT_CHANNELS } from './geometry';

const F32: usize = 4;
/** The activations of one block of images fit in this many bytes (at least one image per block). */
const BLOCK_BYTES: usize = 64 << 10;

/** Bytes of one image's activation: the convolution's output. */
// @ts-ignore: decorator
@inline
function activationBytes(conv: usize): usize {
  return <usize>(geo(conv, G_OUT_HEIGHT) * geo(conv, G_OUT_WIDTH) * geo(conv, G_OUT_CHANNELS)) * F32;
}

// @ts-ignore: decorator
@inline
function imagesPerBlock(conv: usize): i32 {
  const bytes = activationBytes(conv);
  return bytes == 0 ? 1 : <i32>max<usize>(1, BLOCK_BYTES / bytes);
}

/** Bytes of workspace `convReluMaxPool` needs. */
export function convReluMaxPoolWorkspaceBytes(conv: usize): usize {
  return alignUp(convForwardWorkspaceBytes(conv)) + alignUp(<usize>imagesPerBlock(conv) * activationBytes(conv));
}

/**
 * y = maxPool(relu(conv2d(x, filter) + bias)) for the images [firstImage,
 * firstImage + imageCount). `conv` is the convolution's geometry, `pool` the
 * pool's (over the activation: its input is the convolution's output).
 */
export function convReluMaxPool(x: usize, filter: usize, bias: usize, y: usize, conv: usize, pool: usize, firstImage: i32, imageCount: i32, workspace: usize): void {
  const activations = workspace + alignUp(convForwardWorkspaceBytes(conv));
  const perImage = activationBytes(conv);
  const pooledBytes = <usize>(geo(pool, G_OUT_HEIGHT) * geo(pool, G_OUT_WIDTH) * geo(pool, G_CHANNELS)) * F32;
  const block = imagesPerBlock(conv);
  for (let n = firstImage; n < firstImage + imageCount; n += block) {
    const count = min(block, firstImage + imageCount - n);
    // convForward writes image n at y + n·perImage: aimed n images before the block, image n lands at its start.
    convForward(x, filter, bias, true, activations - <usize>n * perImage, conv, n, count, workspace);
    maxPoolForward(activations, pool, y + <usize>n * pooledBytes, 0, count);
  }
}
