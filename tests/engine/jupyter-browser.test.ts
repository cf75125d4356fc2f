/**
 * What a user sees: the classic Notebook that install.sh installs, driven by headless Chromium. Notebook 00 at
 * smoke runs all its cells without an error and draws interactive plotly figures (plotly.js sent once); a long
 * training cell stops within 5 s of Kernel -> Interrupt and the kernel lives on.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { installKernelSpec } from '../../lib/jupyter';
import { findChromium } from '../../lib/figures/render';
import { projectRoot } from '../../lib/engine/runs';

const root = projectRoot();

function missing(): string | null {
  if (spawnSync('jupyter', ['notebook', '--version'], { encoding: 'utf8' }).status !== 0) return 'jupyter-notebook is not installed (scripts/install.sh installs it)';
  try {
    findChromium();
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });

test('the classic Notebook in Chromium: notebook 00 runs all cells at smoke with interactive figures; Kernel -> Interrupt stops a training cell', { skip: missing() ?? false, timeout: 600_000 }, async () => {
  // A copy of the notebook beside a link to dist/, so its `../dist/lib` import resolves and autosave never
  // touches the repository's notebooks.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-jupyter-'));
  const nbDir = path.join(tmp, 'notebooks');
  fs.mkdirSync(nbDir);
  fs.symlinkSync(path.join(root, 'dist'), path.join(tmp, 'dist'));
  fs.copyFileSync(path.join(root, 'notebooks', '00-engine-tour.ipynb'), path.join(nbDir, '00.ipynb'));
  const port = await freePort();
  const token = 'wraplab-test';
  const args = ['notebook', '--no-browser', '--ip=127.0.0.1', `--port=${port}`, `--NotebookApp.token=${token}`, `--notebook-dir=${nbDir}`];
  if (process.getuid?.() === 0) args.push('--allow-root');
  const server = spawn('jupyter', args, {
    env: { ...process.env, JUPYTER_PATH: installKernelSpec(root), WRAPLAB_PRESET: 'smoke', WRAPLAB_DATA: path.join(tmp, 'data'), JUPYTER_RUNTIME_DIR: path.join(tmp, 'runtime') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  server.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: findChromium(), args: ['--no-sandbox'] });
  try {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      const up = await fetch(`${base}/api?token=${token}`).then((r) => r.ok, () => false);
      if (up) break;
      if (i > 120) throw new Error(`the Jupyter server did not start:\n${log.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const page = await browser.newPage();
    await page.goto(`${base}/notebooks/00.ipynb?token=${token}`);
    type J = { Jupyter: any };
    await page.waitForFunction(() => (window as unknown as J).Jupyter?.notebook?.kernel?.is_connected?.(), null, { timeout: 120_000 });
    await page.evaluate(() => (window as unknown as J).Jupyter.notebook.execute_all_cells());
    // Done when every code cell has an execution count (not `*`) and the kernel is idle.
    await page.waitForFunction(
      () => {
        const nb = (window as unknown as J).Jupyter.notebook;
        const code = nb.get_cells().filter((c: any) => c.cell_type === 'code' && c.get_text().trim());
        return code.every((c: any) => typeof c.input_prompt_number === 'number') && document.querySelector('#kernel_indicator_icon.kernel_idle_icon') !== null;
      },
      null,
      { timeout: 420_000, polling: 1000 },
    );
    // RequireJS loads asynchronously: give the plots a moment to be drawn.
    await page.waitForFunction(() => document.querySelectorAll('.wraplab-figure.js-plotly-plot').length > 0, null, { timeout: 20_000 }).catch(() => {});
    const seen = await page.evaluate(() => ({
      errors: Array.from(document.querySelectorAll('.output_error')).map((e) => (e as HTMLElement).innerText.slice(0, 500)),
      plots: document.querySelectorAll('.wraplab-figure.js-plotly-plot').length,
      figures: document.querySelectorAll('.wraplab-figure').length,
      stderr: Array.from(document.querySelectorAll('.output_stderr')).map((e) => (e as HTMLElement).innerText.slice(0, 200)),
    }));
    assert.deepEqual(seen.errors, [], 'no cell has an error');
    assert.ok(seen.figures > 0 && seen.plots === seen.figures, `every figure is an interactive plotly plot (${seen.plots} of ${seen.figures})`);
    assert.deepEqual(seen.stderr, [], 'informational lines are not in red stderr boxes');

    // Interrupt: a long training cell, then Kernel -> Interrupt.
    await page.evaluate(() => {
      const nb = (window as unknown as J).Jupyter.notebook;
      const cell = nb.insert_cell_at_bottom('code');
      cell.set_text("const long = await wl.experiments.run(wl.experiments.getExperiment('demo-sort'), { preset: 'smoke', overrides: { train: { steps: 200000, checkpointEvery: 0, evalEvery: 0 } } });");
      cell.execute();
    });
    await page.waitForTimeout(8000);
    const before = await page.evaluate(() => (window as unknown as J).Jupyter.notebook.get_cells().at(-1).input_prompt_number);
    assert.equal(before, '*', 'the training cell is still running after 8 s');
    const t0 = Date.now();
    await page.evaluate(() => (window as unknown as J).Jupyter.notebook.kernel.interrupt());
    await page.waitForFunction(() => typeof (window as unknown as J).Jupyter.notebook.get_cells().at(-1).input_prompt_number === 'number', null, { timeout: 30_000, polling: 100 });
    const stopped = (Date.now() - t0) / 1000;
    assert.ok(stopped < 5, `the cell stopped ${stopped.toFixed(1)} s after Kernel -> Interrupt`);
    // The cell says where its checkpoint is (printed before tslab ends the cell: the page drops later output).
    const said = await page.evaluate(() => (window as unknown as J).Jupyter.notebook.get_cells().at(-1).output_area.element[0].innerText as string);
    assert.match(said, /wraplab: demo-sort: interrupted at step \d+ of 200000 \(it stops after the step in progress\); checkpoint saved in .*: run the same command or cell again to resume from it/);
    // The kernel lives on.
    await page.waitForFunction(() => document.querySelector('#kernel_indicator_icon.kernel_idle_icon') !== null, null, { timeout: 30_000 });
    await page.waitForTimeout(1000);
    await page.evaluate(() => {
      const nb = (window as unknown as J).Jupyter.notebook;
      const cell = nb.insert_cell_at_bottom('code');
      cell.set_text("console.log('alive', 1 + 1);");
      nb.execute_cells([nb.ncells() - 1]);
    });
    const last = () => page.evaluate(() => { const c = (window as unknown as J).Jupyter.notebook.get_cells().at(-1); const k = (window as unknown as J).Jupyter.notebook.kernel; return `prompt ${c.input_prompt_number}, output "${c.output_area.element[0].innerText}", kernel connected ${k.is_connected()}, indicator ${document.querySelector('#kernel_indicator_icon')?.className}`; });
    await page.waitForFunction(() => /alive 2/.test((window as unknown as J).Jupyter.notebook.get_cells().at(-1).output_area.element[0].innerText), null, { timeout: 30_000 }).catch(async () => assert.fail(`after the interrupt a new cell shows: ${await last()}`));
  } finally {
    await browser.close();
    server.kill('SIGTERM');
    await new Promise((r) => server.once('close', r));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
