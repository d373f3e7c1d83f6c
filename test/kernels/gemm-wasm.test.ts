/**
 * The WebAssembly SIMD GEMM against a naive triple loop written here (float64
 * accumulation over the same float32 inputs), on shapes that hit every edge
 * of its blocking (4×8 register tiles, 128-row blocks of A, 256-deep blocks of
 * K, 4096-column blocks of B), all transpose combinations, alpha/beta,
 * offsets and leading dimensions wider than the matrices.
 *
 * Tolerance: a float32 dot product of K terms, however its sums are grouped,
 * is within γ·Σ|a·b| of the exact value with γ = K·u/(1 − K·u), u = 2⁻²⁴.
 * Scaling by alpha, adding beta·C and the rounding of alpha and beta to
 * float32 add a few more roundings of the same terms, so each element is
 * checked against (K + 4)·u·(|alpha|·Σ|a·b| + |beta·c|), which that bound
 * covers for every size tested (K·u ≤ 1e-4).
 */
import { describe, expect, it } from 'vitest';
import { WASM_KERNELS_SOURCE_HASH } from '../../packages/ops/src/kernels/wasm/kernels.generated.ts';
import { createWasmGemm, gemmWasm, wasmSimdSupported } from '../../packages/ops/src/kernels/wasm/gemm-wasm.ts';
import { makeRandom } from '../helpers.ts';

const UNIT_ROUNDOFF = 2 ** -24;
/** Written into elements the kernel must neither read nor change (row gaps, around the matrices). */
const SENTINEL = Number.NaN;

interface Problem {
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  /** Extra elements in each stored row (leading dimension = width + pad). */
  pad?: number;
  /** Elements before each matrix in its array. */
  offset?: number;
}

/** A rows × cols matrix stored with row stride `ld` from `offset`, random inside, SENTINEL everywhere else. */
function storedMatrix(rows: number, cols: number, ld: number, offset: number, random: () => number, tail = 3): Float32Array {
  const data = new Float32Array(offset + (rows > 0 ? (rows - 1) * ld + cols : 0) + tail).fill(SENTINEL);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) data[offset + r * ld + c] = random();
  return data;
}

/**
 * The reference: each element as a float64 sum over the float32 inputs,
 * with the size of the rounding error allowed for it.
 */
function referenceGemm(
  p: Problem,
  A: Float32Array,
  lda: number,
  B: Float32Array,
  ldb: number,
  C: Float32Array,
  ldc: number,
  offset: number,
): { values: Float64Array; tolerance: Float64Array } {
  const { M, N, K, alpha, beta } = p;
  const values = new Float64Array(M * N);
  const tolerance = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let sum = 0;
      let magnitude = 0;
      for (let k = 0; k < K; k++) {
        const a = p.transA ? A[offset + k * lda + i] : A[offset + i * lda + k];
        const b = p.transB ? B[offset + j * ldb + k] : B[offset + k * ldb + j];
        sum += a * b;
        magnitude += Math.abs(a * b);
      }
      const old = C[offset + i * ldc + j];
      const scaledOld = beta === 0 ? 0 : beta * old;
      values[i * N + j] = alpha * sum + scaledOld;
      tolerance[i * N + j] = (K + 4) * UNIT_ROUNDOFF * (Math.abs(alpha) * magnitude + Math.abs(scaledOld)) + 1e-30;
    }
  }
  return { values, tolerance };
}

/** Runs `kernel` on a random instance of `p` and checks C against the reference and the untouched elements. */
function checkProblem(p: Problem, seed: number, kernel = gemmWasm): void {
  const random = makeRandom(seed);
  const pad = p.pad ?? 0;
  const offset = p.offset ?? 0;
  const [aRows, aCols] = p.transA ? [p.K, p.M] : [p.M, p.K];
  const [bRows, bCols] = p.transB ? [p.N, p.K] : [p.K, p.N];
  const lda = aCols + pad,
    ldb = bCols + pad,
    ldc = p.N + pad;
  const A = storedMatrix(aRows, aCols, lda, offset, random);
  const B = storedMatrix(bRows, bCols, ldb, offset, random);
  // beta = 0 must ignore C's old contents: fill it with NaN.
  const C = p.beta === 0 ? storedMatrix(p.M, p.N, ldc, offset, () => Number.NaN) : storedMatrix(p.M, p.N, ldc, offset, random);
  const [aBefore, bBefore, before] = [A.slice(), B.slice(), C.slice()];
  const expected = referenceGemm(p, A, lda, B, ldb, C, ldc, offset);

  kernel(p.transA, p.transB, p.M, p.N, p.K, p.alpha, A, offset, lda, B, offset, ldb, p.beta, C, offset, ldc);

  const label = `${p.transA ? 'Aᵀ' : 'A'}·${p.transB ? 'Bᵀ' : 'B'} M=${p.M} N=${p.N} K=${p.K} alpha=${p.alpha} beta=${p.beta} pad=${pad} offset=${offset}`;
  for (let i = 0; i < p.M; i++) {
    for (let j = 0; j < p.N; j++) {
      const got = C[offset + i * ldc + j];
      const want = expected.values[i * p.N + j];
      const tol = expected.tolerance[i * p.N + j];
      if (!(Math.abs(got - want) <= tol)) expect.fail(`${label}: C[${i}][${j}] = ${got}, expected ${want} ± ${tol}`);
    }
  }
  // Everything outside the M × N matrix (row gaps, before and after) is unchanged.
  for (let e = 0; e < C.length; e++) {
    const inside = e >= offset && (e - offset) % ldc < p.N && Math.floor((e - offset) / ldc) < p.M;
    if (!inside && !Object.is(C[e], before[e])) expect.fail(`${label}: element ${e} outside C changed from ${before[e]} to ${C[e]}`);
  }
  // A and B are inputs: never written.
  expect(
    A.every((v, e) => Object.is(v, aBefore[e])),
    `${label}: A unchanged`,
  ).toBe(true);
  expect(
    B.every((v, e) => Object.is(v, bBefore[e])),
    `${label}: B unchanged`,
  ).toBe(true);
}

const TRANSPOSES: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

describe('gemmWasm (WebAssembly SIMD, float32)', () => {
  it('runs on this engine: SIMD is detected', () => {
    expect(wasmSimdSupported()).toBe(true);
  });

  it('computes a 2×2 product by hand', () => {
    // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50]
    const C = new Float32Array(4).fill(Number.NaN);
    gemmWasm(false, false, 2, 2, 2, 1, Float32Array.of(1, 2, 3, 4), 0, 2, Float32Array.of(5, 6, 7, 8), 0, 2, 0, C, 0, 2);
    expect(Array.from(C)).toEqual([19, 22, 43, 50]);
    // 2·Aᵀ·B + 1·C with Aᵀ = [1 3; 2 4]: 2·[26 30; 38 44] + [19 22; 43 50]
    gemmWasm(true, false, 2, 2, 2, 2, Float32Array.of(1, 2, 3, 4), 0, 2, Float32Array.of(5, 6, 7, 8), 0, 2, 1, C, 0, 2);
    expect(Array.from(C)).toEqual([71, 82, 119, 138]);
  });

  const odd = [1, 3, 7, 13, 17, 31, 33, 65];
  for (const [transA, transB] of TRANSPOSES) {
    it(`matches the reference on odd sizes, ${transA ? 'Aᵀ' : 'A'}·${transB ? 'Bᵀ' : 'B'}`, () => {
      let seed = 1;
      for (const M of odd) for (const N of odd) for (const K of [1, 7, 33]) checkProblem({ transA, transB, M, N, K, alpha: 1, beta: 0 }, seed++);
      for (const K of odd) checkProblem({ transA, transB, M: 13, N: 17, K, alpha: 1, beta: 0 }, seed++);
    });
  }

  it('handles 1×1×1', () => {
    for (const [transA, transB] of TRANSPOSES) checkProblem({ transA, transB, M: 1, N: 1, K: 1, alpha: 1, beta: 0 }, 7);
    for (const [transA, transB] of TRANSPOSES) checkProblem({ transA, transB, M: 1, N: 1, K: 1, alpha: -2, beta: 0.5 }, 8);
  });

  it('crosses every block edge: 128 rows of A, 256 of K, 4096 columns of B', () => {
    let seed = 100;
    for (const [transA, transB] of TRANSPOSES) {
      checkProblem({ transA, transB, M: 129, N: 9, K: 257, alpha: 1, beta: 0 }, seed++);
      checkProblem({ transA, transB, M: 130, N: 24, K: 513, alpha: 0.5, beta: -1.5 }, seed++);
      checkProblem({ transA, transB, M: 5, N: 4100, K: 3, alpha: 1, beta: 0 }, seed++);
      checkProblem({ transA, transB, M: 260, N: 15, K: 20, alpha: -1, beta: 0.25, pad: 3, offset: 5 }, seed++);
    }
  });

  it('applies alpha and beta, and beta = 0 ignores NaN in C', () => {
    let seed = 200;
    const scalars: [number, number][] = [
      [1, 0],
      [0.5, 0],
      [-1.25, 0.75],
      [2, 1],
      [0.3, -0.7],
      [1, 1],
    ];
    for (const [alpha, beta] of scalars) {
      for (const [transA, transB] of TRANSPOSES) {
        checkProblem({ transA, transB, M: 19, N: 11, K: 23, alpha, beta }, seed++);
        checkProblem({ transA, transB, M: 8, N: 8, K: 8, alpha, beta }, seed++);
      }
    }
  });

  it('alpha = 0 leaves beta·C without reading A or B; K = 0 gives beta·C', () => {
    const A = new Float32Array(6).fill(Number.NaN);
    const B = new Float32Array(6).fill(Number.NaN);
    const C = Float32Array.of(1, 2, 3, 4);
    gemmWasm(false, false, 2, 2, 3, 0, A, 0, 3, B, 0, 2, 3, C, 0, 2);
    expect(Array.from(C)).toEqual([3, 6, 9, 12]);
    gemmWasm(false, false, 2, 2, 0, 1, new Float32Array(0), 0, 0, new Float32Array(0), 0, 2, -1, C, 0, 2);
    expect(Array.from(C)).toEqual([-3, -6, -9, -12]);
    const D = new Float32Array(4).fill(Number.NaN);
    gemmWasm(false, false, 2, 2, 0, 1, new Float32Array(0), 0, 0, new Float32Array(0), 0, 2, 0, D, 0, 2);
    expect(Array.from(D)).toEqual([0, 0, 0, 0]);
  });

  it('M = 0 or N = 0 changes nothing', () => {
    const C = Float32Array.of(5, 6);
    gemmWasm(false, false, 0, 2, 3, 1, new Float32Array(0), 0, 3, new Float32Array(6), 0, 2, 0, C, 0, 2);
    gemmWasm(false, false, 1, 0, 3, 1, new Float32Array(3), 0, 3, new Float32Array(0), 0, 0, 0, C, 0, 0);
    expect(Array.from(C)).toEqual([5, 6]);
  });

  it('reads offsets and leading dimensions larger than the matrix width, writing only inside C', () => {
    let seed = 300;
    for (const [transA, transB] of TRANSPOSES) {
      for (const [M, N, K] of [
        [3, 5, 7],
        [17, 13, 31],
        [33, 9, 65],
        [4, 8, 4],
      ]) {
        checkProblem({ transA, transB, M, N, K, alpha: 1, beta: 0, pad: 2, offset: 3 }, seed++);
        checkProblem({ transA, transB, M, N, K, alpha: -0.5, beta: 2, pad: 7, offset: 1 }, seed++);
      }
    }
  });

  it('matches the reference on random shapes and settings', () => {
    const random = makeRandom(4242);
    const pick = (n: number): number => Math.floor(((random() + 1) / 2) * n);
    for (let trial = 0; trial < 60; trial++) {
      const [transA, transB] = TRANSPOSES[pick(4)];
      const betas = [0, 1, -0.5, 0.75];
      checkProblem(
        {
          transA,
          transB,
          M: 1 + pick(70),
          N: 1 + pick(70),
          K: 1 + pick(300),
          alpha: [1, -1, 0.5, 1.75][pick(4)],
          beta: betas[pick(4)],
          pad: pick(3) * 3,
          offset: pick(4),
        },
        1000 + trial,
      );
    }
  });

  it('stays correct after memory grows, for large then small products', () => {
    checkProblem({ transA: false, transB: false, M: 300, N: 280, K: 310, alpha: 1, beta: 0 }, 500);
    checkProblem({ transA: true, transB: true, M: 1100, N: 70, K: 900, alpha: 1, beta: 0.5 }, 501);
    checkProblem({ transA: false, transB: true, M: 5, N: 6, K: 7, alpha: 1, beta: 0 }, 502);
  });

  it('rejects arrays that are not Float32Array and operands that do not fit', () => {
    const f64 = new Float64Array(4);
    const f32 = new Float32Array(4);
    expect(() => gemmWasm(false, false, 2, 2, 2, 1, f64, 0, 2, f32, 0, 2, 0, f32, 0, 2)).toThrow(TypeError);
    expect(() => gemmWasm(false, false, 2, 2, 2, 1, f32, 0, 2, f32, 0, 2, 0, f64, 0, 2)).toThrow(TypeError);
    expect(() => gemmWasm(false, false, 2, 2, 2, 1, f32, 1, 2, f32, 0, 2, 0, new Float32Array(4), 0, 2)).toThrow(
      /stored A \(2×2, row stride 2\) needs 4 elements from offset 1/,
    );
    expect(() => gemmWasm(false, false, 2, 2, 2, 1, f32, 0, 1, f32, 0, 2, 0, new Float32Array(4), 0, 2)).toThrow(/lda must be at least 2/);
    expect(() => gemmWasm(false, false, 2, 2, 2.5, 1, f32, 0, 2, f32, 0, 2, 0, new Float32Array(4), 0, 2)).toThrow(/K must be a non-negative integer/);
  });
});

describe('createWasmGemm', () => {
  it('runs float32 in WebAssembly and sends float64 and tiny products to the fallback', () => {
    const calls: string[] = [];
    const fallback = (...args: Parameters<typeof gemmWasm>): void => {
      calls.push(`${args[6].constructor.name} ${args[2]}×${args[3]}×${args[4]}`);
      const C = args[13];
      C.fill(-1, args[14], args[14] + args[2] * args[3]);
    };
    const A = Float32Array.of(1, 2, 3, 4);
    const B = Float32Array.of(5, 6, 7, 8);

    const small = new Float32Array(4);
    createWasmGemm(fallback, { minWork: 0 })(false, false, 2, 2, 2, 1, A, 0, 2, B, 0, 2, 0, small, 0, 2);
    expect(Array.from(small)).toEqual([19, 22, 43, 50]);
    expect(calls).toEqual([]);

    const gemm = createWasmGemm(fallback); // default: at least 512 multiply-adds
    gemm(false, false, 2, 2, 2, 1, A, 0, 2, B, 0, 2, 0, small, 0, 2);
    expect(calls).toEqual(['Float32Array 2×2×2']);
    expect(Array.from(small)).toEqual([-1, -1, -1, -1]);

    // 8×8×8 = 512 multiply-adds: all ones give 8 everywhere.
    const C32 = new Float32Array(64);
    gemm(false, false, 8, 8, 8, 1, new Float32Array(64).fill(1), 0, 8, new Float32Array(64).fill(1), 0, 8, 0, C32, 0, 8);
    expect(C32.every((v) => v === 8)).toBe(true);
    expect(calls).toHaveLength(1);

    const C64 = new Float64Array(64);
    gemm(false, false, 8, 8, 8, 1, new Float64Array(64).fill(1), 0, 8, new Float64Array(64).fill(1), 0, 8, 0, C64, 0, 8);
    expect(calls).toEqual(['Float32Array 2×2×2', 'Float64Array 8×8×8']);
    expect(C64.every((v) => v === -1)).toBe(true);
  });

  it('agrees with the reference through the dispatcher on a LeNet-sized product', () => {
    const unused = (): void => expect.fail('float32 work must not reach the fallback');
    checkProblem({ transA: true, transB: false, M: 150, N: 16, K: 640, alpha: 1, beta: 0 }, 600, createWasmGemm(unused));
  });
});

describe('generated WebAssembly module', () => {
  it('was built from the current AssemblyScript sources', async () => {
    const buildScript = new URL('../../packages/ops/scripts/build-wasm.mjs', import.meta.url).href;
    const { hashAssemblySources, buildCommand } = (await import(buildScript)) as { hashAssemblySources: () => string; buildCommand: string };
    const current = hashAssemblySources();
    if (WASM_KERNELS_SOURCE_HASH !== current) {
      expect.fail(
        `packages/ops/src/kernels/wasm/kernels.generated.ts is stale: it was built from sources ${WASM_KERNELS_SOURCE_HASH}, ` +
          `but packages/ops/assembly/ now hashes to ${current}. Run \`${buildCommand}\` and commit the regenerated file.`,
      );
    }
    expect(WASM_KERNELS_SOURCE_HASH).toBe(current);
  });
});
