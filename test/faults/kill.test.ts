/**
 * The fault suite: a process killed with SIGKILL at random points while it
 * rewrites its checkpoint, 20 times over. After every kill the checkpoint
 * that is there loads and is one whole write (every value is the write
 * number in its metadata), and the next run into the folder removes the
 * temporary file a kill left behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleScript } from '../../bench/bundle.ts';
import { claimRunFolder, loadSafetensors } from '@ndgraph/nn/node';
import { uniformRandom } from '../helpers.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const KILLS = 20;

/** SIGKILL to the writer's process group (it is detached, so the group is its own). */
function killTree(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  });
}

/** Resolves once no process `pid` exists (a killed process lingers until it is reaped). */
async function gone(pid: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`process ${pid} is still there 3 s after SIGKILL`);
}

/** The writer as one plain ES module, so each of the 20 processes starts in milliseconds, not through tsx. */
const writerBundle = join(mkdtempSync(join(tmpdir(), 'ndgraph-kill-writer-')), 'writer.mjs');
beforeAll(() => bundleScript({ entry: join(root, 'test', 'faults', 'checkpoint-writer.ts') }, writerBundle));
afterAll(() => rmSync(dirname(writerBundle), { recursive: true, force: true }));

describe('SIGKILL during checkpoint writes', () => {
  it(`${KILLS} kills at random points always leave a loadable, whole checkpoint, and the next run clears leftovers`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ndgraph-kill-'));
    const random = uniformRandom(7);
    let leftoversSeen = 0;
    let loaded = 0;
    try {
      for (let kill = 0; kill < KILLS; kill++) {
        const child = spawn(process.execPath, [writerBundle, dir], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
        await new Promise<void>((resolve, reject) => {
          child.stdout!.once('data', () => resolve());
          child.once('exit', (code) => reject(new Error(`the writer exited with ${code} before it was ready`)));
        });
        await new Promise((resolve) => setTimeout(resolve, 5 + random() * 150));
        await killTree(child);
        const path = join(dir, 'checkpoint.safetensors');
        if (existsSync(path)) {
          const { tensors, metadata } = loadSafetensors(path);
          const write = Number(metadata.write);
          const w = tensors['variables/w'].data;
          expect(w.length).toBe(2 ** 20);
          expect(w[0]).toBe(write);
          expect(w[w.length - 1]).toBe(write);
          loaded++;
        }
        leftoversSeen += readdirSync(dir).filter((name) => name.includes('.tmp-')).length;
        await gone(Number.parseInt(readFileSync(join(dir, '.ndgraph-run.lock'), 'utf8'), 10)); // the killed writer, once the system has reaped it
        claimRunFolder(dir).release(); // what the next run does first
        expect(readdirSync(dir).filter((name) => name.includes('.tmp-') || name.startsWith('.ndgraph-run'))).toEqual([]);
      }
      expect(loaded).toBeGreaterThan(KILLS / 2);
      console.log(`kill test: ${KILLS} kills, ${loaded} checkpoints loaded whole, ${leftoversSeen} temporary files left by kills and removed`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
