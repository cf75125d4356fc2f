import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { installKernelSpec } from '../../lib/jupyter';
import { projectRoot } from '../../lib/engine/runs';

// Needs Jupyter's client library (installed with nbclient by scripts/install.sh) and the built library.
const python = '/usr/bin/python3';
const hasClient = spawnSync(python, ['-c', 'import jupyter_client'], { encoding: 'utf8' }).status === 0;
const skip = process.env.WRAPLAB_SKIP_NOTEBOOKS === '1' ? 'WRAPLAB_SKIP_NOTEBOOKS=1' : !hasClient ? 'no jupyter_client for /usr/bin/python3' : false;

test('Kernel → Interrupt in a real tslab kernel stops a training cell, saves a checkpoint and says so; the kernel lives on', { skip, timeout: 240_000 }, () => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-kint-'));
  try {
    const root = projectRoot();
    const r = spawnSync(python, [path.join(root, 'tests', 'fixtures', 'notebook', 'interrupt.py'), path.join(root, 'notebooks'), '8'], {
      encoding: 'utf8',
      env: { ...process.env, JUPYTER_PATH: installKernelSpec(root), WRAPLAB_DATA: data },
      timeout: 200_000,
    });
    assert.equal(r.status, 0, r.stderr.slice(-2000));
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    assert.ok(out.training.idleAfterInterrupt !== null && out.training.idleAfterInterrupt < 2, `the cell ended ${out.training.idleAfterInterrupt} s after the interrupt`);
    const said = [...out.training.out, ...out.late].join('');
    assert.match(said, /wraplab: demo-sort: interrupted at step \d+ of 200000; checkpoint saved in .*: run the same command or cell again to resume from it/);
    assert.deepEqual(out.alive.out, ['alive 2\n']);
    const runs = fs.readdirSync(path.join(data, 'runs'));
    assert.ok(runs.some((d) => fs.existsSync(path.join(data, 'runs', d, 'checkpoint'))), 'a resumable checkpoint');
    assert.ok(!out.setup.out.join('').includes('ERROR'));
  } finally {
    fs.rmSync(data, { recursive: true, force: true });
  }
});
