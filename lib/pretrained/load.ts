/**
 * One call from a notebook to a hooked model, TransformerLens' from_pretrained:
 *
 *   const { model, tokenizer } = await loadPretrained('roneneldan/TinyStories-33M');   // or a local directory
 *   const { logits, cache } = model.runWithCache([tokenizer.encode('Once upon a time')]);
 */
import * as fs from 'node:fs';
import { initBackend } from '../engine/backend';
import type { Transformer } from '../engine/model';
import { createProgress } from '../engine/progress';
import { type CheckpointOptions, PretrainedLoadError, loadCheckpointDir } from './checkpoint';
import type { FamilyName, HfConfig } from './families';
import { type DownloadOptions, downloadModel } from './hub';
import { type PretrainedTokenizer, loadTokenizer } from './tokenizer';

export interface LoadPretrainedOptions extends CheckpointOptions, Omit<DownloadOptions, 'onProgress'> {
  /** Download progress; defaults to a progress bar per file (terminal or notebook). */
  onProgress?: DownloadOptions['onProgress'];
  /** Skip the tokenizer (a directory without tokenizer.json then loads too). */
  tokenizer?: boolean;
}

export interface LoadedModel {
  model: Transformer;
  /** null when the directory has no tokenizer.json (or `tokenizer: false`). */
  tokenizer: PretrainedTokenizer | null;
  /** The checkpoint's config.json as parsed. */
  config: HfConfig;
  family: FamilyName;
  /** The local directory the weights came from (the Hub snapshot for a Hub id). */
  dir: string;
}

/** Download progress as one bar per file, in the terminal or the notebook. */
function progressBars(): NonNullable<DownloadOptions['onProgress']> {
  const bars = new Map<string, ReturnType<typeof createProgress>>();
  return (file, done, total) => {
    let bar = bars.get(file);
    if (!bar) bars.set(file, (bar = createProgress(`download ${file} (${(total / 1024 / 1024).toFixed(1)} MB)`, total)));
    if (done >= total) bar.finish();
    else bar.update(done);
  };
}

/**
 * Loads a HuggingFace causal LM (gpt2, gpt_neo, gpt_neox, llama) from a local directory or a Hub id. A Hub id is
 * downloaded once into the HuggingFace cache (shared with Python) and verified; later calls read the cache.
 */
export async function loadPretrained(source: string, opts: LoadPretrainedOptions = {}): Promise<LoadedModel> {
  await initBackend();
  let dir = source;
  if (!fs.existsSync(source)) {
    if (/^[./~]/.test(source) || source.includes('\\') || source.split('/').length > 2) {
      throw new PretrainedLoadError(`${source} does not exist: give a local model directory or a Hub id such as EleutherAI/pythia-70m`);
    }
    const { onProgress, tokenizer: _t, overrides: _o, onTensor: _n, ...download } = opts;
    dir = await downloadModel(source, { ...download, onProgress: onProgress ?? progressBars() });
  }
  const { model, hfConfig, family } = loadCheckpointDir(dir, opts);
  let tokenizer: PretrainedTokenizer | null = null;
  try {
    if (opts.tokenizer !== false && fs.existsSync(`${dir}/tokenizer.json`)) tokenizer = loadTokenizer(dir);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, tokenizer, config: hfConfig, family, dir };
}
