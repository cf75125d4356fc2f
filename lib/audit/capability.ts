/**
 * What a capability is, for an audit: examples, each a token sequence with the tokens the model should predict at
 * given positions (O_PT, and optionally O_FT), and optionally a class label per example for the probes.
 *
 * From a JSONL file, one example per line, in one of three forms:
 *   {"tokens": [1, 5, 7], "targets": [[2, 9]], "label": 3}        ids; targets are [position, token] pairs
 *   {"prompt": [1, 5], "completion": [7, 9], "label": "yes"}      ids; the completion's tokens are the targets
 *   {"prompt": "Once upon", "completion": " a time"}              text; needs the models' tokenizer
 * or from a testbed's task generator (`tracr:counter`, `tracr:max-identifier`).
 */
import * as fs from 'node:fs';
import { z } from 'zod';
import type { Batch } from '../engine/data';
import { WraplabError } from '../engine/errors';

export interface CapabilityExample {
  tokens: number[];
  /** [position, token]: the logits at `position` should put `token` first. */
  targets: [number, number][];
  /** Class id of the example for the probes (labels are mapped to 0..k-1 in order of first appearance). */
  label?: number;
}

export interface CapabilitySet {
  /** e.g. "count a". */
  name: string;
  examples: CapabilityExample[];
  /** Names of the class ids, where the examples carry labels. */
  labelNames?: string[];
  /** A judged behaviour, where the capability shows in what the model writes rather than in its next-token
   *  accuracy (a Twist is a few words in a long story): behaviour, pruning and reFT then measure its rate. */
  judged?: JudgedBehaviour;
}

/** A behaviour decided by a judge on sampled continuations, e.g. "the story has a Twist". */
export interface JudgedBehaviour {
  /** What the judge decides, e.g. "Twist rate (classifier judge)". */
  name: string;
  prompts: number[][];
  maxNewTokens: number;
  temperature: number;
  /** Sampling stops after this id (e.g. EOS). */
  stopId?: number;
  /** Whether one sampled continuation (its new tokens) shows the capability. */
  judge: (completion: number[]) => boolean;
  /** The judge's identity for cache keys (a function has none of its own). */
  judgeKey: unknown;
}

export interface Capability {
  /** The pretraining capability O_PT the audit looks for. */
  pt: CapabilitySet;
  /** The fine-tuned behaviour O_FT, if given (its accuracy is followed while pruning). */
  ft?: CapabilitySet;
  /** Where it came from (a file path with its size and mtime, or the generator and its settings), recorded in
   *  audit.json; cache keys use a digest of the examples themselves. */
  source: unknown;
}

/** The text tokenizer of the models, for text examples. */
export interface AuditTokenizer {
  encode(text: string): number[];
}

export class CapabilityError extends WraplabError {}

const ids = z.array(z.number().int().min(0));
const labelValue = z.union([z.string(), z.number()]).optional();
const RowSchema = z.union([
  z.object({ tokens: ids.min(1), targets: z.array(z.tuple([z.number().int().min(0), z.number().int().min(0)])).min(1), label: labelValue }).strict(),
  z.object({ prompt: z.union([ids, z.string()]), completion: z.union([ids.min(1), z.string().min(1)]), label: labelValue }).strict(),
]);

/** Reads a JSONL capability file; every line is validated and a bad one is named with its line number. */
export function readCapabilityFile(file: string, tokenizer?: AuditTokenizer, name?: string): CapabilitySet {
  if (!fs.existsSync(file)) throw new CapabilityError(`capability file ${file} does not exist; give a JSONL file of examples ({"prompt", "completion"} or {"tokens", "targets"}) or a testbed task such as tracr:counter`);
  const labels = new Map<string, number>();
  const examples: CapabilityExample[] = [];
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (e) {
      throw new CapabilityError(`${file}:${i + 1}: not JSON (${(e as Error).message})`);
    }
    const parsed = RowSchema.safeParse(raw);
    if (!parsed.success) throw new CapabilityError(`${file}:${i + 1}: expected {"tokens": [ids], "targets": [[position, id], ...]} or {"prompt": ..., "completion": ...} (${parsed.error.issues[0].path.join('.') || 'row'}: ${parsed.error.issues[0].message})`);
    const row = parsed.data;
    const encode = (v: string | number[]) => {
      if (typeof v !== 'string') return v;
      if (!tokenizer) throw new CapabilityError(`${file}:${i + 1}: text examples need the models' tokenizer, and these models have none; give token ids instead`);
      return tokenizer.encode(v);
    };
    let ex: CapabilityExample;
    if ('tokens' in row) {
      for (const [p] of row.targets) if (p >= row.tokens.length) throw new CapabilityError(`${file}:${i + 1}: target position ${p} is past the ${row.tokens.length} tokens`);
      ex = { tokens: row.tokens, targets: row.targets };
    } else {
      const prompt = encode(row.prompt);
      const completion = encode(row.completion);
      if (prompt.length === 0) throw new CapabilityError(`${file}:${i + 1}: an empty prompt leaves no position to predict the completion from`);
      const tokens = [...prompt, ...completion];
      // Position t predicts token t + 1.
      ex = { tokens: tokens.slice(0, -1), targets: completion.map((tok, j) => [prompt.length - 1 + j, tok] as [number, number]) };
    }
    if (row.label !== undefined) {
      const key = String(row.label);
      if (!labels.has(key)) labels.set(key, labels.size);
      ex.label = labels.get(key);
    }
    examples.push(ex);
  });
  if (examples.length === 0) throw new CapabilityError(`capability file ${file} holds no examples`);
  const labelled = examples.filter((e) => e.label !== undefined).length;
  if (labelled !== 0 && labelled !== examples.length) throw new CapabilityError(`${file}: ${labelled} of ${examples.length} examples have a label; label all or none`);
  return { name: name ?? file, examples, ...(labels.size ? { labelNames: [...labels.keys()] } : {}) };
}

/** Source identity of a file for cache keys: its path, size and modification time. */
export function fileIdentity(file: string): { file: string; size: number; mtimeMs: number } {
  const st = fs.statSync(file);
  return { file, size: st.size, mtimeMs: st.mtimeMs };
}

/** Checks every token id is inside the model's vocabulary and every sequence fits its context. */
export function checkFits(set: CapabilitySet, vocabSize: number, contextLength: number, outputs: number, what: string): void {
  set.examples.forEach((e, i) => {
    const bad = e.tokens.find((t) => t >= vocabSize);
    if (bad !== undefined) throw new CapabilityError(`${set.name}, example ${i + 1}: token ${bad} is outside the vocabulary of ${what} (${vocabSize} tokens); write the capability in their tokens`);
    if (e.tokens.length > contextLength) throw new CapabilityError(`${set.name}, example ${i + 1}: ${e.tokens.length} tokens exceed the context of ${what} (${contextLength})`);
    const badT = e.targets.find(([, t]) => t >= outputs);
    if (badT) throw new CapabilityError(`${set.name}, example ${i + 1}: target ${badT[1]} is outside the ${outputs} outputs of ${what}`);
  });
}

/** Rows padded to the longest, weight 1 at each target position. */
export function toBatch(examples: readonly CapabilityExample[], padId = 0): Batch {
  const B = examples.length;
  const T = Math.max(1, ...examples.map((e) => e.tokens.length));
  const tokens = new Int32Array(B * T).fill(padId);
  const targets = new Int32Array(B * T);
  const weights = new Float32Array(B * T);
  examples.forEach((e, b) => {
    tokens.set(e.tokens, b * T);
    for (const [p, t] of e.targets) {
      targets[b * T + p] = t;
      weights[b * T + p] = 1;
    }
  });
  return { batchSize: B, contextLength: T, tokens, targets, weights };
}

/** Splits examples into consecutive chunks (the batches one pass handles). */
export function chunks<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}
