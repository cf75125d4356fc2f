#!/usr/bin/env node
'use strict';
// npm run jupyter [-- lab|notebook] [-- ARGS...]: Jupyter with the project's tslab kernel spec on notebooks/.
// Extra arguments are appended; as root --allow-root is added; Ctrl-C / SIGTERM reach Jupyter, which shuts down.
const path = require('node:path');
const { spawn } = require('node:child_process');
const { installKernelSpec, findJupyterFrontEnd, jupyterLaunchArgs } = require(path.join(__dirname, '..', 'dist', 'lib', 'jupyter.js'));
try {
  const jupyterPath = installKernelSpec();
  const args = jupyterLaunchArgs(process.argv.slice(2));
  const jupyter = findJupyterFrontEnd(args[0]);
  const child = spawn(jupyter, args, { stdio: 'inherit', env: { ...process.env, JUPYTER_PATH: jupyterPath } });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('close', (code, signal) => process.exit(code ?? (signal ? 128 + (require('node:os').constants.signals[signal] ?? 1) : 1)));
} catch (e) {
  console.error(`jupyter: ${e.message}`);
  process.exit(2);
}
