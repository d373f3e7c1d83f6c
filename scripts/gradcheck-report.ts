/**
 * Runs the op tests with gradient-check recording on and prints, per op, how
 * many checks ran and the largest relative and absolute errors seen.
 *   npx tsx scripts/gradcheck-report.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const file = join(mkdtempSync(join(tmpdir(), 'gradcheck-')), 'report.jsonl');
execFileSync('npx', ['vitest', 'run', 'test/ops'], { stdio: 'inherit', env: { ...process.env, GRADCHECK_REPORT: file } });
const byOp = new Map<string, { checks: number; rel: number; abs: number; ok: boolean }>();
for (const line of readFileSync(file, 'utf8').trim().split('\n')) {
  const r = JSON.parse(line) as { label: string; maxRelError: number; maxAbsError: number; ok: boolean };
  const op = r.label.split(' ')[0];
  const a = byOp.get(op) ?? { checks: 0, rel: 0, abs: 0, ok: true };
  byOp.set(op, { checks: a.checks + 1, rel: Math.max(a.rel, r.maxRelError), abs: Math.max(a.abs, r.maxAbsError), ok: a.ok && r.ok });
}
console.log('\n| op | checks | max rel error | max abs error | all passed |\n|---|---|---|---|---|');
for (const [op, a] of [...byOp].sort()) console.log(`| ${op} | ${a.checks} | ${a.rel.toExponential(1)} | ${a.abs.toExponential(1)} | ${a.ok ? 'yes' : 'NO'} |`);
