/**
 * The soak, short (bench/soak.ts runs it long): kernel memory is the same
 * after every epoch once training is warm, RSS does not climb, and a session
 * over random batch sizes stays bounded.
 */
import { describe, expect, it } from 'vitest';
import { soakBatchSizes, soakEpochs } from '../../bench/soak.ts';

describe('memory over a long run', () => {
  it('kernel memory is flat over epochs and RSS does not climb', () => {
    const samples = soakEpochs(6, 1000);
    const kernel = samples.map((s) => s.kernelMiB);
    expect(new Set(kernel.slice(1)).size, `kernel MiB per epoch: ${kernel.join(', ')}`).toBe(1);
    const rss = samples.map((s) => s.rssMiB);
    expect(Math.max(...rss.slice(2)) - rss[1], `RSS MiB per epoch: ${rss.map((r) => r.toFixed(0)).join(', ')}`).toBeLessThan(40);
  });

  it('a session over random batch sizes keeps kernel memory under a fixed bound', () => {
    const samples = soakBatchSizes(200, 20);
    const kernel = samples.map((s) => s.kernelMiB);
    expect(Math.max(...kernel), `kernel MiB: ${kernel.map((k) => k.toFixed(1)).join(', ')}`).toBeLessThan(24);
  });
});
