// Scratch memory: a bump allocator over linear memory.
//
// Everything a GEMM call needs — the operands the host copies in and the
// packed panels — is carved, in order, from one region that starts at
// `__heap_base`. Nothing is freed one block at a time: the host releases the
// whole region with `resetScratch()` before each call, and `gemm` hands its
// packing buffers back with `releaseScratch(mark)` before it returns. Memory
// grows (never shrinks) when a request does not fit, so steady-state calls of
// the same size allocate nothing new.

/** Every block starts on a 16-byte boundary, the width of a v128. */
const ALIGNMENT: usize = 16;
const PAGE_BYTES: usize = 65536;

// @ts-ignore: decorator
@inline
function alignUp(address: usize): usize {
  return (address + ALIGNMENT - 1) & ~(ALIGNMENT - 1);
}

/** First free byte of the scratch region. */
let top: usize = alignUp(__heap_base);

/** Releases every scratch block. Earlier pointers become invalid. */
export function resetScratch(): void {
  top = alignUp(__heap_base);
}

/** The current end of the scratch region, to hand to `releaseScratch` later. */
export function scratchMark(): usize {
  return top;
}

/** Releases every block allocated after `mark` was taken. */
export function releaseScratch(mark: usize): void {
  top = mark;
}

/**
 * Returns the address of `bytes` fresh bytes (contents undefined), growing
 * memory when needed. Returns 0 when memory cannot grow that far.
 */
export function allocScratch(bytes: usize): usize {
  const start = alignUp(top);
  const end = start + bytes;
  if (end < start) return 0; // the request wrapped around the address space
  const available = (<usize>memory.size()) * PAGE_BYTES;
  if (end > available) {
    const pages = <i32>((end - available + PAGE_BYTES - 1) / PAGE_BYTES);
    if (memory.grow(pages) < 0) return 0;
  }
  top = end;
  return start;
}
