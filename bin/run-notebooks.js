#!/usr/bin/env node
'use strict';
// npm run notebooks -- [--preset P] [PATTERN]: execute notebooks headless; non-zero exit on any cell error.
// npm run notebooks -- --commit [PATTERN]: execute at laptop and write the outputs into notebooks/ (what GitHub shows).
const path = require('node:path');
const fs = require('node:fs');
const lib = path.join(__dirname, '..', 'dist', 'lib', 'jupyter.js');
if (!fs.existsSync(lib)) {
  console.error('run-notebooks: the library is not built; run `npm run build` first');
  process.exit(2);
}
const { executeNotebooks, commitNotebookOutputs } = require(lib);
const { parsePreset } = require(path.join(__dirname, '..', 'dist', 'lib', 'experiments', 'define.js'));
const args = process.argv.slice(2);
let preset;
let pattern;
let commit = false;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--preset' || args[i] === '-p') preset = args[++i];
  else if (args[i].startsWith('--preset=')) preset = args[i].slice(9);
  else if (args[i] === '--commit') commit = true;
  else if (args[i].startsWith('-')) {
    console.error(`run-notebooks: unknown option ${args[i]}; usage: npm run notebooks -- [--preset smoke|laptop|paper | --commit] [PATTERN]`);
    process.exit(2);
  } else pattern = args[i];
}
if (commit && preset !== undefined && preset !== 'laptop') {
  console.error(`run-notebooks: --commit writes the laptop outputs that the repository shows; drop --preset ${preset}`);
  process.exit(2);
}
(async () => {
  try {
    const log = (s) => console.error(s);
    const runs = commit ? await commitNotebookOutputs({ pattern, log }) : await executeNotebooks({ preset: parsePreset(preset), pattern, log });
    const failed = runs.filter((r) => !r.ok);
    for (const r of failed) console.error(`\n--- ${path.basename(r.notebook)} failed ---\n${r.error}`);
    for (const r of runs) console.log(r.output);
    console.error(`notebooks: ${runs.length - failed.length} passed, ${failed.length} failed`);
    process.exit(failed.length ? 1 : 0);
  } catch (e) {
    console.error(`run-notebooks: ${e.message}`);
    process.exit(2);
  }
})();
