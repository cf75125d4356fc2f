#!/usr/bin/env node
'use strict';
// npm run jupyter [-- lab|notebook ...]: start Jupyter with the project's own tslab kernel spec.
const path = require('node:path');
const { spawn } = require('node:child_process');
const { installKernelSpec, findJupyter } = require(path.join(__dirname, '..', 'dist', 'lib', 'jupyter.js'));
try {
  const jupyterPath = installKernelSpec();
  const jupyter = findJupyter();
  const args = process.argv.slice(2);
  const child = spawn(jupyter, args.length ? args : ['notebook', '--notebook-dir', path.join(__dirname, '..', 'notebooks')], {
    stdio: 'inherit',
    env: { ...process.env, JUPYTER_PATH: jupyterPath },
  });
  child.on('close', (c) => process.exit(c ?? 1));
} catch (e) {
  console.error(`jupyter: ${e.message}`);
  process.exit(2);
}
