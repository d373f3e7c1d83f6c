/**
 * The opt-in relaxed-SIMD kernels (enableRelaxedSimd of @ndgraph/ops/node):
 * in a process of their own they load, and their products agree with the
 * JavaScript kernels to float32 rounding; asked for after the kernels are
 * loaded, they are refused with the reason.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { enableRelaxedSimd } from '@ndgraph/ops/node';
import { wasmKernels } from '@ndgraph/ops/kernels';

const here = dirname(fileURLToPath(import.meta.url));

describe('relaxed SIMD kernels (opt-in)', () => {
  it('load when asked for first, and compute what the JavaScript kernels do within float32 rounding', () => {
    const run = spawnSync('npx', ['tsx', join(here, 'scripts', 'relaxed-simd-run.ts')], { encoding: 'utf8', timeout: 120_000 });
    expect(run.status, run.stderr).toBe(0);
    const { refused, relaxedSimd, relativeDifferences } = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as {
      refused: string | null;
      relaxedSimd: boolean;
      relativeDifferences: number[];
    };
    expect(refused).toBeNull();
    expect(relaxedSimd).toBe(true);
    expect(relativeDifferences).toHaveLength(2);
    for (const difference of relativeDifferences) expect(difference).toBeLessThanOrEqual(1e-5);
  });

  it('are refused, with the reason, once the default kernels are loaded', () => {
    expect(wasmKernels()).not.toBeNull();
    expect(enableRelaxedSimd()).toMatch(/already loaded: ask for relaxed SIMD before the first session runs/);
    expect(wasmKernels()!.relaxedSimd).toBe(false);
  });
});
