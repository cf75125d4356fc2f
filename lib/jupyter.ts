/**
 * Jupyter integration without touching the user's global Jupyter config: the tslab kernel spec lives in
 * <project>/.jupyter/kernels/tslab (found through JUPYTER_PATH), and notebooks execute headless through
 * Jupyter's nbconvert/nbclient. Used by `npm run notebooks`, `npm run jupyter` and the tests.
 */
import { spawnSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from './engine/fsutil';
import { dataDir, projectRoot } from './engine/runs';
import { PRESETS, Preset, UsageError } from './experiments/define';

export const KERNEL_NAME = 'tslab';

/** Writes the project-local tslab kernel spec (absolute paths: Jupyter 7.4 has no {resource_dir}); returns JUPYTER_PATH. */
export function installKernelSpec(root = projectRoot()): string {
  const tslabBin = path.join(root, 'node_modules', 'tslab', 'bin', 'tslab');
  if (!fs.existsSync(tslabBin)) throw new UsageError(`tslab is not installed (${tslabBin} missing); run npm ci`);
  const jupyterPath = path.join(root, '.jupyter');
  writeJsonAtomic(path.join(jupyterPath, 'kernels', KERNEL_NAME, 'kernel.json'), {
    argv: [process.execPath, tslabBin, 'kernel', '--config-path', '{connection_file}'],
    display_name: 'TypeScript (wraplab tslab)',
    language: 'typescript',
  });
  return jupyterPath;
}

/** The jupyter executable, or a clear error naming the fix. */
export function findJupyter(): string {
  const candidates = [process.env.WRAPLAB_JUPYTER, 'jupyter'].filter(Boolean) as string[];
  for (const c of candidates) {
    const r = spawnSync(c, ['nbconvert', '--version'], { encoding: 'utf8' });
    if (r.status === 0) return c;
  }
  throw new UsageError(
    'executing notebooks needs Jupyter nbconvert and nbclient: install them (Debian: `apt-get install jupyter-nbconvert python3-nbclient python3-ipykernel`), or set WRAPLAB_JUPYTER to a jupyter executable',
  );
}

const SUBCOMMANDS = ['notebook', 'lab', 'nbclassic', 'server'];
const FRONT_END_PACKAGES: Record<string, string> = {
  notebook: 'the classic Notebook: `apt-get install jupyter-notebook` (Debian), or `pip install notebook`',
  nbclassic: '`pip install nbclassic`',
  lab: 'JupyterLab, which Debian does not package: `pip install jupyterlab` (or use `npm run jupyter`, the classic Notebook)',
  server: '`pip install jupyter-server`',
};

/**
 * The command line `npm run jupyter -- ARGS` starts: a front end (notebook by default; `lab` etc. as the first
 * argument), the notebooks folder as its root unless ARGS name one, `--allow-root` when run as root (Jupyter refuses
 * root otherwise), then ARGS appended.
 */
export function jupyterLaunchArgs(args: readonly string[], opts: { root?: string; isRoot?: boolean } = {}): string[] {
  const root = opts.root ?? projectRoot();
  const [first, ...rest] = args;
  const sub = first !== undefined && SUBCOMMANDS.includes(first) ? first : 'notebook';
  const extra = first !== undefined && SUBCOMMANDS.includes(first) ? rest : [...args];
  const out = [sub];
  const names = (a: string) => a.split('=')[0];
  if (!extra.some((a) => ['--notebook-dir', '--ServerApp.root_dir', '--NotebookApp.notebook_dir'].includes(names(a)))) out.push(`--notebook-dir=${path.join(root, 'notebooks')}`);
  if ((opts.isRoot ?? process.getuid?.() === 0) && !extra.includes('--allow-root')) out.push('--allow-root');
  return [...out, ...extra];
}

/** The jupyter executable whose `sub` front end is installed, or one error naming the package to install. */
export function findJupyterFrontEnd(sub: string): string {
  const candidates = [process.env.WRAPLAB_JUPYTER, 'jupyter'].filter(Boolean) as string[];
  for (const c of candidates) {
    const r = spawnSync(c, [sub, '--version'], { encoding: 'utf8' });
    if (r.status === 0) return c;
  }
  throw new UsageError(`\`jupyter ${sub}\` is not installed; install ${FRONT_END_PACKAGES[sub] ?? `the package that provides it`}, or set WRAPLAB_JUPYTER to a jupyter executable that has it`);
}

export function listNotebooks(pattern?: string, root = projectRoot()): string[] {
  const dir = path.join(root, 'notebooks');
  const all = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort() : [];
  const chosen = pattern ? all.filter((f) => f.includes(pattern)) : all;
  if (chosen.length === 0) throw new UsageError(`no notebook in ${dir} matches "${pattern ?? ''}"; have: ${all.join(', ') || '(none)'}`);
  return chosen.map((f) => path.join(dir, f));
}

export interface NotebookRun {
  notebook: string;
  output: string;
  ok: boolean;
  seconds: number;
  error?: string;
}

/** Executes notebooks headless at a preset; each executed copy goes to outDir. Stops at nothing: reports all. */
export async function executeNotebooks(opts: { preset: Preset; pattern?: string; outDir?: string; timeoutSeconds?: number; log?: (s: string) => void }): Promise<NotebookRun[]> {
  if (!(PRESETS as readonly string[]).includes(opts.preset)) throw new UsageError(`unknown preset "${opts.preset}"`);
  const root = projectRoot();
  if (!fs.existsSync(path.join(root, 'dist', 'lib', 'index.js'))) throw new UsageError('the library is not built: run `npm run build` first (notebooks import dist/)');
  const jupyter = findJupyter();
  const jupyterPath = installKernelSpec(root);
  const outDir = opts.outDir ?? path.join(dataDir(), 'notebooks-executed', opts.preset);
  fs.mkdirSync(outDir, { recursive: true });
  const results: NotebookRun[] = [];
  for (const nb of listNotebooks(opts.pattern, root)) {
    const start = Date.now();
    opts.log?.(`notebooks: executing ${path.basename(nb)} (preset ${opts.preset})`);
    const args = [
      'nbconvert', '--to', 'notebook', '--execute',
      `--ExecutePreprocessor.kernel_name=${KERNEL_NAME}`,
      `--ExecutePreprocessor.timeout=${opts.timeoutSeconds ?? 3600}`,
      '--output-dir', outDir, nb,
    ];
    const env = { ...process.env, JUPYTER_PATH: jupyterPath, WRAPLAB_PRESET: opts.preset };
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      const child = spawn(jupyter, args, { env, cwd: path.dirname(nb) });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.stdout.on('data', () => {});
      child.on('close', (c) => resolve({ code: c ?? 1, stderr: err }));
    });
    const run: NotebookRun = { notebook: nb, output: path.join(outDir, path.basename(nb)), ok: code === 0, seconds: (Date.now() - start) / 1000 };
    if (!run.ok) run.error = stderr.split('\n').filter((l) => l.trim()).slice(-25).join('\n');
    else numberExecutedCells(run.output);
    opts.log?.(`notebooks: ${path.basename(nb)} ${run.ok ? 'ok' : 'FAILED'} in ${run.seconds.toFixed(1)}s`);
    results.push(run);
  }
  return results;
}

interface NotebookJson {
  cells: { cell_type: string; execution_count?: number | null; metadata?: Record<string, unknown>; outputs?: { output_type: string; data?: Record<string, unknown>; metadata?: Record<string, unknown> }[] }[];
  metadata: Record<string, unknown>;
}

/**
 * nbconvert takes a cell's number from the kernel's execute_input message, which tslab does not send, so every cell
 * of an executed copy would read `In [ ]`. A run that finished executed every code cell once, in order: number them.
 */
function numberExecutedCells(file: string): void {
  const nb = JSON.parse(fs.readFileSync(file, 'utf8')) as NotebookJson;
  let n = 0;
  for (const c of nb.cells) if (c.cell_type === 'code') c.execution_count = ++n;
  writeFileAtomic(file, JSON.stringify(nb, null, 1) + '\n');
}

/**
 * An executed notebook as it is committed: outputs and execution counts kept; dropped is what only a live kernel
 * needs or what changes from run to run without saying anything — a figure's HTML (it carries the 4.85 MB plotly.js
 * loader; the PNG that GitHub and nbconvert show and the plotly JSON that VS Code draws stay) and nbclient's
 * per-cell timestamps.
 */
export function committableNotebook(executed: NotebookJson): NotebookJson {
  const cells = executed.cells.map((c) => {
    const metadata = { ...(c.metadata ?? {}) };
    delete metadata.execution;
    if (!c.outputs) return { ...c, metadata };
    const outputs = c.outputs.map((o) => {
      const html = o.data?.['text/html'];
      const isFigure = (Array.isArray(html) ? html.join('') : String(html ?? '')).includes('wraplab-figure') && o.data?.['image/png'];
      if (!isFigure) return o;
      const data = { ...o.data };
      delete data['text/html'];
      return { ...o, data };
    });
    return { ...c, metadata, outputs };
  });
  return { ...executed, cells };
}

/**
 * `npm run notebooks -- --commit`: executes the notebooks at `laptop` (the preset whose outputs the repository shows)
 * and writes each one that ran without an error back into notebooks/ with its outputs; a notebook that fails is left
 * as it was.
 */
export async function commitNotebookOutputs(opts: { pattern?: string; log?: (s: string) => void } = {}): Promise<NotebookRun[]> {
  const runs = await executeNotebooks({ preset: 'laptop', pattern: opts.pattern, log: opts.log });
  for (const r of runs) {
    if (!r.ok) continue;
    const nb = committableNotebook(JSON.parse(fs.readFileSync(r.output, 'utf8')) as NotebookJson);
    writeFileAtomic(r.notebook, JSON.stringify(nb, null, 1) + '\n');
    opts.log?.(`notebooks: wrote ${path.relative(projectRoot(), r.notebook)} with its laptop outputs`);
  }
  return runs;
}
