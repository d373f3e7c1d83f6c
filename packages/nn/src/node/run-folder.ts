/**
 * A run folder that one run owns at a time (Node only): `claimRunFolder`
 * creates it, checks that it can be written (before any training), removes
 * temporary files that a killed run left behind, and takes a lock file
 * naming the process; a second run into the same folder gets an error naming
 * the first. The lock goes with `release()` or when the process exits; a lock
 * whose process is gone is taken over.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '@ndgraph/graph';

const LOCK = '.ndgraph-run.lock';

/** True when a process with this id exists (signal 0 checks without sending). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface RunFolder {
  readonly dir: string;
  /** Temporary files of killed runs that were removed. */
  readonly removedLeftovers: string[];
  release(): void;
}

export function claimRunFolder(dir: string): RunFolder {
  if (typeof dir !== 'string' || dir.trim() === '') throw new DataError(`run folder: expected a directory path, found ${JSON.stringify(dir)}`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new DataError(`${dir}: cannot create the run folder (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const lockPath = join(dir, LOCK);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') throw new DataError(`${dir}: the run folder is not writable (${code})`);
      if (code !== 'EEXIST' || attempt > 0) throw new DataError(`${lockPath}: cannot take the run lock (${code ?? (error as Error).message})`);
      const owner = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
      if (Number.isInteger(owner) && owner !== process.pid && alive(owner)) {
        throw new DataError(`${dir}: another run (process ${owner}) is using this folder; wait for it, or choose another --out`);
      }
      unlinkSync(lockPath); // its process is gone: a stale lock
    }
  }
  // Temporary files of writes a killed run never finished (`<name>.tmp-<pid>-<random>`), unless their writer still runs.
  const removedLeftovers: string[] = [];
  for (const name of readdirSync(dir)) {
    const match = /\.tmp-(\d+)-[0-9a-f]+$/.exec(name);
    if (match && !alive(Number(match[1]))) {
      rmSync(join(dir, name), { force: true });
      removedLeftovers.push(name);
    }
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.removeListener('exit', release);
    if (existsSync(lockPath) && readFileSync(lockPath, 'utf8').trim() === String(process.pid)) unlinkSync(lockPath);
  };
  process.on('exit', release);
  return { dir, removedLeftovers, release };
}
