/**
 * HuggingFace checkpoint directories <-> wraplab Transformers, tensor by tensor.
 *
 * Reading: config.json picks the family and the model's shape; the safetensors headers (one file, or the shards a
 * model.safetensors.index.json names) are all checked against the family's tensor rules before a weight is
 * allocated; then each tensor is read, converted to wraplab's layout and assigned, one at a time, so peak memory is
 * the model plus one tensor. Writing is the inverse, into a temporary directory renamed into place.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type ModelConfigInput, type ResolvedModelConfig, Transformer, resolveModelConfig } from '../engine';
import { WraplabError } from '../engine/errors';
import { ensureDir } from '../engine/fsutil';
import { FLOAT_DTYPES, SafetensorsReader, type TensorEntry, type TensorToWrite, dataBytes, writeSafetensorsFile } from '../engine/safetensors';
import { FAMILIES, type Family, type FamilyName, type HfConfig, type TensorRule, family as familyOf } from './families';

export class PretrainedLoadError extends WraplabError {}

export const SAFETENSORS_INDEX = 'model.safetensors.index.json';
export const SAFETENSORS_FILE = 'model.safetensors';
/** Files that travel with the weights (tokenizer and generation settings), copied by savePretrained. */
export const COMPANION_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt', 'generation_config.json'];

export interface CheckpointOptions {
  /** Overrides of the derived wraplab config: e.g. dropout for fine-tuning, a shorter contextLength for a rope model. */
  overrides?: Partial<Pick<ModelConfigInput, 'dropout' | 'contextLength'>>;
  /** Called after each tensor is read (tensors done, tensors in all). */
  onTensor?: (done: number, total: number) => void;
}

/** Where a loaded model came from: savePretrained keeps its original config fields and tokenizer. */
interface Provenance {
  family: FamilyName;
  hfConfig: HfConfig;
  dir: string;
}
const provenance = new WeakMap<Transformer, Provenance>();

/** The HF config.json and family a model was loaded from (undefined for models built in wraplab). */
export function pretrainedOrigin(model: Transformer): Readonly<Provenance> | undefined {
  return provenance.get(model);
}

export function readHfConfig(dir: string): HfConfig {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file)) throw new PretrainedLoadError(`${file} is missing: a HuggingFace model directory holds config.json beside its weights (download the whole repository)`);
  let cfg: unknown;
  try {
    cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new PretrainedLoadError(`${file} is not valid JSON (${(e as Error).message}); download it again`);
  }
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new PretrainedLoadError(`${file} does not hold a JSON object`);
  return cfg as HfConfig;
}

/** config.json -> the family and the wraplab config it implies. */
export function configFromHf(hf: HfConfig, overrides: CheckpointOptions['overrides'] = {}): { family: Family; config: ModelConfigInput } {
  const fam = familyOf(hf.model_type);
  const config = { ...fam.toConfig(hf) };
  if (overrides.dropout !== undefined) config.dropout = overrides.dropout;
  if (overrides.contextLength !== undefined) {
    // Learned position tables are stored at their full length; only rotary models can shorten theirs.
    if (config.positions === 'learned') throw new PretrainedLoadError(`contextLength: ${fam.modelType} learns its ${config.contextLength} positions; it cannot be overridden`);
    config.contextLength = overrides.contextLength;
  }
  return { family: fam, config };
}

/** The weight files of a directory: the shards of an index, or model.safetensors; pickles are refused. */
function weightFiles(dir: string): { files: string[]; index: Map<string, string> | null } {
  const indexFile = path.join(dir, SAFETENSORS_INDEX);
  if (fs.existsSync(indexFile)) {
    let index: { weight_map?: Record<string, string> };
    try {
      index = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
    } catch (e) {
      throw new PretrainedLoadError(`${indexFile} is not valid JSON (${(e as Error).message}); download it again`);
    }
    const map = index.weight_map;
    if (!map || typeof map !== 'object') throw new PretrainedLoadError(`${indexFile} has no weight_map`);
    const files = [...new Set(Object.values(map))];
    for (const f of files) {
      if (typeof f !== 'string' || f.includes('/') || f.includes('\\')) throw new PretrainedLoadError(`${indexFile}: weight_map names ${JSON.stringify(f)}, not a file in the directory`);
      if (!fs.existsSync(path.join(dir, f))) {
        throw new PretrainedLoadError(`${path.join(dir, f)} is missing: ${SAFETENSORS_INDEX} shards the weights over ${files.length} files; download the missing shard (or the whole repository) again`);
      }
    }
    return { files: files.map((f) => path.join(dir, f)), index: new Map(Object.entries(map)) };
  }
  const single = path.join(dir, SAFETENSORS_FILE);
  if (fs.existsSync(single)) return { files: [single], index: null };
  const pickles = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /\.(bin|pt|pth|ckpt)$/.test(f)) : [];
  if (pickles.length) {
    throw new PretrainedLoadError(
      `${dir} holds only PyTorch pickles (${pickles.join(', ')}): wraplab does not load pickles, because unpickling runs arbitrary code. ` +
        'Use the safetensors weights: many repositories have them in a conversion pull request (load with revision "refs/pr/N"), ' +
        'or convert once in Python: AutoModelForCausalLM.from_pretrained(dir).save_pretrained(out, safe_serialization=True)',
    );
  }
  throw new PretrainedLoadError(`${dir} has no weights: expected ${SAFETENSORS_FILE} or ${SAFETENSORS_INDEX} with its shards`);
}

interface Located {
  reader: SafetensorsReader;
  entry: TensorEntry;
}

/**
 * Matches a checkpoint's tensors against the family's rules: every rule found once with the expected shape, every
 * other tensor a known buffer. Errors name the file, the tensor and what to do.
 */
function matchTensors(fam: Family, c: ResolvedModelConfig, readers: SafetensorsReader[], index: Map<string, string> | null, dir: string): { rule: TensorRule; at: Located }[] {
  const rules = fam.tensors(c);
  const byKey = new Map(rules.map((r) => [r.key, r]));
  const found = new Map<string, Located>();
  const unexpected: string[] = [];
  for (const reader of readers) {
    for (const entry of reader.header.entries.values()) {
      if (index && index.get(entry.name) !== undefined && path.join(dir, index.get(entry.name)!) !== reader.file) {
        throw new PretrainedLoadError(`${reader.file} holds ${entry.name}, which ${SAFETENSORS_INDEX} places in ${index.get(entry.name)}: the index and the shards disagree; download them again`);
      }
      const key = entry.name.startsWith(fam.prefix) ? entry.name.slice(fam.prefix.length) : entry.name;
      const rule = byKey.get(key);
      // The LM head sits outside the base model: its key never carries the prefix.
      if (rule && (!rule.head || entry.name === rule.key)) {
        if (found.has(key)) throw new PretrainedLoadError(`${reader.file}: ${entry.name} appears twice in the checkpoint`);
        found.set(key, { reader, entry });
        continue;
      }
      if (fam.buffers.some((re) => re.test(key))) continue;
      // A tied model's head is the embedding; some files still store the copy (HF ties it again on load).
      if (c.tiedEmbeddings && (entry.name === 'lm_head.weight' || entry.name === 'embed_out.weight')) continue;
      unexpected.push(`${entry.name} (${path.basename(reader.file)})`);
    }
  }
  if (index) {
    for (const [name, file] of index) {
      if (!readers.some((r) => r.file === path.join(dir, file) && r.header.entries.has(name))) {
        throw new PretrainedLoadError(`${path.join(dir, file)} lacks ${name}, which ${SAFETENSORS_INDEX} places there: the shard is stale or truncated; download it again`);
      }
    }
  }
  const missing = rules.filter((r) => !found.has(r.key)).map((r) => (r.head ? r.key : fam.prefix + r.key));
  const where = readers.map((r) => path.basename(r.file)).join(', ');
  if (unexpected.length || missing.length) {
    const parts = [];
    if (missing.length) parts.push(`missing ${missing.length} tensor(s) config.json implies: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`);
    if (unexpected.length) parts.push(`${unexpected.length} tensor(s) the ${fam.modelType} loader does not know: ${unexpected.slice(0, 5).join(', ')}${unexpected.length > 5 ? ', ...' : ''}`);
    throw new PretrainedLoadError(`${dir}: config.json and the weights (${where}) disagree: ${parts.join('; ')}. Check that config.json belongs to these weights (e.g. tie_word_embeddings, num_hidden_layers)`);
  }
  const out = rules.map((rule) => ({ rule, at: found.get(rule.key)! }));
  for (const { rule, at } of out) {
    if (at.entry.shape.length !== rule.shape.length || at.entry.shape.some((d, i) => d !== rule.shape[i])) {
      throw new PretrainedLoadError(
        `${at.reader.file}: ${at.entry.name} has shape [${at.entry.shape}] but config.json implies [${rule.shape}]: config.json and the weights disagree (sizes such as hidden_size, vocab_size, intermediate_size, num_attention_heads)`,
      );
    }
    if (!(FLOAT_DTYPES as readonly string[]).includes(at.entry.dtype)) {
      throw new PretrainedLoadError(`${at.reader.file}: ${at.entry.name} is stored as ${at.entry.dtype}; wraplab reads ${FLOAT_DTYPES.join(', ')} weights (quantised checkpoints are not supported: use the unquantised repository, or convert with torch_dtype=float32)`);
    }
  }
  return out;
}

/**
 * Loads a HuggingFace model directory into a Transformer (F32, F16 or BF16 weights, computed in float32).
 * Every check runs on the headers before the model is allocated.
 */
export function loadCheckpointDir(dir: string, opts: CheckpointOptions = {}): { model: Transformer; hfConfig: HfConfig; family: FamilyName } {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new PretrainedLoadError(`${dir} is not a directory`);
  const hfConfig = readHfConfig(dir);
  const { family: fam, config } = configFromHf(hfConfig, opts.overrides);
  const { files, index } = weightFiles(dir);
  const readers: SafetensorsReader[] = [];
  try {
    for (const f of files) readers.push(new SafetensorsReader(f));
    // The rules need the config's derived sizes; resolving allocates nothing.
    const plan = matchTensors(fam, resolveModelConfig(config), readers, index, dir);
    const model = new Transformer(config, 0, { init: 'zeros' });
    try {
      plan.forEach(({ rule, at }, i) => {
        for (const [name, values] of rule.load(at.reader.float32(at.entry.name))) model.assignParam(name, values);
        opts.onTensor?.(i + 1, plan.length);
      });
    } catch (e) {
      model.dispose();
      throw e;
    }
    provenance.set(model, { family: fam.modelType as FamilyName, hfConfig, dir: path.resolve(dir) });
    return { model, hfConfig, family: fam.modelType as FamilyName };
  } finally {
    for (const r of readers) r.close();
  }
}

// ---- saving -----------------------------------------------------------------------------------------------

export type SaveDtype = (typeof FLOAT_DTYPES)[number];
const TORCH_DTYPE: Record<SaveDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

export interface SaveOptions {
  /** The family to save as; defaults to the family the model was loaded from, else the first that fits. */
  family?: FamilyName;
  /** On-disk dtype (F32 is exact; F16/BF16 round to nearest even, as torch's .half()/.bfloat16()). */
  dtype?: SaveDtype;
  /** Split the weights into shards of at most this many bytes, with model.safetensors.index.json (default 2 GiB). */
  maxShardBytes?: number;
  /** Copy tokenizer files from here (defaults to the directory a loaded model came from). */
  tokenizerDir?: string;
  /** Replace an existing non-empty directory. */
  overwrite?: boolean;
  /** Extra config.json fields (e.g. bos_token_id); the structural fields always come from the model. */
  hfConfig?: HfConfig;
}

export class PretrainedSaveError extends WraplabError {}

/** The family a model is saved as, or an error listing why each family does not fit. */
export function saveFamily(model: Transformer, requested?: FamilyName): Family {
  const c = model.config;
  const name = requested ?? provenance.get(model)?.family;
  if (name) {
    const fam = familyOf(name);
    const misfits = fam.misfits(c);
    if (misfits.length) throw new PretrainedSaveError(`this model cannot be saved as ${name}: ${misfits.join('; ')}`);
    return fam;
  }
  const fits = FAMILIES.filter((f) => f.misfits(c).length === 0);
  if (!fits.length) {
    throw new PretrainedSaveError(`this model fits no HuggingFace family wraplab writes:\n${FAMILIES.map((f) => `  ${f.modelType}: ${f.misfits(c).join('; ')}`).join('\n')}`);
  }
  return fits[0];
}

/**
 * Writes a model as a HuggingFace directory (config.json, safetensors, tokenizer files) that transformers'
 * AutoModelForCausalLM.from_pretrained opens unchanged. Atomic: written beside `dir`, then renamed into place.
 */
export function savePretrained(model: Transformer, dir: string, opts: SaveOptions = {}): { dir: string; family: FamilyName; files: string[] } {
  const fam = saveFamily(model, opts.family);
  const dtype = opts.dtype ?? 'F32';
  if (!(FLOAT_DTYPES as readonly string[]).includes(dtype)) throw new PretrainedSaveError(`dtype ${JSON.stringify(dtype)}: choose one of ${FLOAT_DTYPES.join(', ')}`);
  const maxShard = opts.maxShardBytes ?? 2 * 1024 ** 3;
  const target = path.resolve(dir);
  if (fs.existsSync(target)) {
    if (!fs.statSync(target).isDirectory()) throw new PretrainedSaveError(`${target} is a file, not a directory`);
    if (fs.readdirSync(target).length && !opts.overwrite) throw new PretrainedSaveError(`${target} already holds files; pass overwrite: true to replace it, or choose a new directory`);
  }
  const origin = provenance.get(model);
  const c = model.config;
  const tensors: TensorToWrite[] = fam.tensors(c).map((rule) => ({
    name: rule.head ? rule.key : fam.prefix + rule.key,
    dtype,
    shape: rule.shape,
    values: () => rule.save((name) => model.param(name).dataSync() as Float32Array),
  }));
  // Shards in rule order, each under maxShard (a single tensor larger than that gets a shard of its own).
  const shards: TensorToWrite[][] = [[]];
  let bytes = 0;
  for (const t of tensors) {
    const size = dataBytes([t]);
    if (bytes + size > maxShard && shards[shards.length - 1].length) {
      shards.push([]);
      bytes = 0;
    }
    shards[shards.length - 1].push(t);
    bytes += size;
  }
  const names = shards.length === 1 ? [SAFETENSORS_FILE] : shards.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`);
  ensureDir(path.dirname(target));
  const tmp = `${target}.tmp-${process.pid}-${Date.now()}`;
  fs.mkdirSync(tmp);
  try {
    shards.forEach((shard, i) => writeSafetensorsFile(path.join(tmp, names[i]), shard, { format: 'pt' }));
    if (shards.length > 1) {
      const weightMap: Record<string, string> = {};
      shards.forEach((shard, i) => shard.forEach((t) => (weightMap[t.name] = names[i])));
      fs.writeFileSync(path.join(tmp, SAFETENSORS_INDEX), JSON.stringify({ metadata: { total_size: dataBytes(tensors) }, weight_map: weightMap }, null, 2) + '\n');
    }
    const hf: HfConfig = { ...(origin?.family === fam.modelType ? origin.hfConfig : {}), ...opts.hfConfig, ...fam.toHf(c), torch_dtype: TORCH_DTYPE[dtype] };
    fs.writeFileSync(path.join(tmp, 'config.json'), JSON.stringify(hf, null, 2) + '\n');
    const tokenizerDir = opts.tokenizerDir ?? origin?.dir;
    if (tokenizerDir) {
      for (const f of COMPANION_FILES) if (fs.existsSync(path.join(tokenizerDir, f))) fs.copyFileSync(path.join(tokenizerDir, f), path.join(tmp, f));
    }
    // Swap in: the old directory (if any) moves aside first, so a crash leaves either the old or the new one.
    const old = fs.existsSync(target) ? `${target}.old-${process.pid}-${Date.now()}` : null;
    if (old) fs.renameSync(target, old);
    fs.renameSync(tmp, target);
    if (old) fs.rmSync(old, { recursive: true, force: true });
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return { dir: target, family: fam.modelType as FamilyName, files: fs.readdirSync(target).sort() };
}
