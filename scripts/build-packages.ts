/**
 * Builds the three packages to JavaScript + .d.ts in packages/<p>/build/, the
 * form they are published in (their package.json's publishConfig points
 * there; the workspace itself runs from the TypeScript sources).
 *
 *   npx tsx scripts/build-packages.ts
 *
 * tsc rewrites the relative `.ts` imports of the JavaScript to `.js`; the
 * declaration files keep `.ts`, so they are rewritten here, so that a
 * consumer needs no `allowImportingTsExtensions`.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const PACKAGES = ['graph', 'ops', 'nn'] as const;

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

export function buildPackages(): number {
  for (const p of PACKAGES) rmSync(join(root, 'packages', p, 'build'), { recursive: true, force: true });
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', join(root, 'packages', 'nn', 'tsconfig.build.json')], {
    stdio: 'inherit',
  });
  let rewritten = 0;
  for (const p of PACKAGES) {
    for (const file of filesUnder(join(root, 'packages', p, 'build'))) {
      if (file.endsWith('.tsbuildinfo')) rmSync(file);
      if (!file.endsWith('.d.ts')) continue;
      const text = readFileSync(file, 'utf8');
      const fixed = text.replace(
        /(from\s+|import\s*\(\s*|import\s+)(['"])(\.{1,2}\/[^'"]*?)\.ts\2/g,
        (_m: string, lead: string, quote: string, spec: string) => `${lead}${quote}${spec}.js${quote}`,
      );
      if (fixed !== text) {
        writeFileSync(file, fixed);
        rewritten++;
      }
    }
  }
  return rewritten;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rewritten = buildPackages();
  console.log(`built ${PACKAGES.map((p) => `packages/${p}/build`).join(', ')} (${rewritten} declaration files with .ts imports rewritten to .js)`);
}
