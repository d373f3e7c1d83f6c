/** Docs generated from the code stay in step with it. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
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
});
