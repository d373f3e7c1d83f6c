/**
 * The packages as a consumer gets them: built (JavaScript + .d.ts), packed
 * with pnpm, installed with npm into a project outside the workspace, then
 *   (a) a plain `node` ESM script trains a tiny model and prints its losses;
 *   (b) `tsc` type-checks a TypeScript consumer with a default strict config,
 *       moduleResolution node16 and bundler (no skipLibCheck);
 *   (c) esbuild bundles the script (a) for the browser and it trains in headless Chromium.
 * Prints each package's packed and unpacked size. Needs the npm registry.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { launchChromium } from '../browser/chromium.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPackages, PACKAGES } from '../../scripts/build-packages.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'ndgraph-consumer-'));
const app = join(work, 'app');
const sizes: Record<string, { packed: number; unpacked: number }> = {};

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
}

beforeAll(() => {
  buildPackages();
  const packs = join(work, 'packs');
  mkdirSync(packs);
  for (const p of PACKAGES) {
    const dir = join(root, 'packages', p);
    run('npx', ['-y', 'pnpm@10.34.9', 'pack', '--pack-destination', packs], dir);
    const unpacked = join(work, `unpacked-${p}`);
    mkdirSync(unpacked);
    run('tar', ['xzf', join(packs, `ndgraph-${p}-0.1.0.tgz`), '-C', unpacked], work);
    const total = (d: string): number =>
      readdirSync(d).reduce((n, name) => n + (statSync(join(d, name)).isDirectory() ? total(join(d, name)) : statSync(join(d, name)).size), 0);
    sizes[p] = { packed: statSync(join(packs, `ndgraph-${p}-0.1.0.tgz`)).size, unpacked: total(unpacked) };
  }
  mkdirSync(app);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'ndgraph-consumer',
      private: true,
      type: 'module',
      dependencies: Object.fromEntries(PACKAGES.map((p) => [`@ndgraph/${p}`, `file:../packs/ndgraph-${p}-0.1.0.tgz`])),
      devDependencies: { '@types/node': '^20.19.0' },
    }),
  );
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], app);
  copyFileSync(join(here, 'app-train.mjs'), join(app, 'train.mjs'));
  copyFileSync(join(here, 'app-consumer.ts'), join(app, 'consumer.ts'));
  console.log(
    `packed / unpacked sizes: ${PACKAGES.map((p) => `@ndgraph/${p} ${(sizes[p].packed / 1024).toFixed(0)} / ${(sizes[p].unpacked / 1024).toFixed(0)} KiB`).join(', ')}`,
  );
}, 600_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the packed packages, installed with npm outside the workspace', () => {
  it('hold built JavaScript and declarations, not TypeScript sources', () => {
    for (const p of PACKAGES) {
      expect(existsSync(join(app, 'node_modules', '@ndgraph', p, 'build', 'index.js')), p).toBe(true);
      expect(existsSync(join(app, 'node_modules', '@ndgraph', p, 'src')), p).toBe(false);
    }
  });

  it('(a) plain node trains a tiny model', () => {
    const report = JSON.parse(run(process.execPath, ['train.mjs'], app));
    console.log(`(a) node train.mjs: ${JSON.stringify(report)}`);
    expect(report.losses).toHaveLength(3);
    expect(report.losses[2]).toBeLessThan(report.losses[0]);
  });

  it('(b) tsc type-checks a consumer under moduleResolution node16 and bundler', () => {
    for (const [module, resolution] of [
      ['node16', 'node16'],
      ['ESNext', 'bundler'],
    ]) {
      const config = join(app, `tsconfig.${resolution}.json`);
      writeFileSync(
        config,
        JSON.stringify({
          compilerOptions: { strict: true, target: 'ES2022', module, moduleResolution: resolution, noEmit: true, types: ['node'] },
          files: ['consumer.ts'],
        }),
      );
      const output = run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config], app);
      console.log(`(b) tsc, moduleResolution ${resolution}: ${output.trim() || 'no errors'}`);
      expect(output.trim()).toBe('');
    }
  });

  it('(c) esbuild bundles a page that trains in headless Chromium', async () => {
    const bundled = await build({
      entryPoints: [join(app, 'train.mjs')],
      bundle: true,
      platform: 'browser',
      format: 'iife',
      write: false,
      logLevel: 'silent',
      absWorkingDir: app,
    });
    const browser = await launchChromium();

    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto('about:blank');
      await page.addScriptTag({ content: bundled.outputFiles[0].text });
      await page.waitForFunction(() => 'ndgraphResult' in globalThis, undefined, { timeout: 60_000 });
      const report = (await page.evaluate(() => (globalThis as { ndgraphResult?: unknown }).ndgraphResult)) as { losses: number[]; accuracy: number };
      console.log(`(c) in Chromium: ${JSON.stringify(report)}`);
      expect(errors).toEqual([]);
      expect(report.losses[2]).toBeLessThan(report.losses[0]);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
