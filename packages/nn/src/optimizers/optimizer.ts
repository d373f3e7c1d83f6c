/**
 * The optimizer interface and the bookkeeping every optimizer shares: the step
 * counter, the learning rate (fixed or scheduled), weight decay, per-parameter
 * slots (momentum buffers, moment estimates) and their state for checkpoints.
 *
 * Conventions for all optimizers here:
 * - `value` is the variable's live buffer and is updated IN PLACE.
 * - Weight decay is L2 regularization added to the gradient: g ← g + weightDecay·w
 *   (the gradient of ½·weightDecay·‖w‖² added to the loss). It applies to every
 *   parameter passed to `step`; leave biases out of the list if they should not decay.
 *   `adamw` is the one exception: its decay is decoupled from the gradient.
 * - Slots are created lazily, zero-filled, the first time a parameter is seen,
 *   in the parameter's dtype. After that a step allocates nothing.
 * - The step counter counts completed `step` calls; a schedule is asked for
 *   the rate of step `n` before the n-th update (0-based), and Adam's bias
 *   correction uses t = n + 1.
 */
import {
  backendOwning,
  type FloatArray,
  type Tensor,
  DTypeError,
  GraphError,
  ShapeError,
  copyTensor,
  dtypeOf,
  dtypeOfArray,
  formatShape,
  isFloatDType,
  shapesEqual,
  wrap,
} from '@ndgraph/graph';
import type { LearningRate } from '../schedules.ts';

/** One parameter to update: `value` is the live variable buffer, updated in place. */
export interface ParamUpdate {
  name: string;
  value: Tensor;
  grad: Tensor;
}

/** Everything needed to resume an optimizer: slots are keyed `${paramName}/${slot}`, e.g. 'conv1/w/m'. */
export interface OptimizerState {
  step: number;
  slots: Record<string, Tensor>;
}

export interface Optimizer {
  readonly name: string;
  /** Names of the per-parameter slots (['v'] for momentum, ['m', 'v'] for Adam), for checking saved states. */
  readonly slotNames?: readonly string[];
  /** The rate the next step will use. */
  learningRate(): number;
  step(params: readonly ParamUpdate[]): void;
  /** Copies of the step counter and every slot, for checkpoints. */
  getState(): OptimizerState;
  /** Restores a state from `getState` (copied in); throws naming the slot that does not fit. */
  setState(state: OptimizerState): void;
}

/** Options every optimizer accepts. */
export interface CommonOptimizerOptions {
  /** A fixed rate or a schedule `(step) => rate`. */
  learningRate: LearningRate;
  /** L2 coefficient added to the gradient (g + weightDecay·w). Default 0. */
  weightDecay?: number;
}

/** Checks a numeric option and returns it; throws a RangeError naming the optimizer and option. */
export function checkOption(optimizer: string, option: string, value: number, rule: (v: number) => boolean, ruleText: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !rule(value)) {
    throw new RangeError(`${optimizer}: expected ${option} ${ruleText}, found ${value}`);
  }
  return value;
}

export const nonNegative = (v: number) => v >= 0;
export const positive = (v: number) => v > 0;
export const inUnitInterval = (v: number) => v >= 0 && v < 1;

/** True when the tensor's elements are `data[offset .. offset + size)` in row-major order (allocates nothing). */
function isRowMajor(t: Tensor): boolean {
  let expected = 1;
  for (let k = t.shape.length - 1; k >= 0; k--) {
    if (t.shape[k] > 1 && t.stride[k] !== expected) return false;
    expected *= t.shape[k];
  }
  return true;
}

/**
 * A backend's update for one optimizer, named kernel `<optimizer>Step`: the
 * optimizer's JavaScript loop, in place, on float32 arrays — the parameter
 * and its gradient at offsets, the slots from index 0, and the update's
 * numbers in the order the optimizer documents. Returns false when it did
 * not run (the optimizer then runs its loop).
 */
export type OptimizerStepKernel = (
  value: Float32Array,
  valueOffset: number,
  grad: Float32Array,
  gradOffset: number,
  slots: readonly Float32Array[],
  size: number,
  parameters: readonly number[],
) => boolean;

/**
 * The shared machinery. A concrete optimizer names its slots and implements
 * `updateParam`, the per-element update rule for one parameter.
 */
export abstract class BaseOptimizer implements Optimizer {
  abstract readonly name: string;
  protected readonly weightDecay: number;
  private readonly rate: LearningRate;
  private stepCount = 0;
  /** Slot tensors per parameter name, in `slotNames` order. */
  private slots = new Map<string, ParamSlots>();

  /** Names of the per-parameter buffers, e.g. ['m', 'v'] for Adam. */
  readonly slotNames: readonly string[];

  protected constructor(displayName: string, options: CommonOptimizerOptions, slotNames: readonly string[]) {
    this.slotNames = slotNames;
    const rate = options.learningRate;
    if (typeof rate === 'number') checkOption(displayName, 'learningRate', rate, nonNegative, 'to be a finite number ≥ 0');
    else if (typeof rate !== 'function')
      throw new RangeError(`${displayName}: expected learningRate to be a number or a schedule (step) => rate, found ${String(rate)}`);
    this.rate = rate;
    this.weightDecay = checkOption(displayName, 'weightDecay', options.weightDecay ?? 0, nonNegative, '≥ 0');
  }

  learningRate(): number {
    return typeof this.rate === 'number' ? this.rate : this.rate(this.stepCount);
  }

  /**
   * Runs the backend's kernel `name` for this update where the parameter's
   * backend has one (float32 arrays); false when the caller must run its own
   * loop. The kernel computes exactly that loop: the same bits.
   */
  protected backendStep(
    name: string,
    value: FloatArray,
    valueOffset: number,
    grad: FloatArray,
    gradOffset: number,
    slots: readonly FloatArray[],
    size: number,
    parameters: readonly number[],
  ): boolean {
    if (!(value instanceof Float32Array && grad instanceof Float32Array && slots.every((slot) => slot instanceof Float32Array))) return false;
    const kernel = backendOwning(value).kernel<OptimizerStepKernel>(name, 'float32');
    return kernel?.(value, valueOffset, grad, gradOffset, slots as readonly Float32Array[], size, parameters) ?? false;
  }

  step(params: readonly ParamUpdate[]): void {
    const lr = this.learningRate();
    if (!Number.isFinite(lr) || lr < 0)
      throw new RangeError(`${this.name}: the learning-rate schedule gave ${lr} at step ${this.stepCount}; expected a finite number ≥ 0`);
    // Indexed loop: for...of would allocate an iterator every step.
    for (let i = 0; i < params.length; i++) {
      const param = params[i];
      this.checkParam(param);
      this.updateParam(
        param.value.data as FloatArray,
        param.value.offset,
        param.grad.data as FloatArray,
        param.grad.offset,
        param.value.size,
        this.slotsFor(param),
        lr,
        this.stepCount,
      );
    }
    this.stepCount++;
  }

  /**
   * Updates one parameter in place. Element i of the value is `value[valueOffset + i]`,
   * of the gradient `grad[gradOffset + i]`, of slot k `slots[k][i]` (slots start at 0).
   * `step` is the number of completed steps before this one.
   */
  protected abstract updateParam(
    value: FloatArray,
    valueOffset: number,
    grad: FloatArray,
    gradOffset: number,
    size: number,
    slots: readonly FloatArray[],
    learningRate: number,
    step: number,
  ): void;

  private checkParam(param: ParamUpdate): void {
    const { name, value, grad } = param;
    const valueType = dtypeOf(value);
    if (!isFloatDType(valueType)) throw new DTypeError(`${this.name}: parameter '${name}' must be float32 or float64, found ${valueType}`);
    if (!isFloatDType(dtypeOf(grad))) throw new DTypeError(`${this.name}: gradient of '${name}' must be float32 or float64, found ${dtypeOf(grad)}`);
    if (!sameShape(value.shape, grad.shape)) {
      throw new ShapeError(
        `${this.name}: gradient of '${name}' has shape ${formatShape(grad.shape)}, expected the parameter's shape ${formatShape(value.shape)}`,
      );
    }
    if (!isRowMajor(value) || !isRowMajor(grad))
      throw new ShapeError(`${this.name}: parameter '${name}' and its gradient must be contiguous row-major tensors`);
  }

  /** The slots of a parameter, created (zero-filled) the first time it is seen. */
  private slotsFor(param: ParamUpdate): readonly FloatArray[] {
    if (this.slotNames.length === 0) return NO_SLOTS;
    const valueType = dtypeOf(param.value);
    let slots = this.slots.get(param.name);
    if (slots === undefined) {
      // Slots live where the parameter does (the backend's memory), so an update kernel reads both in place.
      const backend = backendOwning(param.value.data);
      const tensors = this.slotNames.map(() => wrap(backend.allocate(valueType, param.value.size), param.value.shape.slice()));
      slots = { tensors, arrays: tensors.map((t) => t.data as FloatArray) };
      this.slots.set(param.name, slots);
    }
    for (let k = 0; k < slots.tensors.length; k++) {
      const slot = slots.tensors[k];
      if (!sameShape(slot.shape, param.value.shape)) {
        throw new ShapeError(
          `${this.name}: slot '${param.name}/${this.slotNames[k]}' has shape ${formatShape(slot.shape)}, but parameter '${param.name}' has shape ${formatShape(param.value.shape)}`,
        );
      }
      // A restored state may hold another float type than the model: convert once.
      if (dtypeOf(slot) !== valueType) {
        slots.tensors[k] = copyTensor(slot, valueType);
        slots.arrays[k] = slots.tensors[k].data as FloatArray;
      }
    }
    return slots.arrays;
  }

  getState(): OptimizerState {
    const slots: Record<string, Tensor> = {};
    for (const [paramName, { tensors }] of this.slots) {
      tensors.forEach((t, k) => {
        slots[`${paramName}/${this.slotNames[k]}`] = copyTensor(t);
      });
    }
    return { step: this.stepCount, slots };
  }

  setState(state: OptimizerState): void {
    if (!Number.isInteger(state.step) || state.step < 0) throw new RangeError(`${this.name}.setState: expected step to be an integer ≥ 0, found ${state.step}`);
    const restored = new Map<string, Tensor[]>();
    for (const key of Object.keys(state.slots)) {
      const slash = key.lastIndexOf('/');
      const paramName = key.slice(0, slash);
      const slotName = key.slice(slash + 1);
      const k = slash > 0 ? this.slotNames.indexOf(slotName) : -1;
      if (k < 0) {
        const expected = this.slotNames.length === 0 ? `${this.name} keeps no slots` : `expected '<param>/${this.slotNames.join(`' or '<param>/`)}'`;
        throw new GraphError(`${this.name}.setState: unexpected slot '${key}'; ${expected}`);
      }
      const tensor = state.slots[key];
      const dtype = dtypeOfArray(tensor?.data);
      if (!dtype || !isFloatDType(dtype))
        throw new DTypeError(`${this.name}.setState: slot '${key}' must be a float32 or float64 tensor, found ${dtype ?? String(tensor)}`);
      // Against a parameter already known, the shape must match now (otherwise it is checked at its first step).
      const current = this.slots.get(paramName);
      if (current && !shapesEqual(current.tensors[k].shape, tensor.shape)) {
        throw new ShapeError(`${this.name}.setState: slot '${key}' has shape ${formatShape(tensor.shape)}, expected ${formatShape(current.tensors[k].shape)}`);
      }
      let slots = restored.get(paramName);
      if (!slots) restored.set(paramName, (slots = new Array<Tensor>(this.slotNames.length)));
      slots[k] = copyTensor(tensor);
    }
    for (const [paramName, slots] of restored) {
      for (let k = 0; k < this.slotNames.length; k++) {
        if (!slots[k])
          throw new GraphError(`${this.name}.setState: slot '${paramName}/${this.slotNames[k]}' is missing (parameter '${paramName}' has other slots)`);
        if (!shapesEqual(slots[k].shape, slots[0].shape)) {
          throw new ShapeError(
            `${this.name}.setState: slot '${paramName}/${this.slotNames[k]}' has shape ${formatShape(slots[k].shape)}, but '${paramName}/${this.slotNames[0]}' has ${formatShape(slots[0].shape)}`,
          );
        }
      }
    }
    this.slots = new Map([...restored].map(([paramName, tensors]) => [paramName, { tensors, arrays: tensors.map((t) => t.data as FloatArray) }]));
    this.stepCount = state.step;
  }
}

const NO_SLOTS: readonly FloatArray[] = [];

/** A parameter's slot tensors in `slotNames` order, and their typed arrays (arrays[k] is tensors[k].data). */
interface ParamSlots {
  tensors: Tensor[];
  arrays: FloatArray[];
}

/** Shape equality without allocating (runs every step). */
function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}
