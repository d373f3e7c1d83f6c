// Makes sure the browser tests (test/browser) have a Chromium to drive: on a
// Debian-like machine where we are root, installs Debian's `chromium` package
// when /usr/bin/chromium is missing. Elsewhere it only says what is missing;
// the browser test then fails with the same advice. NDGRAPH_CHROMIUM names
// another executable (a Chrome on a developer's machine, say).
//
//   node scripts/ensure-chromium.mjs      (the root `test` script runs it first)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const executable = process.env.NDGRAPH_CHROMIUM ?? '/usr/bin/chromium';

function aptGet(args) {
  const result = spawnSync('apt-get', args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? result.error.message : ''}` };
}

if (existsSync(executable)) process.exit(0);

const canInstall =
  !process.env.NDGRAPH_CHROMIUM && process.platform === 'linux' && process.getuid?.() === 0 && spawnSync('apt-get', ['--version']).status === 0;
if (!canInstall) {
  console.warn(
    process.env.NDGRAPH_CHROMIUM
      ? `ensure-chromium: NDGRAPH_CHROMIUM names ${executable}, which does not exist.`
      : `ensure-chromium: no Chromium at ${executable}, and this machine cannot install Debian's package here (needs Linux, root and apt-get).`,
  );
  console.warn('ensure-chromium: the browser tests will fail; install Chromium or set NDGRAPH_CHROMIUM to a Chromium or Chrome executable.');
  process.exit(0);
}

console.log("ensure-chromium: installing Debian's chromium for the browser tests (about a minute) …");
let install = aptGet(['install', '-y', 'chromium']);
if (!install.ok) {
  // A fresh machine may have no package lists yet.
  const update = aptGet(['update']);
  if (update.ok) install = aptGet(['install', '-y', 'chromium']);
}
if (!install.ok || !existsSync(executable)) {
  console.error(
    `ensure-chromium: expected apt-get to install chromium at ${executable}; it did not. Its last output:\n${install.output.split('\n').slice(-20).join('\n')}`,
  );
  process.exit(1);
}
console.log(`ensure-chromium: installed ${executable}`);
