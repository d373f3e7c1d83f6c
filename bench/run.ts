/**
 * `pnpm bench`: every benchmark, one process after another.
 *
 *   pnpm bench            # GEMM (bench/gemm.ts), LeNet-5 (bench/lenet.ts), the model variants (bench/variants.ts)
 *   pnpm bench --quick    # the short versions
 *
 * Other options go to bench/lenet.ts (--repeats N, --engines LIST, --threads LIST, --note TEXT);
 * --quick and --note also go to bench/gemm.ts and bench/variants.ts. Afterwards the variants'
 * results (per variant trainImgPerSec and ratioToRelu) are folded into the LeNet-5 result files of
 * this run (bench/results/latest.json after a full run) under `variants`, and a full run rewrites the
 * README's table from latest.json (scripts/bench-table.ts). Never part of `pnpm test`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BENCH_DIR, LENET_WRITTEN_LIST, RESULTS_DIR, writeJson } from './common.ts';
import { argValue, hasFlag } from './engine-common.ts';

const args = process.argv.slice(2);
const quick = hasFlag('quick');
const note = argValue('note');
const sharedArgs = [...(quick ? ['--quick'] : []), ...(note ? ['--note', note] : [])];
const script = (name: string) => join(relative(process.cwd(), BENCH_DIR) || '.', name);
const variantsFile = join(RESULTS_DIR, quick ? 'variants-quick.json' : 'variants.json');

rmSync(LENET_WRITTEN_LIST, { force: true });
const started = Date.now();
for (const [name, scriptArgs] of [
  ['gemm.ts', sharedArgs],
  ['lenet.ts', args],
  ['variants.ts', sharedArgs],
] as const) {
  console.log(`\n> npx tsx ${script(name)} ${scriptArgs.join(' ')}`.trimEnd());
  const child = spawnSync('npx', ['tsx', script(name), ...scriptArgs], { stdio: 'inherit' });
  if (child.status !== 0) {
    console.error(`${name} failed (exit code ${child.status}${child.error ? `, ${child.error.message}` : ''})`);
    process.exit(child.status || 1);
  }
}

// Fold the variants into this run's LeNet-5 results.
if (!existsSync(LENET_WRITTEN_LIST)) throw new Error(`bench/lenet.ts did not list its result files in ${LENET_WRITTEN_LIST}`);
if (!existsSync(variantsFile) || statSync(variantsFile).mtimeMs < started)
  throw new Error(`bench/variants.ts did not write ${relative(process.cwd(), variantsFile)} in this run`);
interface VariantsFile {
  date: string;
  settings: Record<string, unknown>;
  loadAverage: unknown;
  results: {
    variant: string;
    trainImgPerSec: number;
    ratioToRelu: number;
    ratioRange?: [number, number];
    inferImgPerSec?: number;
    inferRatioToRelu?: number;
  }[];
}
const variants = JSON.parse(readFileSync(variantsFile, 'utf8')) as VariantsFile;
const folded = {
  file: relative(RESULTS_DIR, variantsFile),
  date: variants.date,
  settings: variants.settings,
  loadAverage: variants.loadAverage,
  results: variants.results.map(({ variant, trainImgPerSec, ratioToRelu, ratioRange, inferImgPerSec, inferRatioToRelu }) => ({
    variant,
    trainImgPerSec,
    ratioToRelu,
    ratioRange,
    inferImgPerSec,
    inferRatioToRelu,
  })),
};
for (const file of JSON.parse(readFileSync(LENET_WRITTEN_LIST, 'utf8')) as string[]) {
  const report = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeJson(file, { ...report, variants: folded });
  console.log(`${relative(process.cwd(), file)}: added the ${folded.results.length} variants of ${folded.file}`);
}
if (!quick) {
  // The README's table is made from latest.json.
  const table = spawnSync('npx', ['tsx', join(BENCH_DIR, '..', 'scripts', 'bench-table.ts'), '--write'], { stdio: 'inherit' });
  if (table.status !== 0) process.exit(table.status || 1);
}
