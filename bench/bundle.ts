/**
 * Bundles a benchmark engine script (bench/<engine>.ts and everything it
 * imports from the workspace) into one plain JavaScript file that `node` runs
 * without a TypeScript loader. The engine processes run from these bundles:
 * that is how a user would deploy either library, and it keeps the loader
 * out of the measurements — under tsx, Node 20 runs the loader's module hooks
 * in a thread of their own, which adds about 40 MB to every process's RSS.
 *
 * TensorFlow.js's packages and onnxruntime-node are imported from
 * node_modules as published (their CommonJS builds); only the one deep import of ES-module source,
 * tfjs-core's gradient registrations, is bundled, because its imports have no
 * file extensions and plain Node does not resolve those.
 */
import { build, type Plugin } from 'esbuild';
import { join } from 'node:path';
import { BENCH_DIR, TMP_DIR } from './common.ts';

/**
 * Keeps the TensorFlow.js packages themselves (not deep paths into them) out
 * of the bundle, and onnxruntime-node (a native addon, loaded from
 * node_modules as published).
 */
const enginePackagesExternal: Plugin = {
  name: 'engine-packages-external',
  setup(b) {
    b.onResolve({ filter: /^(@tensorflow\/tfjs-(core|backend-cpu|backend-wasm)|onnxruntime-node)$/ }, (args) => ({ path: args.path, external: true }));
  },
};

/** Writes bench/results/tmp/<engine>.mjs and returns its path. */
export async function bundleEngine(engine: string): Promise<string> {
  const outfile = join(TMP_DIR, `${engine}.mjs`);
  await bundleScript({ entry: join(BENCH_DIR, `${engine}.ts`) }, outfile);
  return outfile;
}

/**
 * Bundles one script (a file, or `source` resolved as if it were a file in
 * `resolveDir`) into the ES module `outfile`, for plain node.
 */
export async function bundleScript(from: { entry: string } | { source: string; resolveDir: string }, outfile: string): Promise<void> {
  await build({
    ...('entry' in from ? { entryPoints: [from.entry] } : { stdin: { contents: from.source, resolveDir: from.resolveDir, loader: 'ts' } }),
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // CommonJS dependencies bundled into an ES module still call require().
    banner: { js: "import { createRequire as createRequireForBundle } from 'node:module'; const require = createRequireForBundle(import.meta.url);" },
    define: { BENCH_BUNDLE: 'true' },
    plugins: [enginePackagesExternal],
    logLevel: 'error',
  });
}
