/**
 * Blocks of kernel memory for tensors: first free block that fits (best
 * fit), split when larger, and coalesced with its free neighbours when given
 * back, so memory freed by one size serves requests of any other. The region
 * ends at `top`; a call frame lives above it, and a freed block at the top
 * lowers it.
 */
const ALIGNMENT = 16;

const alignUp = (bytes: number): number => Math.ceil(bytes / ALIGNMENT) * ALIGNMENT;

interface FreeBlock {
  address: number;
  bytes: number;
}

export class BlockAllocator {
  /** End of the highest block in use (or the start, when there is none). */
  top: number;
  /** Bytes of each block in use, by address. */
  private readonly used = new Map<number, number>();
  /** Free blocks below `top`, sorted by address, never adjacent (they are merged). */
  private readonly free: FreeBlock[] = [];

  /** `grow(end)` makes bytes [0, end) exist, or throws. */
  constructor(
    readonly start: number,
    private readonly grow: (end: number) => void,
  ) {
    this.top = alignUp(start);
  }

  /** The address of a new block of at least `bytes` bytes. */
  allocate(bytes: number): number {
    const size = alignUp(Math.max(bytes, ALIGNMENT));
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i];
      if (b.bytes >= size && (best < 0 || b.bytes < this.free[best].bytes)) best = i;
    }
    let address: number;
    if (best >= 0) {
      const b = this.free[best];
      address = b.address;
      if (b.bytes === size) this.free.splice(best, 1);
      else {
        b.address += size;
        b.bytes -= size;
      }
    } else {
      address = this.top;
      this.grow(address + size);
      this.top = address + size;
    }
    this.used.set(address, size);
    return address;
  }

  /** Bytes of the block at `address`, or undefined when no block starts there. */
  sizeOf(address: number): number | undefined {
    return this.used.get(address);
  }

  /** Gives the block at `address` back. */
  release(address: number): void {
    const size = this.used.get(address);
    if (size === undefined) throw new Error(`WebAssembly kernels: no tensor block at address ${address}`);
    this.used.delete(address);
    let at = 0;
    while (at < this.free.length && this.free[at].address < address) at++;
    const block: FreeBlock = { address, bytes: size };
    this.free.splice(at, 0, block);
    const next = this.free[at + 1];
    if (next && block.address + block.bytes === next.address) {
      block.bytes += next.bytes;
      this.free.splice(at + 1, 1);
    }
    const previous = this.free[at - 1];
    if (previous && previous.address + previous.bytes === block.address) {
      previous.bytes += block.bytes;
      this.free.splice(at, 1);
    }
    const last = this.free[this.free.length - 1];
    if (last && last.address + last.bytes === this.top) {
      this.top = last.address;
      this.free.pop();
    }
  }

  /** Bytes in blocks in use. */
  get usedBytes(): number {
    let total = 0;
    for (const size of this.used.values()) total += size;
    return total;
  }
}
