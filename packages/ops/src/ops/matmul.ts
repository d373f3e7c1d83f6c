/**
 * matmul(a, b) = op(a)·op(b) for 2-D a and b, where op(a) is aᵀ when
 * `transposeA` (likewise for b).
 * Shape: op(a) [m, k] · op(b) [k, n] → [m, n]; float32 or float64.
 * Gradient, with C = A·B and upstream dC: dA = dC·Bᵀ, dB = Aᵀ·dC. With
 * transposes (the same identities, transposed where needed):
 *   C = Aᵀ·B:   dA = B·dCᵀ    dB = A·dC
 *   C = A·Bᵀ:   dA = dC·B     dB = dCᵀ·A
 *   C = Aᵀ·Bᵀ:  dA = Bᵀ·dCᵀ   dB = dCᵀ·Aᵀ
 * Every gradient is itself a matmul, so it differentiates again.
 * Kernels: js (here), wasm (products below 512 multiply-adds stay in JavaScript).
 */
import { buildingNode, checkOptionKeys, defineOp, ShapeError, formatShape, type FloatArray, type Node } from '@ndgraph/graph';
import { gemm } from '../kernels/js/gemm.ts';
import { dimsAgree, expectRank, expectSameFloat } from '../util.ts';

export interface MatmulAttrs {
  transposeA?: boolean;
  transposeB?: boolean;
}

export const matmulOp = defineOp<MatmulAttrs>({
  name: 'matmul',
  arity: 2,
  inferShape([a, b], attrs) {
    const dtype = expectSameFloat([a, b], ['a', 'b']);
    expectRank(a, 2, 'a');
    expectRank(b, 2, 'b');
    const [m, ka] = attrs.transposeA ? [a.shape[1], a.shape[0]] : a.shape;
    const [kb, n] = attrs.transposeB ? [b.shape[1], b.shape[0]] : b.shape;
    if (!dimsAgree(ka, kb)) {
      const left = `a ${formatShape(a.shape)}${attrs.transposeA ? 'ᵀ' : ''}`;
      const right = `b ${formatShape(b.shape)}${attrs.transposeB ? 'ᵀ' : ''}`;
      throw new ShapeError(`inner dimensions do not match: ${left} · ${right} (${ka} vs ${kb})`);
    }
    return { shape: [m, n], dtype };
  },
  forward([a, b], attrs, ctx) {
    const out = ctx.output();
    const [m, n] = out.shape;
    const transposeA = attrs.transposeA ?? false;
    const transposeB = attrs.transposeB ?? false;
    const k = transposeA ? a.shape[0] : a.shape[1];
    // Row strides of a and b as stored (before any transpose).
    gemm(
      transposeA,
      transposeB,
      m,
      n,
      k,
      1,
      a.data as FloatArray,
      a.offset,
      a.shape[1],
      b.data as FloatArray,
      b.offset,
      b.shape[1],
      0,
      out.data as FloatArray,
      out.offset,
      n,
    );
    return out;
  },
  grad(ctx, dy, node) {
    const [a, b] = node.inputs;
    const tA = node.attrs.transposeA ?? false;
    const tB = node.attrs.transposeB ?? false;
    let da: Node | null = null;
    let db: Node | null = null;
    if (ctx.needsGrad(0)) {
      if (!tA && !tB) da = matmul(dy, b, { transposeB: true });
      else if (tA && !tB) da = matmul(b, dy, { transposeB: true });
      else if (!tA && tB) da = matmul(dy, b);
      else da = matmul(b, dy, { transposeA: true, transposeB: true });
    }
    if (ctx.needsGrad(1)) {
      if (!tA && !tB) db = matmul(a, dy, { transposeA: true });
      else if (tA && !tB) db = matmul(a, dy);
      else if (!tA && tB) db = matmul(dy, a, { transposeA: true });
      else db = matmul(dy, a, { transposeA: true, transposeB: true });
    }
    return [da, db];
  },
});

/** op(a)·op(b); `transposeA`/`transposeB` multiply by the transpose without building it. */
export const matmul = (a: Node, b: Node, options: MatmulAttrs = {}, name?: string): Node =>
  buildingNode(a?.graph, 'matmul', name, () => {
    checkOptionKeys('matmul', options, ['transposeA', 'transposeB']);
    return matmulOp([a, b], { transposeA: options.transposeA ?? false, transposeB: options.transposeB ?? false }, { name });
  });
