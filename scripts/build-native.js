#!/usr/bin/env node
// Builds lib/engine/native/kernels.c into dist/lib/engine/native/ (npm run build and prepare run this after tsc).
// Without a C compiler it prints one line and exits 0: the library then runs its JS kernels (provider.ts).
// Flags: no fast-math and -ffp-contract=off keep the C kernels bit-identical to the JS ones they replace.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const src = path.join(root, 'lib', 'engine', 'native', 'kernels.c');
const outDir = path.join(root, 'dist', 'lib', 'engine', 'native');
const ext = process.platform === 'darwin' ? 'dylib' : process.platform === 'win32' ? 'dll' : 'so';
const out = path.join(outDir, `libwraplab_kernels.${ext}`);

if (process.env.WRAPLAB_NATIVE === 'off') {
  console.error('build-native: WRAPLAB_NATIVE=off, not building the C kernels');
  process.exit(0);
}
const cc = process.env.CC || 'cc';
fs.mkdirSync(outDir, { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
const base = ['-O3', '-std=c11', '-fPIC', '-shared', '-fvisibility=hidden', '-fno-fast-math', '-ffp-contract=off', src, '-o', tmp, '-lm'];
// -march=native lets the compiler vectorise the loops for this CPU (IEEE operations, so the same bits).
for (const flags of [['-march=native', ...base], base]) {
  const r = spawnSync(cc, flags, { encoding: 'utf8' });
  if (r.error) {
    console.error(`build-native: no C compiler (${cc}: ${r.error.code}); the JS kernels will run. Install gcc (apt-get install gcc) or set CC`);
    process.exit(0);
  }
  if (r.status === 0) {
    fs.renameSync(tmp, out); // atomic: a half-written library is never loaded
    console.error(`build-native: ${path.relative(root, out)}`);
    process.exit(0);
  }
  fs.rmSync(tmp, { force: true });
  if (flags === base) {
    console.error(`build-native: ${cc} failed; the JS kernels will run.\n${r.stderr.trim()}`);
    process.exit(0);
  }
}
