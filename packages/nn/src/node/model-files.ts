/**
 * Model files (Node only): `saveModel` writes a model's weights, name, spec
 * and input shape atomically; `loadModel` reads one — or a training
 * checkpoint from `pnpm train` — and returns a model ready to predict.
 *
 *   import { loadModel } from '@ndgraph/nn/node';
 *   const net = loadModel('runs/lenet/checkpoint.safetensors');
 *   console.log(net.predict(image).classes[0]);
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Graph } from '@ndgraph/graph';
import { decodeModel, encodeModel, type LoadedModel, type ModelInfo } from '../model-io.ts';
import type { Model, ModelBuilder } from '../models/model.ts';
import { writeFileAtomic } from './checkpoint-file.ts';

/** Writes the model's weights (and spec, when it has one) to `path`, atomically. */
export function saveModel(path: string, graph: Graph, model: Model | undefined, info: ModelInfo): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, encodeModel(graph, model, info));
}

/** Loads a model file or training checkpoint; a model without a spec needs its builder. */
export function loadModel(path: string, model?: Model | ModelBuilder): LoadedModel {
  return decodeModel(readFileSync(path), path, model);
}
