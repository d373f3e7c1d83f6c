/**
 * graph, ops and nn's main entry in a real browser: bundled for the browser
 * (no Node module may sneak in), loaded into headless Chromium, where LeNet-5
 * trains on the WebAssembly SIMD kernels. The losses must be the very same
 * numbers as in Node: same seeds, same kernels, same arithmetic. Twice: on a
 * plain page (one thread), and on a cross-origin isolated page served from
 * localhost, where the kernels share their memory with a Web Worker
 * (`@ndgraph/ops/browser`) and run on two threads.
 *
 * The browser is Debian's Chromium at /usr/bin/chromium (the root `test`
 * script installs it when it is missing, see scripts/ensure-chromium.mjs),
 * or the executable named by NDGRAPH_CHROMIUM.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { CHROMIUM, launchChromium } from './chromium.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLenetSteps, type LenetStepsResult } from './lenet-steps.ts';

let bundle = '';
let threadsBundle = '';
let browser: Browser | undefined;

/** Bundles one entry script of this folder for the browser (a Node module in it fails the build). */
async function bundleForBrowser(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [join(import.meta.dirname, entry)],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `browser tests: expected a Chromium executable at ${CHROMIUM}, found none; install Debian's chromium (apt-get install -y chromium) or set NDGRAPH_CHROMIUM to a Chromium or Chrome executable`,
    );
  }
  bundle = await bundleForBrowser('browser-entry.ts');
  threadsBundle = await bundleForBrowser('browser-threads-entry.ts');
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

/** Serves a page that loads `script`, cross-origin isolated (the headers that allow SharedArrayBuffer). */
async function isolatedPage(script: string): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
    if (request.url === '/bundle.js') {
      response.writeHead(200, { ...isolation, 'Content-Type': 'text/javascript' }).end(script);
    } else {
      response.writeHead(200, { ...isolation, 'Content-Type': 'text/html' }).end('<!doctype html><script src="/bundle.js"></script>');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://localhost:${(server.address() as AddressInfo).port}/` };
}

describe('in a browser (headless Chromium)', () => {
  it('trains LeNet-5 on the WebAssembly kernels with the same losses as Node', async () => {
    const page = await browser!.newPage();
    const consoleErrors: string[] = [];
    page.on('pageerror', (error) => consoleErrors.push(error.message));
    await page.goto('about:blank');
    await page.addScriptTag({ content: bundle });
    await page.waitForFunction(() => 'ndgraphResult' in globalThis || 'ndgraphError' in globalThis, undefined, { timeout: 60_000 });
    const error = await page.evaluate(() => (globalThis as { ndgraphError?: string }).ndgraphError);
    expect(error, 'the page threw').toBeUndefined();
    expect(consoleErrors).toEqual([]);
    const inBrowser = (await page.evaluate(() => (globalThis as { ndgraphResult?: unknown }).ndgraphResult)) as LenetStepsResult;
    await page.close();

    // A page that is not cross-origin isolated gets no SharedArrayBuffer: the
    // kernels run on an ordinary memory, one thread.
    expect(inBrowser.wasmKernels).toBe(true);
    expect(inBrowser.sharedMemory).toBe(false);
    expect(inBrowser.losses).toHaveLength(10);
    expect(inBrowser.losses[9]).toBeLessThan(inBrowser.losses[0]);
    expect(inBrowser.conv2dGradcheckOk).toBe(true);

    const inNode = runLenetSteps();
    expect(inNode.wasmKernels).toBe(true);
    expect(inBrowser.losses).toEqual(inNode.losses);
    expect(inBrowser.testAccuracy).toBe(inNode.testAccuracy);
    // The float64 gradient check's error agrees closely, not to the bit: with Debian's
    // Chromium 156.0.8078.114 its last bits differ from Node 20's (156.0.8078.73 gave
    // the same bits). The float32 training above must match exactly.
    expect(Math.abs(inBrowser.conv2dGradcheckError - inNode.conv2dGradcheckError)).toBeLessThan(1e-6 * inNode.conv2dGradcheckError);
  }, 120_000);

  it('trains on two threads on a cross-origin isolated page, with the same losses as Node on one', async () => {
    const { server, url } = await isolatedPage(threadsBundle);
    try {
      const page = await browser!.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      await page.goto(url);
      await page.waitForFunction(() => 'ndgraphResult' in globalThis || 'ndgraphError' in globalThis, undefined, { timeout: 60_000 });
      const error = await page.evaluate(() => (globalThis as { ndgraphError?: string }).ndgraphError);
      expect(error, 'the page threw').toBeUndefined();
      expect(pageErrors).toEqual([]);
      const inBrowser = (await page.evaluate(() => (globalThis as { ndgraphResult?: unknown }).ndgraphResult)) as LenetStepsResult & {
        threads: number;
        crossOriginIsolated: boolean;
        callsWithHelpers: number;
      };
      await page.close();

      expect(inBrowser.crossOriginIsolated).toBe(true);
      expect(inBrowser.sharedMemory).toBe(true);
      expect(inBrowser.threads).toBe(2);
      expect(inBrowser.callsWithHelpers, 'kernel calls the worker took part in').toBeGreaterThan(0);
      const inNode = runLenetSteps();
      expect(inBrowser.losses).toEqual(inNode.losses);
      expect(inBrowser.testAccuracy).toBe(inNode.testAccuracy);
    } finally {
      server.close();
    }
  }, 120_000);

  it('the examples/browser page fetches MNIST, parses it without fs and trains on two threads', async () => {
    const { serveExample } = await import('../../examples/browser/serve.ts');
    const { server, url } = await serveExample();
    try {
      const page = await browser!.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      await page.goto(`${url}?train=1024`);
      await page.waitForFunction(() => 'ndgraphResult' in globalThis || 'ndgraphError' in globalThis, undefined, { timeout: 90_000 });
      const error = await page.evaluate(() => (globalThis as { ndgraphError?: string }).ndgraphError);
      expect(error, 'the page threw').toBeUndefined();
      expect(pageErrors).toEqual([]);
      const result = (await page.evaluate(() => (globalThis as { ndgraphResult?: unknown }).ndgraphResult)) as {
        threads: number;
        steps: number;
        testAccuracy: number;
      };
      expect(result.threads).toBe(2);
      expect(result.steps).toBe(16);
      expect(result.testAccuracy).toBeGreaterThan(0.5);
      expect(await page.textContent('#status')).toBe('done');
      await page.close();
    } finally {
      server.close();
    }
  }, 120_000);
});
