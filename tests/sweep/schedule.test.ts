/**
 * The scheduler: runs and the stages they share as one graph — each stage once, parents first, the longest chain
 * first, the same results in this process or in worker processes, and one clear error when something fails.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { defineExperiment, defineStage, presetsOf, resolveRun, spec, stageNode } from '../../lib/experiments';
import * as pcfg from '../../lib/experiments/pcfg';
import { ScheduleError, criticalPath, planWork, runAll, workDone } from '../../lib/sweep/schedule';

process.env.WRAPLAB_QUIET = '1';
const freshData = (label: string) => (process.env.WRAPLAB_DATA = fs.mkdtempSync(path.join(os.tmpdir(), `wraplab-schedule-${label}-`)));

// A toy graph: base (cost 10) -> child (cost 1) -> runs "a" and "b"; run "c" needs only "side" (cost 5).
const calls: string[] = [];
const base = defineStage<{ n: number }, { value: number }>({
  name: 'test-base',
  version: 1,
  cost: () => 10,
  run: async ({ config }) => (calls.push(`base ${config.n}`), { value: config.n * 10 }),
});
const child = defineStage<{ n: number; fail?: boolean }, { value: number }>({
  name: 'test-child',
  version: 1,
  parents: (c, seed) => [stageNode(base, { n: c.n }, seed)],
  cost: () => 1,
  run: async ({ config, parents: [p] }) => {
    if (config.fail) throw new Error('child failed on purpose');
    calls.push(`child ${config.n}`);
    return { value: (p.results as { value: number }).value + 1 };
  },
});
const side = defineStage<{ n: number }, { value: number }>({ name: 'test-side', version: 1, cost: () => 5, run: async ({ config }) => (calls.push('side'), { value: config.n }) });

const Schema = z.object({ n: z.number(), tag: z.string(), fail: z.boolean().default(false) }).strict();
const viaChild = defineExperiment({
  id: 'test-via-child',
  title: '',
  description: '',
  version: 1,
  schema: Schema,
  presets: presetsOf(() => ({ n: 1, tag: 'a' })),
  stages: (cfg, seed) => [stageNode(child, { n: cfg.n, ...(cfg.fail ? { fail: true } : {}) }, seed)],
  run: async (cfg, ctx) => ({ tag: cfg.tag, value: (await ctx.stage(stageNode(child, { n: cfg.n, ...(cfg.fail ? { fail: true } : {}) }, ctx.seed))).results.value }),
});
const viaSide = defineExperiment({
  id: 'test-via-side',
  title: '',
  description: '',
  version: 1,
  schema: Schema,
  presets: presetsOf(() => ({ n: 2, tag: 'c' })),
  stages: (cfg, seed) => [stageNode(side, { n: cfg.n }, seed)],
  run: async (cfg, ctx) => ({ tag: cfg.tag, value: (await ctx.stage(stageNode(side, { n: cfg.n }, ctx.seed))).results.value }),
});

test('planWork: a stage two runs share is planned once, after its parent; critical paths order the ready tasks', () => {
  freshData('plan');
  const runs = [spec(viaChild, { overrides: { tag: 'a' } }), spec(viaChild, { overrides: { tag: 'b' } }), spec(viaSide)].map((s) => ({ resolved: resolveRun(s.experiment, { preset: 'smoke', ...s }), overrides: s.overrides ?? {} }));
  const items = planWork(runs);
  const names = items.map((i) => (i.task.kind === 'stage' ? i.task.stage : i.task.experiment));
  assert.deepEqual(names, ['test-base', 'test-child', 'test-via-child', 'test-via-child', 'test-side', 'test-via-side']);
  const [b, c, a1, a2, s, r] = items;
  assert.deepEqual([b.deps, c.deps, a1.deps, a2.deps, s.deps, r.deps], [[], [b.task.hash], [c.task.hash], [c.task.hash], [], [s.task.hash]]);
  const priority = criticalPath(items);
  assert.equal(priority.get(b.task.hash), 10 + 1 + 1, 'base: itself + the child + one run after it');
  assert.equal(priority.get(s.task.hash), 5 + 1);
  assert.ok(priority.get(b.task.hash)! > priority.get(s.task.hash)!, 'the longer chain starts first');
});

test('runAll in this process: each stage once, parents first, typed outcomes in order; a rerun computes nothing', async () => {
  freshData('here');
  calls.length = 0;
  const before = workDone();
  const [a, b, c] = await runAll([spec(viaChild, { preset: 'smoke', overrides: { tag: 'a' } }), spec(viaChild, { preset: 'smoke', overrides: { tag: 'b' } }), spec(viaSide, { preset: 'smoke' })], { jobs: 1 });
  assert.deepEqual([a.results, b.results, c.results], [{ tag: 'a', value: 11 }, { tag: 'b', value: 11 }, { tag: 'c', value: 2 }]);
  assert.deepEqual([...calls].sort(), ['base 1', 'child 1', 'side'], 'each stage once');
  assert.ok(calls.indexOf('base 1') < calls.indexOf('child 1'), 'the parent first');
  assert.equal(calls[0], 'base 1', 'the longest chain first');
  assert.equal(workDone().tasks - before.tasks, 6, 'three stages and three runs computed');
  const again = await runAll([spec(viaChild, { preset: 'smoke', overrides: { tag: 'a' } })], { jobs: 1 });
  assert.equal(again[0].cached, true);
  assert.equal(calls.length, 3, 'nothing trained twice');
  assert.equal(workDone().tasks - before.tasks, 6);
});

test('a failing stage: its dependents are skipped, the others finish, one error lists both', async () => {
  freshData('fail');
  calls.length = 0;
  await assert.rejects(
    runAll([spec(viaChild, { preset: 'smoke', overrides: { fail: true } }), spec(viaSide, { preset: 'smoke' })], { jobs: 1 }),
    (e: Error) => e instanceof ScheduleError && /2 of 5 tasks failed:\n {2}test-child \w+: child failed on purpose\n {2}test-via-child \w+: skipped, test-child \w+ failed first/.test(e.message),
  );
  assert.deepEqual(calls.sort(), ['base 1', 'side']);
  await assert.rejects(runAll([spec(viaSide, { preset: 'smoke', overrides: { n: 3 } }), spec(viaSide, { preset: 'smoke', overrides: { n: 4 } })], { jobs: 2 }), /stage test-side is not in the catalog .* schedule with jobs: 1/);
});

test('worker processes: the same results as one process; the shared pretraining trains once, before its fine-tunings', async () => {
  const specs = [0, 1].map((cTrain) => spec(pcfg.finetune, { preset: 'smoke', overrides: { finetune: { cTrain, steps: 10, evalEvery: 5 } } }));
  freshData('seq');
  const sequential = await runAll(specs, { jobs: 1 });
  const data = freshData('par');
  const parallel = await runAll(specs, { jobs: 2 });
  assert.deepEqual(parallel.map((o) => o.results), sequential.map((o) => o.results));
  assert.deepEqual(parallel.map((o) => path.basename(o.runDir)), sequential.map((o) => path.basename(o.runDir)));
  const logs = path.join(data, 'sweeps', '_grid', 'logs');
  const started = (hash: string) => Date.parse(/ at (\S+)$/m.exec(fs.readFileSync(path.join(logs, `${hash}.log`), 'utf8'))![1]);
  const pre = pcfg.finetuneNode(parallel[0].config, 0).parents[0];
  const fts = parallel.map((o) => pcfg.finetuneNode(o.config, 0));
  // The runs only read their stages: they run in the scheduling process (LIGHT_TASK), the stages in workers.
  assert.deepEqual(fs.readdirSync(logs).sort(), [pre.hash, ...fts.map((f) => f.hash)].map((h) => `${h}.log`).sort(), 'one pretraining, two fine-tunings: each in one worker');
  const pretrained = fs.statSync(path.join(data, 'runs', pre.hash, 'results.json')).mtimeMs;
  for (const ft of fts) assert.ok(started(ft.hash) >= pretrained - 1, 'a fine-tuning starts after its pretraining finished');
});

test('the catalog holds every stage any catalogued experiment declares at any preset, so worker processes can run them all', async () => {
  const { EXPERIMENTS, STAGES, PRESETS, resolveConfig } = await import('../../lib/experiments');
  const known = new Set(STAGES.map((s) => s.name));
  const missing = new Set<string>();
  const walk = (n: { def: { name: string }; parents: readonly unknown[] }): void => {
    if (!known.has(n.def.name)) missing.add(n.def.name);
    n.parents.forEach((p) => walk(p as typeof n));
  };
  let declared = 0;
  for (const exp of EXPERIMENTS) {
    for (const preset of PRESETS) {
      for (const node of exp.stages?.(resolveConfig(exp, preset), 0) ?? []) (declared++, walk(node));
    }
  }
  assert.ok(declared > 50, `the experiments declare stages (${declared})`);
  assert.deepEqual([...missing], [], 'stages a worker could not find by name');
});
