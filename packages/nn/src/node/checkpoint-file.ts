/**
 * Checkpoint files on disk (Node only).
 *
 * `writeFileAtomic` never leaves a half-written target: it writes the bytes to
 * a temporary file next to the target (`<path>.tmp-<pid>-<random>`), flushes
 * it to disk (fsync), and renames it over the target, which is atomic on POSIX
 * file systems. A reader sees the old file or the new one, never a mix. On any
 * failure the temporary file is removed and the error is rethrown.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { dirname } from 'node:path';
import type { Tensor } from '@ndgraph/graph';
import { type DecodedSafetensors, decodeSafetensors, encodeSafetensors } from '../checkpoint/safetensors.ts';

/** The file-system calls the atomic writer makes; tests replace some to simulate failures. */
export interface AtomicWriteFileSystem {
  openSync(path: string, flags: string, mode?: number): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
}

const nodeFileSystem: AtomicWriteFileSystem = {
  openSync: (path, flags, mode) => fs.openSync(path, flags, mode),
  writeSync: (fd, buffer, offset, length, position) => fs.writeSync(fd, buffer, offset, length, position),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  closeSync: (fd) => fs.closeSync(fd),
  renameSync: (from, to) => fs.renameSync(from, to),
  unlinkSync: (path) => fs.unlinkSync(path),
};

export interface AtomicWriteOptions {
  /** Replace individual file-system calls (for tests). */
  fileSystem?: Partial<AtomicWriteFileSystem>;
}

/** Writes `bytes` to `path` atomically (see the top of the file). */
export function writeFileAtomic(path: string, bytes: Uint8Array, options: AtomicWriteOptions = {}): void {
  const io: AtomicWriteFileSystem = { ...nodeFileSystem, ...options.fileSystem };
  const tempPath = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  // 'wx': create, failing if the name exists, so two writers never share a temp file.
  const fd = io.openSync(tempPath, 'wx', 0o666);
  let open = true;
  try {
    // writeSync may write fewer bytes than asked: loop until all are out.
    let written = 0;
    while (written < bytes.length) {
      const n = io.writeSync(fd, bytes, written, bytes.length - written, written);
      if (!(n > 0)) throw new Error(`writeFileAtomic: writing ${tempPath} made no progress at byte ${written} of ${bytes.length}`);
      written += n;
    }
    io.fsyncSync(fd);
    open = false;
    io.closeSync(fd);
    io.renameSync(tempPath, path);
  } catch (error) {
    if (open) {
      try {
        io.closeSync(fd);
      } catch {
        // Already failing; the original error is the one to report.
      }
    }
    try {
      io.unlinkSync(tempPath);
    } catch {
      // The temp file may already be gone (e.g. its directory was removed).
    }
    // Say which file could not be written (ENOSPC from a write names no path); keep the code and the cause.
    if (error instanceof Error && !error.message.includes(path)) {
      const located = new Error(`${path}: cannot write it (${(error as NodeJS.ErrnoException).code ?? error.message}: ${error.message})`, { cause: error });
      Object.assign(located, { code: (error as NodeJS.ErrnoException).code });
      throw located;
    }
    throw error;
  }
  syncDirectory(dirname(path));
}

/** Makes the rename itself durable. Best effort: some platforms cannot fsync a directory. */
function syncDirectory(directory: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(directory, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Not supported here (e.g. Windows); the data itself is already synced.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Encodes tensors and metadata as safetensors and writes them atomically to `path`. */
export function saveSafetensors(path: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>, options?: AtomicWriteOptions): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata), options);
}

/** Reads and decodes a safetensors file; errors name the path. */
export function loadSafetensors(path: string): DecodedSafetensors {
  return decodeSafetensors(fs.readFileSync(path), path);
}
