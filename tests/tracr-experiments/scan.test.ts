/**
 * The single-weight scan (tracr-weight-scan) at smoke: every weight above minAbs is tried once, each row is the model
 * with exactly that weight at zero (checked by writing the zero into the weights, not through masks), and the
 * collapse, beyond-modal and reach summaries follow their definitions.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/engine/backend';
import { ensureStage, resolveConfig, run } from '../../lib/experiments';
import { makeTracrTask, tracrTestSets } from '../../lib/experiments/tracr/data';
import { finetuneStageOf } from '../../lib/experiments/tracr/finetune';
import { pruneParams } from '../../lib/experiments/tracr/prune';
import { weightScan } from '../../lib/experiments/tracr/scan';
import { finetuneNode, ptFtAccuracy, readoutClasses } from '../../lib/experiments/tracr/stages';

process.env.WRAPLAB_DATA = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-tracr-scan-'));
process.env.WRAPLAB_QUIET = '1';
test.after(() => fs.rmSync(process.env.WRAPLAB_DATA!, { recursive: true, force: true }));

test('the weight scan tries every weight once and each row is the model with exactly that weight zeroed', { timeout: 300_000 }, async () => {
  await initBackend();
  const { results: r } = await run(weightScan, { preset: 'smoke', seed: 0 });
  const cfg = resolveConfig(weightScan, 'smoke');
  const model = (await ensureStage(finetuneNode(finetuneStageOf(cfg), 0))).loadModel();
  try {
    const params = pruneParams(model, cfg.scan.params);
    const eligible = params.reduce((n, p) => n + [...(model.param(p).dataSync() as Float32Array)].filter((v) => Math.abs(v) >= cfg.scan.minAbs).length, 0);
    assert.equal(r.scanned, eligible, 'every weight with |w| ≥ minAbs, once');
    assert.ok(r.top.length === Math.min(cfg.scan.top, r.scanned) && new Set(r.top.map((w) => w.unit)).size === r.top.length);
    for (let i = 1; i < r.top.length; i++) assert.ok(r.top[i - 1].pt >= r.top[i].pt, 'best first');

    const task = makeTracrTask(cfg.program, cfg.tasks);
    const { cTe0 } = tracrTestSets(task, 0, cfg.evalSize);
    assert.deepEqual(ptFtAccuracy(readoutClasses(model, task, cTe0.batch), cTe0), { pt: r.base.pt, ft: r.base.ft });
    // Independent of the masks: write the zero into the weight itself, measure, restore.
    for (const w of [...r.top.slice(0, 3), ...(r.bestRevival ? [r.bestRevival] : [])]) {
      const [, param, index] = /^(.+)\[#(\d+)\]$/.exec(w.unit)!;
      const v = model.param(param);
      const saved = v.clone();
      const values = (v.dataSync() as Float32Array).slice();
      assert.ok(Math.abs(values[Number(index)]) >= cfg.scan.minAbs);
      values[Number(index)] = 0;
      v.assign(tf.tensor(values, v.shape));
      try {
        const pred = readoutClasses(model, task, cTe0.batch);
        assert.deepEqual(ptFtAccuracy(pred, cTe0), { pt: w.pt, ft: w.ft }, w.unit);
        const counts = new Map<number, number>();
        for (const p of pred) counts.set(p, (counts.get(p) ?? 0) + 1);
        assert.equal(w.modalShare, Math.max(...counts.values()) / pred.length, w.unit);
      } finally {
        v.assign(saved);
        saved.dispose();
      }
    }
    for (const w of r.top) {
      assert.equal(w.collapsed, w.modalShare >= cfg.scan.collapseShare);
      assert.ok(w.ptBeyondModal <= w.pt + 1e-12 && w.ptBeyondModal >= w.pt - w.modalShare - 1e-12, 'correct answers beyond the modal class: at most all of them, at least all but the modal ones');
      if (w.modalShare === 1) assert.equal(w.ptBeyondModal, 0, 'one answer for every input: nothing right beyond it');
    }
    if (r.bestRevival) assert.ok(!r.bestRevival.collapsed && r.top.filter((w) => !w.collapsed).every((w) => w.pt <= r.bestRevival!.pt));
    assert.deepEqual(r.reach.map((x) => x.gain), [0.1, 0.25, 0.5]);
    for (let i = 1; i < r.reach.length; i++) assert.ok(r.reach[i].weights <= r.reach[i - 1].weights && r.reach[i].collapsed <= r.reach[i].weights);
    assert.ok(r.reach[0].weights >= r.top.filter((w) => w.pt - r.base.pt >= 0.1 - 1e-9).length, 'the listed weights are among those counted');
    const topGain = r.top[0].pt - r.base.pt;
    assert.equal(r.reach.filter((x) => topGain >= x.gain - 1e-9).length, r.reach.filter((x) => x.weights > 0).length, 'a gain level is reached iff the best weight reaches it');
  } finally {
    model.dispose();
  }
});
