// Block sizes of the GEMM (in elements).
//
// The micro-kernel keeps an MR × NR tile of C in v128 registers: 4 rows of
// 8 floats = 8 accumulators, plus 2 vectors of B and 1 broadcast of A, well
// inside the 16 vector registers of x86-64. Measured under V8, a 6 × 8 tile
// (15 registers) and unrolling the k-loop twice both ran 25–30% slower,
// most likely from register spills.
// A kc × NR panel of packed B (KC·NR·4 = 8 KB) stays in L1 while the kernel
// sweeps an MC × KC block of packed A (128 KB) kept in L2; a KC × NC panel of
// packed B goes to L3. (KC of 128–384 and MC of 64–256 measured within noise.)

/** Rows of the register tile (one f32 of A broadcast per row). */
export const MR: i32 = 4;
/** Columns of the register tile (two v128 of B). */
export const NR: i32 = 8;
/** Depth of one packed block (the k-loop of the micro-kernel). */
export const KC: i32 = 256;
/** Rows of op(A) packed at once. */
export const MC: i32 = 128;
/** Columns of op(B) packed at once. */
export const NC: i32 = 4096;
