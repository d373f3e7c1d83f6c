/**
 * Rebuilding a model from its architecture spec: the built-in kinds
 * (lenet5, mlp, cnn-bn-res, sequential) and any kind a user registered with
 * `registerModelKind`. Imports the built-ins so their kinds are known.
 */
import { type Model, modelFromRegisteredSpec } from './model.ts';
import './sequential.ts';
import './zoo.ts';

/** The model an architecture spec `{ kind, ... }` describes. */
export function modelFromSpec(spec: unknown, where = 'model spec'): Model {
  return modelFromRegisteredSpec(spec, where);
}
