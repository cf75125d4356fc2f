/**
 * The models an audit compares, from what a user has: a wraplab run directory or .safetensors checkpoint, a
 * HuggingFace checkpoint directory or Hub id, or a testbed model by name:
 *   tracr:<program>                 the compiled program (counter | max-identifier): has O_PT by construction
 *   tracr:<program>:ft=<S|M|L|VS>   fine-tuned on O_FT at the preset's LR role (C_Tr = 1; add :ctr=<x>)
 *   tracr:<program>:ft-program      the program compiled for O_FT instead: never had O_PT
 *   pcfg:<L|M|H>                    pretrained on the prior P^L / P^M / P^H (counts a)
 *   pcfg:<prior>:ft=<L|M|S>         fine-tuned to count b at η_L / η_M / η_S on C_Tr = 1 (add :ctr=<x>)
 *   pcfg:scratch                    pretrained with a and b swapped (the Scr.+FT start): never learned count a
 *   tinystories:present | tinystories:absent              pretrained with / without Twist stories
 *   tinystories:deleted:<F|F+R|F+MM>:<S|M>               Twist deleted by fine-tuning (protocol, LR)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadModel, weightsDigest } from '../engine/checkpoint';
import { WraplabError } from '../engine/errors';
import type { Transformer } from '../engine/model';
import type { Preset } from '../experiments/define';
import type { AuditTokenizer } from './capability';

export interface AuditModel {
  label: string;
  /** What the user gave. */
  source: string;
  model: Transformer;
  tokenizer: AuditTokenizer | null;
  /** sha256 of the weights: the model's identity in cache keys. */
  digest: string;
}

export class AuditModelError extends WraplabError {}

export function modelDigest(model: Transformer): string {
  const w = model.getWeights();
  return weightsDigest(Object.fromEntries(Object.entries(w).map(([k, data]) => [k, { data }])));
}

export function auditModel(label: string, source: string, model: Transformer, tokenizer: AuditTokenizer | null = null): AuditModel {
  return { label, source, model, tokenizer, digest: modelDigest(model) };
}

const PCFG_REF = /^pcfg:(?:(L|M|H)(?::ft=(L|M|S)(?::ctr=([0-9.]+))?)?|(scratch))$/;
const TINYSTORIES_REF = /^tinystories:(?:(present|absent)|deleted:(F|F\+R|F\+MM):(S|M))$/;
const TRACR_REF = /^tracr:(counter|max-identifier)(?::(ft=(S|M|L|VS)(?::ctr=([0-9.]+))?|ft-program))?$/;

export async function loadAuditModel(label: string, source: string, preset: Preset): Promise<AuditModel> {
  if (source.startsWith('tracr:')) {
    const m = TRACR_REF.exec(source);
    if (!m) throw new AuditModelError(`${label} ${source}: unknown testbed model; use tracr:<counter|max-identifier>, tracr:<program>:ft=<S|M|L|VS>[:ctr=<C_Tr>] or tracr:<program>:ft-program`);
    const tracr = await import('../experiments/tracr');
    const program = m[1] as 'counter' | 'max-identifier';
    if (m[2] === 'ft-program') {
      const task = tracr.task(program, preset);
      return auditModel(label, source, tracr.compiledModel(task.compileFinetuneProgram!()));
    }
    const loaded = await tracr.load({ program, preset, ...(m[3] ? { lr: m[3] as 'S', cTr: m[4] ? Number(m[4]) : 1 } : {}) });
    return auditModel(label, source, loaded.model);
  }
  if (source.startsWith('pcfg:')) {
    const m = PCFG_REF.exec(source);
    if (!m) throw new AuditModelError(`${label} ${source}: unknown testbed model; use pcfg:<L|M|H>, pcfg:<prior>:ft=<L|M|S>[:ctr=<C_Tr>] or pcfg:scratch`);
    const pcfg = await import('../experiments/pcfg');
    if (m[4]) {
      const { resolveConfig } = await import('../experiments/run');
      const { loadStageModel } = await import('../experiments/load');
      const { stageNode } = await import('../experiments/stage');
      const cfg = resolveConfig(pcfg.scratchFinetune, preset);
      return auditModel(label, source, (await loadStageModel(stageNode(pcfg.pcfgPretrain, cfg.pretrain, 0))).model);
    }
    const loaded = await pcfg.load({ prior: m[1] as 'L', preset, ...(m[2] ? { lr: m[2] as 'S', cTr: m[3] ? Number(m[3]) : 1 } : {}) });
    return auditModel(label, source, loaded.model);
  }
  if (source.startsWith('tinystories:')) {
    const m = TINYSTORIES_REF.exec(source);
    if (!m) throw new AuditModelError(`${label} ${source}: unknown testbed model; use tinystories:present, tinystories:absent or tinystories:deleted:<F|F+R|F+MM>:<S|M>`);
    const { load } = await import('../experiments/tinystories/load');
    const spec = m[2] ? { model: 'deleted' as const, protocol: m[2] as 'F', lr: m[3] as 'S' } : { model: m[1] as 'present' };
    const loaded = await load({ ...spec, preset });
    return auditModel(label, source, loaded.model, { encode: (t) => loaded.tokenizer.encode(t) });
  }
  if (fs.existsSync(source)) {
    const st = fs.statSync(source);
    if (st.isFile()) return auditModel(label, source, loadModel(source).model);
    const own = path.join(source, 'model.safetensors');
    if (isHfDir(source)) return loadHf(label, source);
    if (fs.existsSync(own)) {
      const tok = path.join(source, 'tokenizer.json');
      let tokenizer: AuditTokenizer | null = null;
      if (fs.existsSync(tok)) {
        const { storyTokenizerFromJSON } = await import('../tasks/tinystories/bpe');
        const t = storyTokenizerFromJSON(JSON.parse(fs.readFileSync(tok, 'utf8')));
        tokenizer = { encode: (text) => t.encode(text) };
      }
      return auditModel(label, source, loadModel(own).model, tokenizer);
    }
    throw new AuditModelError(`${label} ${source}: no model.safetensors (a wraplab run) and no config.json (a HuggingFace checkpoint) in this directory`);
  }
  if (/^[./~]/.test(source) || source.split('/').length !== 2) throw new AuditModelError(`${label} ${source} does not exist: give a run directory, a .safetensors file, a HuggingFace directory or Hub id, or tracr:<program>`);
  return loadHf(label, source);
}

/** A HuggingFace checkpoint's config.json names its model_type; a wraplab run's config.json is the run's config. */
function isHfDir(dir: string): boolean {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file)) return false;
  try {
    return typeof (JSON.parse(fs.readFileSync(file, 'utf8')) as { model_type?: unknown }).model_type === 'string';
  } catch {
    return false;
  }
}

async function loadHf(label: string, source: string): Promise<AuditModel> {
  const { loadPretrained } = await import('../pretrained/load');
  const { model, tokenizer } = await loadPretrained(source);
  return auditModel(label, source, model, tokenizer ? { encode: (t) => tokenizer.encode(t, { addSpecialTokens: false }) } : null);
}
