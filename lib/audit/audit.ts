/**
 * `audit`: the paper's method as one call on a model pair. Loads base, tuned (and control), reads the capability,
 * runs the six lines of evidence (evidence.ts), decides (verdict.ts), and writes audit.json and a self-contained
 * report.html. Each line is cached on its own, keyed by the weights' digests, the examples it reads and its
 * settings: a rerun is instant, and a changed capability recomputes only the lines that read it (not the weights).
 */
import { createHash } from 'node:crypto';
import type { Batch } from '../engine/data';
import * as path from 'node:path';
import { canonicalJson, writeFileAtomic, writeJsonAtomic } from '../engine/fsutil';
import { resolveModelConfig, Transformer } from '../engine/model';
import { Rng } from '../engine/rng';
import { cachedRun, dataDir, hashConfig } from '../engine/runs';
import { initBackend } from '../engine/backend';
import { info } from '../notebook';
import { parsePreset, type Preset } from '../experiments/define';
import { CapabilityError, checkFits, fileIdentity, readCapabilityFile, type Capability, type CapabilitySet, type JudgedBehaviour } from './capability';
import * as ev from './evidence';
import { loadAuditModel, type AuditModel } from './models';
import { auditReportHtml } from './report';
import { AUDIT_THRESHOLDS, decide, type AuditThresholds, type Verdict } from './verdict';

export interface AuditPresetConfig {
  /** Examples drawn from a task generator (a file gives its own). */
  examples: number;
  probeSteps: number;
  pruneUnits: number;
  /**
   * 'exact' measures each unit's removal; 'gradxweight' is the paper's first-order score; 'auto' is exact up to
   * 256 MLP neurons and, for single weights, up to 4,096 weights of |w| >= 5e-4 (compiled and toy models, where
   * saturated units fool the gradient: the compiled Counter's wrapper sits in three SelectorWidth weights that grad x
   * weight never ranks first) and grad x weight above.
   */
  pruneScoring: 'exact' | 'gradxweight' | 'auto';
  reft: { steps: number; batchSize: number; lr: number; seeds: number[]; evalSteps: number[] };
}

export const AUDIT_PRESETS: Record<Preset, AuditPresetConfig> = {
  smoke: { examples: 192, probeSteps: 400, pruneUnits: 4, pruneScoring: 'auto', reft: { steps: 100, batchSize: 32, lr: 3e-3, seeds: [0], evalSteps: [1, 2, 5, 10, 20, 50, 100] } },
  laptop: { examples: 600, probeSteps: 1500, pruneUnits: 12, pruneScoring: 'auto', reft: { steps: 200, batchSize: 32, lr: 3e-3, seeds: [0, 1, 2], evalSteps: [1, 2, 5, 10, 20, 50, 100, 200] } },
  paper: { examples: 2000, probeSteps: 4000, pruneUnits: 50, pruneScoring: 'gradxweight', reft: { steps: 2000, batchSize: 64, lr: 1e-3, seeds: [0, 1, 2, 3, 4], evalSteps: [1, 3, 10, 30, 100, 300, 1000, 2000] } },
};

export interface AuditOptions {
  /** A model source (see models.ts) or a loaded model. */
  base: string | AuditModel;
  tuned: string | AuditModel;
  /** A model of the same shape that never had O_PT; without one, the base model re-initialised (labelled so). */
  control?: string | AuditModel;
  /** A JSONL file of O_PT examples, a testbed task (tracr:counter, tracr:max-identifier), or a Capability. */
  capability: string | Capability;
  /** O_FT examples (JSONL) where the capability is a file; a testbed task brings its own. */
  finetuned?: string;
  preset?: Preset | string;
  seed?: number;
  /** Where audit.json and report.html go (default: <data dir>/audits/<key>). */
  out?: string;
  thresholds?: Partial<AuditThresholds>;
  force?: boolean;
  log?: (line: string) => void;
}

export interface AuditResult {
  version: 1;
  preset: Preset;
  seed: number;
  models: { role: string; label: string; source: string; digest: string; params: number }[];
  capability: { pt: string; ft: string | null; examples: number; labelled: boolean; source: unknown };
  thresholds: AuditThresholds;
  settings: AuditPresetConfig;
  evidence: {
    behaviour: { model: string; pt: ev.Behaviour; ft: ev.Behaviour | null }[];
    weights: ev.WeightChange;
    probes: ev.Probes | null;
    pruning: ev.Pruning;
    patching: ev.Patching;
    /** `measure`: what the curves and the target are (O_PT accuracy, or the judged behaviour's rate). */
    reft: { measure: string; target: number; control: string; curves: ev.ReftCurve[] };
  };
  verdict: Verdict;
}

export interface AuditOutcome {
  result: AuditResult;
  dir: string;
  jsonPath: string;
  reportPath: string;
}

/**
 * Capability examples from a testbed task. Tracr: O_PT and O_FT answers on the same plain inputs (C = 0), labelled by
 * the O_PT answer. TinyStories (`tinystories:twist`): held-out Twist stories after their instruction lines, the
 * targets every story token (teacher-forced), no labels.
 */
export async function taskCapability(spec: string, preset: Preset, n: number, seed: number): Promise<Capability> {
  if (spec === 'tinystories:twist') return twistCapability(preset, n, seed);
  if (spec === 'pcfg:count-a') return countCapability(preset, n, seed);
  const m = /^tracr:(counter|max-identifier)$/.exec(spec);
  if (!m) throw new CapabilityError(`capability ${spec}: not a JSONL file and not a known task; use a .jsonl file, tracr:counter, tracr:max-identifier, pcfg:count-a or tinystories:twist`);
  const tracr = await import('../experiments/tracr');
  const task = tracr.task(m[1] as 'counter', preset);
  const samples = tracr.tracrSamples(task, Rng.derive(seed, 'audit-capability', spec), n, 0, 'pt');
  const pos = task.readoutIndex + 1;
  const make = (cls: Int32Array, name: string) => oneAnswerSet(name, samples.batch, () => pos, cls, (c) => String(task.compiled.outputValues?.[c] ?? c));
  return { pt: make(samples.ptClass, task.operandNames.pt), ft: make(samples.ftClass, task.operandNames.ft), source: { task: spec, preset, n, seed } };
}

/** A set of one-answer examples from a padded batch: row b's answer `answers[b]` at `position(b)`, labelled by it. */
function oneAnswerSet(name: string, batch: Batch, position: (b: number) => number, answers: ArrayLike<number>, nameOf: (answer: number) => string): CapabilitySet {
  const T = batch.contextLength;
  const classes = [...new Set(Array.from(answers))].sort((a, b) => a - b);
  return {
    name,
    examples: Array.from(answers, (answer, b) => ({
      tokens: Array.from(batch.tokens.subarray(b * T, (b + 1) * T)),
      targets: [[position(b), answer] as [number, number]],
      label: classes.indexOf(answer),
    })),
    labelNames: classes.map(nameOf),
  };
}

/** PCFG: count a (O_PT) and count b (O_FT) questions on the same plain texts (C_Te = 0), labelled by the count. */
async function countCapability(preset: Preset, n: number, seed: number): Promise<Capability> {
  const pcfg = await import('../experiments/pcfg');
  const { resolveConfig } = await import('../experiments/run');
  const cfg = pcfg.pcfgConfig(resolveConfig(pcfg.finetune, preset).pretrain.data);
  const s = Rng.derive(seed, 'audit-capability', 'pcfg').int(0, 2 ** 31);
  const make = (operand: string, name: string): CapabilitySet => {
    const set = pcfg.makeEvalSet(cfg, { family: pcfg.FINETUNE_FAMILY.counter, operand, size: n, seed: s, cTest: 0, correlation: 'counter' });
    return oneAnswerSet(name, set.batch, (b) => set.queryIndex[b] - b * set.batch.contextLength, set.answers, String);
  };
  return { pt: make(pcfg.PRETRAIN_OPERAND, `count ${pcfg.PRETRAIN_OPERAND}`), ft: make(pcfg.FINETUNE_OPERAND, `count ${pcfg.FINETUNE_OPERAND}`), source: { task: 'pcfg:count-a', preset, n, seed } };
}

async function twistCapability(preset: Preset, n: number, seed: number): Promise<Capability> {
  const tst = await import('../experiments/tinystories');
  const { resolveConfig } = await import('../experiments/run');
  const cfg = resolveConfig(tst.reft, preset);
  const data = tst.tinyStoriesData(cfg.corpus, seed);
  const T = cfg.contextLength;
  // Held-out Twist stories, then the fine-tuning split's (the reFT set): neither the pretraining nor a deletion
  // fine-tune trained on them.
  // The last held-out Twist stories are the judged prompts and stay out of the examples (reFT trains on them).
  const twists = data.datasets.test.twist;
  const promptStories = twists.slice(Math.max(0, twists.length - cfg.evaluation.prompts)).reverse();
  const stories = [...twists.slice(0, twists.length - promptStories.length), ...data.datasets.recovery].slice(0, n);
  if (stories.length < 8) throw new CapabilityError(`tinystories:twist: only ${stories.length} Twist stories outside the pretraining split at preset ${preset}; the audit needs at least 8`);
  const examples = stories.map((story, i) => {
    const full = tst.encodeExample(story, data.tokenizer, Rng.derive(seed, 'audit-twist', i), 'full', true).slice(0, T + 1);
    const prompt = tst.encodePrompt(story, data.tokenizer, Rng.derive(seed, 'audit-twist', i));
    const start = Math.min(prompt.length, full.length - 1);
    const targets: [number, number][] = [];
    for (let t = start - 1; t < full.length - 1; t++) targets.push([t, full[t + 1]]);
    return { tokens: full.slice(0, -1), targets };
  });
  // Teacher-forced accuracy hardly sees a deleted Twist (a few words of a story), so the headline is the Twist
  // rate of stories sampled from held-out Twist prompts, decided by the testbed's judge (as in its own reFT).
  const env = { corpus: cfg.corpus, contextLength: T, evaluation: cfg.evaluation };
  const judgeName = tst.twistRateJudge(env, data);
  const judge = judgeName === 'exact' ? new tst.ExactTwistJudge() : tst.classifierJudge(data, cfg.corpus, seed);
  const judged: JudgedBehaviour = {
    name: `Twist rate (${judgeName} judge, ${promptStories.length} sampled stories)`,
    prompts: promptStories.map((s, i) => tst.encodePrompt(s, data.tokenizer, Rng.derive(seed, 'audit-twist-prompt', i))),
    maxNewTokens: cfg.evaluation.maxNewTokens,
    temperature: cfg.evaluation.temperature,
    stopId: data.tokenizer.eosId,
    judge: (completion) => judge.judge(data.tokenizer.decode(completion).trim()),
    judgeKey: { judge: judgeName, corpus: cfg.corpus, seed },
  };
  return { pt: { name: 'write a Twist story (held-out Twist stories, teacher-forced)', examples, judged }, source: { task: 'tinystories:twist', preset, n, seed } };
}

const digestOf = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);

export async function audit(opts: AuditOptions): Promise<AuditOutcome> {
  await initBackend();
  const preset = parsePreset(opts.preset);
  const seed = opts.seed ?? 0;
  const settings = AUDIT_PRESETS[preset];
  const thresholds = { ...AUDIT_THRESHOLDS, ...opts.thresholds };
  const log = opts.log ?? ((s: string) => process.env.WRAPLAB_QUIET !== '1' && info(`wraplab audit: ${s}`));
  const owned: Transformer[] = [];
  const load = async (role: string, src: string | AuditModel) => {
    if (typeof src !== 'string') return src;
    log(`loading ${role} ${src}`);
    const m = await loadAuditModel(role, src, preset);
    owned.push(m.model);
    return m;
  };
  try {
    const base = await load('base', opts.base);
    const tuned = await load('tuned', opts.tuned);
    const given = opts.control === undefined ? null : await load('control', opts.control);
    checkSameShape(base, tuned);
    if (given) checkSameShape(base, given);
    const control: AuditModel = given ?? {
      label: 'base re-initialised',
      source: 'base re-initialised (no control given)',
      model: new Transformer(base.model.config, seed + 1),
      tokenizer: null,
      digest: `reinit:${base.digest}:${seed + 1}`,
    };
    if (!given) owned.push(control.model);
    const cap = typeof opts.capability !== 'string' ? opts.capability : await readCapability(opts.capability, opts.finetuned, preset, settings.examples, seed, base.tokenizer ?? tuned.tokenizer);
    const c = resolveModelConfig(base.model.config);
    const outputs = c.outputSize;
    checkFits(cap.pt, c.vocabSize, c.contextLength, outputs, 'the models');
    if (cap.ft) checkFits(cap.ft, c.vocabSize, c.contextLength, outputs, 'the models');
    const capKey = { pt: digestOf(cap.pt), ft: cap.ft ? digestOf(cap.ft) : null };
    const digests = { base: base.digest, tuned: tuned.digest, control: control.digest };
    // One cached part per line of evidence, keyed by what it reads.
    const part = async <T>(name: string, key: unknown, compute: () => T | Promise<T>): Promise<T> => {
      const r = await cachedRun({ stage: `audit-${name}`, version: 5, ...(key as object) }, async () => {
        log(`${name}…`);
        return { value: await compute() };
      }, { root: path.join(dataDir(), 'audit-cache'), force: opts.force });
      if (r.cached) log(`${name}: cached`);
      return r.results.value;
    };
    const roles = [
      { role: 'base', label: 'base', m: base },
      { role: 'tuned', label: 'tuned', m: tuned },
      { role: 'control', label: control.label, m: control },
    ];
    const behaviour = [];
    for (const { label, m } of roles) {
      behaviour.push(await part('behaviour', { label, model: m.digest, cap: capKey, seed }, () => ({
        model: label,
        pt: ev.behaviour(m.model, cap.pt, seed),
        ft: cap.ft ? ev.behaviour(m.model, cap.ft, seed) : null,
      })));
    }
    const weights = await part('weights', { base: base.digest, tuned: tuned.digest }, () => ev.weightChange(base.model, tuned.model));
    const labelled = cap.pt.labelNames !== undefined && cap.pt.labelNames.length > 1;
    // The probes' own baseline: the same probe on an untrained model of the same shape (built only if it is needed).
    const probes = labelled
      ? await part('probes', { models: digests, cap: capKey.pt, seed, steps: settings.probeSteps }, () => {
          const untrained = new Transformer(base.model.config, seed + 7);
          owned.push(untrained);
          return ev.probes([{ label: 'base', model: base.model }, { label: 'tuned', model: tuned.model }, { label: 'untrained', model: untrained }], cap.pt, { seed, steps: settings.probeSteps });
        })
      : null;
    const neurons = c.nLayers * c.dMlp;
    const scoring = settings.pruneScoring === 'auto' ? (neurons <= 256 ? 'exact' : 'gradxweight') : settings.pruneScoring;
    const weightScoring = settings.pruneScoring === 'auto' ? (ev.prunableWeights(tuned.model, 4096) <= 4096 ? 'exact' : 'gradxweight') : settings.pruneScoring;
    const pruning = await part('pruning', { tuned: tuned.digest, cap: capKey, units: settings.pruneUnits, scoring, weightScoring }, () =>
      ev.pruning(tuned.model, cap.pt, cap.ft, { maxUnits: settings.pruneUnits, scoring, weightScoring, seed, log }));
    const patching = await part('patching', { base: base.digest, tuned: tuned.digest, cap: capKey.pt, seed }, () => ev.patching(base.model, tuned.model, cap.pt, seed));
    const measure = cap.pt.judged?.name ?? 'O_PT accuracy';
    const target = thresholds.targetShareOfBase * ev.headline(behaviour[0].pt).value;
    const curves = await part('reft', { tuned: tuned.digest, control: control.digest, cap: capKey.pt, reft: settings.reft, target }, () =>
      ev.reverseFinetune([{ label: 'tuned', model: tuned.model }, { label: control.label, model: control.model }], cap.pt, { ...settings.reft, target }, log));
    const verdict = decide({ base: behaviour[0].pt, tuned: behaviour[1].pt, pruning, probes, reft: curves, reftBudget: settings.reft.steps, target, controlLabel: control.label, measure }, thresholds);
    const result: AuditResult = {
      version: 1,
      preset,
      seed,
      models: roles.map(({ role, label, m }) => ({ role, label, source: m.source, digest: m.digest, params: m.model.numParams() })),
      capability: { pt: cap.pt.name, ft: cap.ft?.name ?? null, examples: cap.pt.examples.length, labelled, source: cap.source },
      thresholds,
      settings,
      evidence: { behaviour, weights, probes, pruning, patching, reft: { measure, target, control: control.label, curves } },
      verdict,
    };
    const dir = opts.out ?? path.join(dataDir(), 'audits', hashConfig({ digests, cap: capKey, preset, seed, thresholds }));
    const jsonPath = path.join(dir, 'audit.json');
    const reportPath = path.join(dir, 'report.html');
    writeJsonAtomic(jsonPath, result);
    writeFileAtomic(reportPath, auditReportHtml(result));
    for (const r of verdict.reasons) log(r);
    return { result, dir, jsonPath, reportPath };
  } finally {
    for (const m of owned) m.dispose();
  }
}

function checkSameShape(a: AuditModel, b: AuditModel): void {
  const ca = canonicalJson(a.model.config);
  const cb = canonicalJson(b.model.config);
  if (ca !== cb) throw new CapabilityError(`${b.label} (${b.source}) has a different architecture from ${a.label} (${a.source}); an audit compares models of one shape (${ca} vs ${cb})`);
}

async function readCapability(spec: string, finetuned: string | undefined, preset: Preset, n: number, seed: number, tokenizer: AuditModel['tokenizer']): Promise<Capability> {
  if (/\.jsonl?$/.test(spec) || spec.includes('/')) {
    const pt = readCapabilityFile(spec, tokenizer ?? undefined, 'O_PT');
    const ft = finetuned ? readCapabilityFile(finetuned, tokenizer ?? undefined, 'O_FT') : undefined;
    return { pt, ft, source: { pt: fileIdentity(spec), ft: finetuned ? fileIdentity(finetuned) : null } };
  }
  return taskCapability(spec, preset, n, seed);
}
