#!/usr/bin/env node
'use strict';
// The CLI runs the compiled library (dist/), built by `npm ci` / `npm run build`.
const path = require('node:path');
const fs = require('node:fs');
const entry = path.join(__dirname, '..', 'dist', 'lib', 'cli.js');
if (!fs.existsSync(entry)) {
  console.error('wraplab: the library is not built; run `npm run build` (npm ci does it) in ' + path.join(__dirname, '..'));
  process.exit(2);
}
require(entry)
  .main(process.argv.slice(2))
  .then((code) => process.exit(code));
