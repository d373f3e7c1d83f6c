/** Docs generated from the code stay in step with it. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { END as BENCH_END, START as BENCH_START, benchTableFromLatest } from '../scripts/bench-table.ts';
import { END, kernelTable, START } from '../scripts/kernel-table.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('README', () => {
  it('holds the kernel table as the registries give it (npx tsx scripts/kernel-table.ts --write)', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const from = readme.indexOf(START);
    const to = readme.indexOf(END);
    expect(from, 'the kernel-table start marker').toBeGreaterThanOrEqual(0);
    expect(readme.slice(from, to + END.length)).toBe(kernelTable());
  });

  // The committed bench/results/latest.json, not a fresh run: the benchmark is never part of the tests.
  it('holds the benchmark table as the committed bench/results/latest.json gives it (npx tsx scripts/bench-table.ts --write)', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const from = readme.indexOf(BENCH_START);
    const to = readme.indexOf(BENCH_END);
    expect(from, 'the bench-table start marker').toBeGreaterThanOrEqual(0);
    expect(readme.slice(from, to + BENCH_END.length)).toBe(benchTableFromLatest());
  });
});
