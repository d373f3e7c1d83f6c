// Compiles the native kernels (packages/ops/native/*.c) into a Node-API
// addon, native/build/ndgraph-native.node, with this machine's C compiler,
// when it has one. The kernels are opt-in (enableNativeKernels() of
// @ndgraph/ops/node); without the addon the WebAssembly kernels run, so this
// script NEVER fails an install: when there is no compiler, no Node headers,
// or the compilation fails, it prints one line saying so and exits 0.
//
// The addon is compiled with -march=native: it uses every vector
// instruction of the machine that builds it (AVX-512, AVX2, FMA) and may
// not run on another one. That is intended: it is built where it runs, on
// install. (Copying node_modules to a different machine needs a rebuild.)
//
//   node scripts/build-native.mjs          build when the sources, compiler or CPU changed since the last build
//   node scripts/build-native.mjs --force  build anyway
//   CC=clang node scripts/build-native.mjs use that compiler (default: the first of cc, gcc, clang that runs)
//   NDGRAPH_SKIP_NATIVE_BUILD=1            do nothing
//
// Runs on install (the package's `install` script, and `prepare` after the
// wasm build in a checkout of the repository).
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const nativeDir = join(packageDir, 'native');
export const addonFile = join(nativeDir, 'build', 'ndgraph-native.node');
/** What the last build was made from (sources, compiler, CPU, flags), next to the addon. */
export const stampFile = join(nativeDir, 'build', 'ndgraph-native.json');
export const buildCommand = 'node packages/ops/scripts/build-native.mjs';

const SOURCES = ['addon.c', 'gemm.c', 'conv.c', 'conv-single-channel.c', 'conv-filter-direct.c', 'threads.c'];
/** -ffp-contract=fast: a * b + c becomes a fused multiply-add. gnu11: C11 with the vector extensions. */
const FLAGS = ['-O3', '-falign-loops=32', '-ffp-contract=fast', '-std=gnu11', '-fPIC', '-shared', '-fvisibility=hidden', '-pthread'];

/** SHA-256 of the C sources and headers under native/ (LF line endings), in sorted order. */
export function hashNativeSources() {
  const files = readdirSync(nativeDir)
    .filter((name) => name.endsWith('.c') || name.endsWith('.h'))
    .sort();
  const hash = createHash('sha256');
  for (const file of files)
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(join(nativeDir, file), 'utf8').replace(/\r\n/g, '\n'))
      .update('\0');
  return `sha256-${hash.digest('hex')}`;
}

/** The stamp of the last build, or null. */
export function readBuildStamp() {
  try {
    return JSON.parse(readFileSync(stampFile, 'utf8'));
  } catch {
    return null;
  }
}

/** The first compiler that runs: $CC, then cc, gcc, clang. Returns { command, version } or null. */
export function findCompiler() {
  const candidates = process.env.CC ? [process.env.CC] : ['cc', 'gcc', 'clang'];
  for (const command of candidates) {
    const probe = spawnSync(command, ['--version'], { encoding: 'utf8' });
    if (probe.status === 0) return { command, version: (probe.stdout.split('\n')[0] || command).trim() };
  }
  return null;
}

/** The directory holding node_api.h for this Node, or null. */
export function findNodeHeaders() {
  const candidates = [join(dirname(process.execPath), '..', 'include', 'node')];
  if (process.env.npm_config_nodedir) candidates.unshift(join(process.env.npm_config_nodedir, 'include', 'node'));
  return candidates.find((dir) => existsSync(join(dir, 'node_api.h'))) ?? null;
}

function compile(compiler, headers, machineFlags, output, sourceDir = nativeDir, sources = SOURCES) {
  const platformFlags = process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : [];
  const args = [...FLAGS, ...machineFlags, ...platformFlags, '-I', headers, ...sources.map((f) => join(sourceDir, f)), '-o', output, '-lm'];
  return spawnSync(compiler.command, args, { encoding: 'utf8' });
}

/**
 * Compiles the C files of another directory (an older commit's native/,
 * for bench/native-versus.ts) with today's flags and -march=native into
 * `output`. Throws with the compiler's first error line when it fails.
 */
export function compileAddon(sourceDir, output) {
  const compiler = findCompiler();
  const headers = findNodeHeaders();
  if (!compiler || !headers) throw new Error('compileAddon: needs a C compiler and Node headers');
  // That commit's own .c files, whichever they were.
  const sources = readdirSync(sourceDir).filter((name) => name.endsWith('.c'));
  const result = compile(compiler, headers, ['-march=native'], output, sourceDir, sources);
  if (result.status !== 0)
    throw new Error(`compileAddon: ${(result.stderr || '').split('\n').find((line) => line.includes('error')) ?? 'the compiler failed'}`);
}

/** Loads the addon in a child process (an addon that crashes must not take this script with it); returns its `simd` or null. */
function probeAddon(file) {
  const load = `const m = { exports: {} }; process.dlopen(m, ${JSON.stringify(file)}); process.stdout.write(String(m.exports.simd));`;
  const probe = spawnSync(process.execPath, ['-e', load], { encoding: 'utf8' });
  return probe.status === 0 ? probe.stdout : null;
}

/** Builds the addon if needed; returns the one line to print. Throws only on a bug in this script. */
export function buildNative({ force = false } = {}) {
  if (process.env.NDGRAPH_SKIP_NATIVE_BUILD === '1') return 'native kernels: not built (NDGRAPH_SKIP_NATIVE_BUILD=1); the WebAssembly kernels will run';
  const compiler = findCompiler();
  if (!compiler) return 'native kernels: not built (no C compiler: tried $CC, cc, gcc, clang); the WebAssembly kernels will run';
  const headers = findNodeHeaders();
  if (!headers) return `native kernels: not built (no node_api.h for Node ${process.version} next to ${process.execPath}); the WebAssembly kernels will run`;
  const sources = hashNativeSources();
  const cpu = cpus()[0]?.model ?? 'unknown';
  const previous = readBuildStamp();
  const same =
    previous &&
    previous.sources === sources &&
    previous.compiler === compiler.version &&
    previous.cpu === cpu &&
    previous.flags?.slice(0, FLAGS.length).join(' ') === FLAGS.join(' ');
  if (!force && same && existsSync(addonFile)) {
    return `native kernels: up to date (${relative(process.cwd(), addonFile)}, ${previous.simd})`;
  }
  mkdirSync(dirname(addonFile), { recursive: true });
  const temporary = `${addonFile}.${process.pid}.tmp`;
  const started = performance.now();
  // -march=native first; a compiler that does not know it gets a portable build.
  let machineFlags = ['-march=native'];
  let result = compile(compiler, headers, machineFlags, temporary);
  if (result.status !== 0) {
    machineFlags = [];
    result = compile(compiler, headers, machineFlags, temporary);
  }
  if (result.status !== 0) {
    // No addon rather than one built from other sources.
    for (const file of [temporary, addonFile, stampFile]) rmSync(file, { force: true });
    const firstError = (result.stderr || result.error?.message || '').split('\n').find((line) => line.includes('error')) ?? 'see the compiler output';
    return `native kernels: not built (${compiler.command} failed: ${firstError.trim()}); the WebAssembly kernels will run`;
  }
  const simd = probeAddon(temporary);
  if (simd === null) {
    for (const file of [temporary, addonFile, stampFile]) rmSync(file, { force: true });
    return `native kernels: built with ${compiler.command}, but the addon does not load here; the WebAssembly kernels will run`;
  }
  renameSync(temporary, addonFile);
  writeFileSync(stampFile, `${JSON.stringify({ sources, compiler: compiler.version, cpu, flags: [...FLAGS, ...machineFlags], simd }, null, 2)}\n`);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  return `native kernels: built ${relative(process.cwd(), addonFile)} with ${compiler.version} (${machineFlags.join(' ') || 'portable'}, ${simd}) in ${seconds} s`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  let line;
  try {
    line = buildNative({ force: process.argv.includes('--force') });
  } catch (error) {
    line = `native kernels: not built (${error instanceof Error ? error.message : error}); the WebAssembly kernels will run`;
  }
  console.log(line);
  process.exit(0);
}
