import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { committableNotebook, executeNotebooks, listNotebooks } from '../../lib/jupyter';

// Every notebook must execute headless at `smoke`. Needs Jupyter (nbconvert + nbclient) and Chromium, which
// scripts/install.sh installs. WRAPLAB_SKIP_NOTEBOOKS=1 opts out on a machine without them.
const skip = process.env.WRAPLAB_SKIP_NOTEBOOKS === '1' ? 'WRAPLAB_SKIP_NOTEBOOKS=1' : false;
const data = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-nb-'));

for (const nb of listNotebooks()) {
  const name = path.basename(nb, '.ipynb');
  test(`notebook ${name} executes headless at smoke`, { skip, timeout: 900_000 }, async () => {
    const saved = process.env.WRAPLAB_DATA;
    process.env.WRAPLAB_DATA = data; // runs shared between notebooks of this test file, kept out of data/
    try {
      const runs = await executeNotebooks({ preset: 'smoke', pattern: name, outDir: path.join(data, 'executed') });
      assert.equal(runs.length, 1);
      assert.ok(runs[0].ok, runs[0].error);
      const executed = JSON.parse(fs.readFileSync(runs[0].output, 'utf8'));
      const outputs = executed.cells.flatMap((c: { outputs?: unknown[] }) => c.outputs ?? []);
      assert.ok(!outputs.some((o: { output_type?: string }) => o.output_type === 'error'), 'no error outputs');
      if (name === '00-engine-tour') {
        assert.ok(outputs.some((o: { data?: Record<string, unknown> }) => o.data?.['application/vnd.plotly.v1+json'] && o.data?.['image/png']), 'a figure with plotly JSON and a PNG');
        assert.ok(JSON.stringify(outputs).includes('bit-identical after reload: true'));
        const code = executed.cells.filter((c: { cell_type: string }) => c.cell_type === 'code');
        assert.deepEqual(code.map((c: { execution_count: number | null }) => c.execution_count), code.map((_: unknown, i: number) => i + 1), 'In [1], In [2], ...');
        // What `npm run notebooks -- --commit` writes: outputs kept, the figure's plotly.js loader and nbclient's timestamps dropped.
        const committed = committableNotebook(executed);
        const figures = committed.cells.flatMap((c) => c.outputs ?? []).filter((o) => o.data?.['image/png']);
        assert.ok(figures.length > 0 && figures.every((o) => o.data?.['application/vnd.plotly.v1+json'] && !o.data?.['text/html']), 'figures keep PNG and plotly JSON, not the HTML loader');
        assert.ok(committed.cells.every((c) => !(c.metadata ?? {}).execution), 'no per-cell timestamps');
        assert.ok(JSON.stringify(committed).length < JSON.stringify(executed).length - 4e6, 'the 4.85 MB plotly.js is not committed');
        assert.deepEqual(committed.cells.map((c) => (c as { id?: string }).id), executed.cells.map((c: { id?: string }) => c.id), 'cell ids kept');
      }
    } finally {
      if (saved === undefined) delete process.env.WRAPLAB_DATA;
      else process.env.WRAPLAB_DATA = saved;
    }
  });
}

test('notebooks read like the paper: a parameters cell first, short lines, the public API only, no configs as strings', () => {
  for (const nb of listNotebooks()) {
    const name = path.basename(nb);
    const cells = JSON.parse(fs.readFileSync(nb, 'utf8')).cells as { cell_type: string; id?: string; metadata: { tags?: string[] }; source: string[] }[];
    const code = cells.filter((c) => c.cell_type === 'code');
    assert.ok(code[0].metadata.tags?.includes('parameters'), `${name}: the first code cell is tagged "parameters"`);
    assert.match(code[0].source.join(''), /const preset = .*\nconst seed = /, `${name}: the parameters cell sets the preset and the seed`);
    assert.ok(cells.every((c) => typeof c.id === 'string' && c.id.length > 0), `${name}: every cell has an id`);
    for (const [i, c] of code.entries()) {
      const src = c.source.join('');
      for (const line of src.split('\n')) assert.ok(line.length <= 100, `${name} cell ${i}: ${line.length} characters: ${line}`);
      assert.doesNotMatch(src, /JSON\.stringify/, `${name} cell ${i}: no configs built as strings`);
      assert.doesNotMatch(src, /from '\.\.\/dist\/lib\/|require\('\.\.\/dist\/lib\//, `${name} cell ${i}: only the library's public entry point`);
      assert.doesNotMatch(src, /sets: \[|`[a-z]+\.[a-zA-Z.]+=\$\{/, `${name} cell ${i}: overrides are objects, not --set strings`);
    }
  }
});
