// Compiles the AssemblyScript kernels (packages/ops/assembly/) to WebAssembly
// and writes them, base64-encoded, into src/kernels/wasm/kernels.generated.ts,
// so browsers and Node load them without file access. Three variants are built
// from the same sources: one importing an ordinary memory, one importing a
// shared memory (for threads; browsers allow shared memory only on
// cross-origin-isolated pages), and the shared one with relaxed SIMD's fused
// multiply-add in its micro-kernels (opt-in, scripts/relaxed-simd.mjs). The generated file is kept in the repository
// (a fresh clone works before any build) and records a hash of the sources it
// came from; a test compares that hash with the sources.
//
//   node scripts/build-wasm.mjs          build, write the module if it changed
//   node scripts/build-wasm.mjs --check  exit 1 when the module is stale
//
// Runs on install (the package's `prepare` script).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { toRelaxed } from './relaxed-simd.mjs';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const assemblyDir = join(packageDir, 'assembly');
export const generatedFile = join(packageDir, 'src', 'kernels', 'wasm', 'kernels.generated.ts');
export const buildCommand = 'pnpm --filter @ndgraph/ops build:wasm';
/**
 * Chrome (since version 114) compiles modules synchronously on its main
 * thread only up to this size; the loader compiles synchronously.
 */
const SYNC_COMPILE_LIMIT_BYTES = 8 * 1024 * 1024;
/** The largest shared memory the shared variant accepts, in 64 KiB pages (4 GiB, all of wasm32). */
const SHARED_MAXIMUM_PAGES = 65536;

/** The files that decide the compiled output: the sources and the compiler options (not the editor's tsconfig). */
function isBuildInput(relativePath) {
  return relativePath.endsWith('.ts') || relativePath === 'asconfig.json';
}

function listFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? listFiles(path) : [path];
  });
}

/**
 * SHA-256 over the build inputs under `dir`, in sorted order of their paths
 * (with `/` separators), each hashed as path, NUL, content with LF line
 * endings, NUL — so a checkout with CRLF line endings hashes the same.
 */
export function hashAssemblySources(dir = assemblyDir) {
  const files = listFiles(dir)
    .map((path) => relative(dir, path).split(sep).join('/'))
    .filter(isBuildInput)
    .sort();
  const hash = createHash('sha256');
  for (const file of files) {
    const content = readFileSync(join(dir, file), 'utf8').replace(/\r\n/g, '\n');
    hash.update(file).update('\0').update(content).update('\0');
  }
  return `sha256-${hash.digest('hex')}`;
}

/** The source hash recorded in the generated module, or null when there is none. */
export function readGeneratedHash(file = generatedFile) {
  if (!existsSync(file)) return null;
  const match = /WASM_KERNELS_SOURCE_HASH = '([^']+)'/.exec(readFileSync(file, 'utf8'));
  return match ? match[1] : null;
}

/** Compiles the sources in `dir` with the options in its asconfig.json plus `extraArgs`; returns the binary. */
async function compileVariant(asc, extraArgs, dir = assemblyDir) {
  let binary = null;
  const result = await asc.main(['--config', join(dir, 'asconfig.json'), '--outFile', 'kernels.wasm', ...extraArgs], {
    writeFile(name, contents) {
      if (name.endsWith('.wasm')) binary = contents;
    },
  });
  if (result.error) throw new Error(`AssemblyScript compilation failed: ${result.error.message}\n${result.stderr.toString()}`);
  if (!binary) throw new Error('AssemblyScript compilation produced no .wasm output');
  return binary;
}

async function compile() {
  const { default: asc } = await import('assemblyscript/asc');
  const plain = await compileVariant(asc, ['--importMemory']);
  const sharedArgs = ['--importMemory', '--sharedMemory', '--maximumMemory', String(SHARED_MAXIMUM_PAGES), '--enable', 'threads'];
  const shared = await compileVariant(asc, sharedArgs);
  // The opt-in relaxed-SIMD module (shared memory only: it is for Node and cross-origin-isolated pages).
  const relaxedDir = mkdtempSync(join(tmpdir(), 'ndgraph-relaxed-'));
  let sharedRelaxed;
  try {
    for (const file of listFiles(assemblyDir)) {
      const name = relative(assemblyDir, file);
      if (!isBuildInput(name.split(sep).join('/'))) continue;
      mkdirSync(dirname(join(relaxedDir, name)), { recursive: true });
      const text = readFileSync(file, 'utf8');
      writeFileSync(join(relaxedDir, name), name.endsWith('.ts') ? toRelaxed(text).text : text);
    }
    sharedRelaxed = await compileVariant(asc, [...sharedArgs, '--enable', 'relaxed-simd'], relaxedDir);
  } finally {
    rmSync(relaxedDir, { recursive: true, force: true });
  }
  return { plain, shared, sharedRelaxed, version: asc.version };
}

function renderModule(compiled, hash) {
  const base64 = (binary) => Buffer.from(binary).toString('base64');
  return `// Generated by packages/ops/scripts/build-wasm.mjs from packages/ops/assembly/. Do not edit.
// After changing the AssemblyScript sources, rebuild with: ${buildCommand}
// Compiled with AssemblyScript ${compiled.version}; ${compiled.plain.length}, ${compiled.shared.length} and ${compiled.sharedRelaxed.length} bytes of WebAssembly.

/** SHA-256 of the AssemblyScript sources this module was compiled from. */
export const WASM_KERNELS_SOURCE_HASH = '${hash}';

/** The kernels, importing an ordinary memory as env.memory; base64-encoded. */
export const WASM_KERNELS_BASE64 =
  '${base64(compiled.plain)}';

/** The same kernels importing a shared memory (at most ${SHARED_MAXIMUM_PAGES} pages) as env.memory, for threads; base64-encoded. */
export const WASM_KERNELS_SHARED_BASE64 =
  '${base64(compiled.shared)}';

/**
 * The shared-memory kernels with relaxed SIMD's fused multiply-add in the GEMM and
 * convolution micro-kernels (opt-in: other rounding); base64-encoded.
 */
export const WASM_KERNELS_SHARED_RELAXED_BASE64 =
  '${base64(compiled.sharedRelaxed)}';

/** The largest shared memory WASM_KERNELS_SHARED_BASE64 accepts, in 64 KiB pages. */
export const WASM_KERNELS_SHARED_MAXIMUM_PAGES = ${SHARED_MAXIMUM_PAGES};
`;
}

async function main(args) {
  const hash = hashAssemblySources();
  if (args.includes('--check')) {
    const recorded = readGeneratedHash();
    if (recorded !== hash) {
      console.error(`${relative(process.cwd(), generatedFile)} is stale (sources ${hash}, module built from ${recorded ?? 'nothing'}). Run: ${buildCommand}`);
      process.exit(1);
    }
    console.log(`wasm kernels are up to date (${hash})`);
    return;
  }
  let compiled;
  try {
    compiled = await compile();
  } catch (error) {
    // Without the compiler (e.g. a production install) the committed module stays in use.
    if (error?.code === 'ERR_MODULE_NOT_FOUND' && readGeneratedHash() !== null) {
      console.warn('assemblyscript is not installed; keeping the committed wasm kernels');
      return;
    }
    throw error;
  }
  for (const binary of [compiled.plain, compiled.shared, compiled.sharedRelaxed]) {
    if (binary.length > SYNC_COMPILE_LIMIT_BYTES) {
      console.warn(
        `warning: a wasm kernels module is ${binary.length} bytes; browsers' main threads refuse to compile more than ${SYNC_COMPILE_LIMIT_BYTES} synchronously`,
      );
    }
  }
  const text = renderModule(compiled, hash);
  const previous = existsSync(generatedFile) ? readFileSync(generatedFile, 'utf8') : null;
  if (previous === text) {
    console.log(`wasm kernels are up to date (${compiled.plain.length} and ${compiled.shared.length} bytes)`);
    return;
  }
  writeFileSync(generatedFile, text);
  console.log(`wrote ${relative(process.cwd(), generatedFile)} (${compiled.plain.length} and ${compiled.shared.length} bytes, ${hash})`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
