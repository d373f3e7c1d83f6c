// Workspace: the host hands every kernel that needs temporary memory (packed
// panels, zero-padded images) the address of a region it reserved, at least as
// large as the kernel's `...WorkspaceBytes` function asks for. Kernels cut
// that region into aligned blocks; they never allocate (the module has no
// heap), so two threads can run kernels at once on separate workspaces of
// one shared memory.

/** Every block starts on a 16-byte boundary, the width of a v128. */
export const ALIGNMENT: usize = 16;

/** `bytes` rounded up to a whole number of ALIGNMENT units. */
// @ts-ignore: decorator
@inline
export function alignUp(bytes: usize): usize {
  return (bytes + ALIGNMENT - 1) & ~(ALIGNMENT - 1);
}
