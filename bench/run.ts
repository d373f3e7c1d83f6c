/**
 * `pnpm bench`: every benchmark, one process after another.
 *
 *   pnpm bench            # GEMM (bench/gemm.ts), then LeNet-5 (bench/lenet.ts)
 *   pnpm bench --quick    # the short versions
 *
 * Other options go to bench/lenet.ts (--repeats N, --engines LIST, --note TEXT);
 * --quick and --note also go to bench/gemm.ts. Never part of `pnpm test`.
 */
import { spawnSync } from 'node:child_process';
import { join, relative } from 'node:path';
import { BENCH_DIR } from './common.ts';
import { argValue, hasFlag } from './engine-common.ts';

const args = process.argv.slice(2);
const note = argValue('note');
const gemmArgs = [...(hasFlag('quick') ? ['--quick'] : []), ...(note ? ['--note', note] : [])];
const script = (name: string) => join(relative(process.cwd(), BENCH_DIR) || '.', name);

for (const [name, scriptArgs] of [
  ['gemm.ts', gemmArgs],
  ['lenet.ts', args],
] as const) {
  console.log(`\n> npx tsx ${script(name)} ${scriptArgs.join(' ')}`.trimEnd());
  const child = spawnSync('npx', ['tsx', script(name), ...scriptArgs], { stdio: 'inherit' });
  if (child.status !== 0) {
    console.error(`${name} failed (exit code ${child.status}${child.error ? `, ${child.error.message}` : ''})`);
    process.exit(child.status || 1);
  }
}
