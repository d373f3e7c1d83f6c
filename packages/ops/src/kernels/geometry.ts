/**
 * The geometry a conv or pool kernel walks: one struct with every size,
 * stride and padding of a window op on a concrete NHWC input (the op-level
 * rules that produce them are in ../window.ts).
 */
import { convOutputSize, convPadBefore, type WindowAttrs } from '../window.ts';

/** Everything a conv or pool kernel needs to walk its windows. */
export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  channels: number;
  kernelHeight: number;
  kernelWidth: number;
  strideHeight: number;
  strideWidth: number;
  /** Padding rows above the image and columns left of it. */
  padTop: number;
  padLeft: number;
  outHeight: number;
  outWidth: number;
}

/** The full geometry for a concrete NHWC input shape. */
export function convGeometry(inShape: readonly number[], kernel: readonly [number, number], attrs: WindowAttrs): ConvGeometry {
  const [batch, inHeight, inWidth, channels] = inShape;
  const [kernelHeight, kernelWidth] = kernel;
  const [strideHeight, strideWidth] = attrs.strides;
  return {
    batch,
    inHeight,
    inWidth,
    channels,
    kernelHeight,
    kernelWidth,
    strideHeight,
    strideWidth,
    padTop: convPadBefore(inHeight, kernelHeight, strideHeight, attrs.padding),
    padLeft: convPadBefore(inWidth, kernelWidth, strideWidth, attrs.padding),
    outHeight: convOutputSize(inHeight, kernelHeight, strideHeight, attrs.padding),
    outWidth: convOutputSize(inWidth, kernelWidth, strideWidth, attrs.padding),
  };
}
