/**
 * Downloads a model repository from the HuggingFace Hub into the standard HF cache layout, so Python's
 * `huggingface_hub` and wraplab share one copy:
 *   <cache>/models--<owner>--<name>/refs/<revision>            commit hash the revision pointed to
 *   <cache>/models--<owner>--<name>/blobs/<etag>               file contents (etag = sha256 for LFS files, git oid else)
 *   <cache>/models--<owner>--<name>/snapshots/<commit>/<file>  relative symlink to its blob
 *
 * The Hub API (revision → commit, file listing, authenticated resolve URLs, redirects) goes through
 * `@huggingface/hub`. The cache writes are ours: the library's downloadFileToCacheDir/snapshotDownload fetch every
 * file of a repo (pickles, ONNX, Flax included), report no progress and do not check what they wrote against the
 * Hub's hashes. Here every file is streamed to a temp name next to its blob, checked against the listed size and
 * sha256 (LFS) or git blob id (small files), and only then renamed into place. A transfer that breaks off keeps
 * its bytes as <etag>.wraplab-resume; the next run asks for the rest with a Range request and checks the whole.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { downloadFile, getHFHubCachePath, HubApiError, listFiles, modelInfo } from '@huggingface/hub';
import type { ListFileEntry } from '@huggingface/hub';
import { WraplabError } from '../engine/errors';

export interface DownloadOptions {
  /** Branch, tag, `refs/pr/N` or commit hash; default `main`. */
  revision?: string;
  /** Default: $WRAPLAB_HF_CACHE, else HF's own rule ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** Default $HF_ENDPOINT (a mirror, as in Python), else https://huggingface.co. */
  hubUrl?: string;
  /** A Hub token (`hf_…`) for private or gated repos; default $HF_TOKEN. */
  accessToken?: string;
  /** Called as bytes arrive (at most every MiB, and once when a file is complete or found in the cache). */
  onProgress?: (file: string, done: number, total: number) => void;
  fetch?: typeof fetch;
}

/** A download that cannot go ahead: names the repo/file and the fix. */
export class HubError extends WraplabError {}

const COMMIT = /^[0-9a-f]{40}$/;
const REPO_ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;
const PROGRESS_STEP = 1 << 20;
const STALE_TEMP_MS = 3600_000;

/** The cache root used when `cacheDir` is not given. */
export function defaultCacheDir(): string {
  return process.env.WRAPLAB_HF_CACHE || getHFHubCachePath();
}

/** `<cache>/models--owner--name`, HF's folder name for a model repo. */
export function repoCacheDir(repoId: string, cacheDir = defaultCacheDir()): string {
  return path.join(cacheDir, ['models', ...repoId.split('/')].join('--'));
}

/**
 * The files of a checkpoint wraplab reads: top-level JSON (config, tokenizer, generation config, shard index),
 * merges.txt, and the safetensors weights: model.safetensors, else the shards named by model.safetensors.index.json.
 * Pickles (`*.bin`, `*.pt`), ONNX, Flax/TF weights and sub-folders (not even listed) are never fetched.
 */
function wanted(p: string): boolean {
  return p.endsWith('.json') || p === 'merges.txt';
}

/**
 * Downloads the parts of `repoId` wraplab needs (config, tokenizer, safetensors weights) into the HF cache and
 * returns the snapshot folder. Files already in the cache are not fetched again; with HF_HUB_OFFLINE=1 or when the
 * Hub cannot be reached, a cached snapshot of the revision is returned as is.
 */
export async function downloadModel(repoId: string, opts: DownloadOptions = {}): Promise<string> {
  if (typeof repoId !== 'string' || !REPO_ID.test(repoId) || repoId.includes('..')) {
    throw new HubError(`"${repoId}" is not a model repo id: write it as owner/name, e.g. EleutherAI/pythia-70m`);
  }
  const revision = opts.revision ?? 'main';
  if (revision.split('/').includes('..') || revision.startsWith('/')) throw new HubError(`revision "${revision}" is not a branch, tag or commit`);
  const cacheDir = path.resolve(opts.cacheDir ?? defaultCacheDir());
  const storage = repoCacheDir(repoId, cacheDir);
  const hubUrl = (opts.hubUrl ?? (process.env.HF_ENDPOINT || 'https://huggingface.co')).replace(/\/+$/, '');
  const accessToken = opts.accessToken ?? (process.env.HF_TOKEN || undefined);
  if (accessToken !== undefined && !accessToken.startsWith('hf_')) {
    throw new HubError(`the Hub access token ${opts.accessToken !== undefined ? '(accessToken)' : 'in HF_TOKEN'} does not start with "hf_": copy it from https://huggingface.co/settings/tokens`);
  }
  const where = `${repoId}@${revision}`;
  const api = { repo: { type: 'model' as const, name: repoId }, hubUrl, accessToken, fetch: opts.fetch };

  if (/^(1|on|yes|true)$/i.test(process.env.HF_HUB_OFFLINE ?? '')) {
    const cached = cachedSnapshot(storage, revision);
    if (cached) return cached;
    throw new HubError(`${where} is not in the cache ${cacheDir} and HF_HUB_OFFLINE=${process.env.HF_HUB_OFFLINE} forbids downloading it: unset HF_HUB_OFFLINE`);
  }

  let commit: string;
  let entries: ListFileEntry[];
  try {
    commit = COMMIT.test(revision) ? revision : (await modelInfo({ ...api, name: repoId, revision, additionalFields: ['sha'] })).sha;
    entries = [];
    // Top level only: wraplab reads no sub-folder (onnx/, checkpoints/…), and some repos hold thousands of files there.
    for await (const e of listFiles({ ...api, revision: commit, recursive: false })) if (e.type === 'file') entries.push(e);
  } catch (e) {
    const offline = unreachable(e);
    if (offline) {
      const cached = cachedSnapshot(storage, revision);
      if (cached) return cached; // as Python's huggingface_hub does when the Hub is down
      throw new HubError(`cannot reach ${hubUrl} (${offline}) and ${where} is not in the cache ${cacheDir}: check the network or hubUrl`);
    }
    throw hubError(e, where, hubUrl);
  }
  if (!COMMIT.test(commit)) throw new HubError(`${hubUrl} answered commit "${commit}" for ${where}, not a 40-hex commit hash`);

  const byPath = new Map(entries.map((e) => [e.path, e]));
  if (!byPath.has('config.json')) throw new HubError(`${where} has no config.json: it is not a transformers model repo`);
  const pick = entries.filter((e) => wanted(e.path));
  const snapshot = path.join(storage, 'snapshots', commit);
  const get = (e: ListFileEntry) => fetchToCache(e, { ...api, revision: commit, storage, snapshot, where, onProgress: opts.onProgress });

  let weights: string[];
  if (byPath.has('model.safetensors')) {
    weights = ['model.safetensors'];
  } else if (byPath.has('model.safetensors.index.json')) {
    const indexFile = await get(byPath.get('model.safetensors.index.json')!);
    weights = shardsOf(indexFile, where, byPath);
  } else {
    const pickles = entries.filter((e) => /\.(bin|pt|pth|ckpt)$/.test(e.path)).map((e) => e.path);
    const found = pickles.length ? `only ${pickles.join(', ')} (Python pickles: loading one can run arbitrary code, so wraplab refuses them)` : 'no model.safetensors';
    throw new HubError(
      `${where} has ${found}. Use a safetensors revision: the Hub's conversion bot opens pull requests named "Adding \`safetensors\` variant of this model", ` +
        `listed at ${hubUrl}/${repoId}/discussions; pass that revision, e.g. { revision: 'refs/pr/1' }`,
    );
  }
  for (const e of pick) await get(e);
  for (const w of weights) await get(byPath.get(w)!);
  if (revision !== commit) writeRef(storage, revision, commit);
  return snapshot;
}

/** Shard files named by a model.safetensors.index.json, each checked to be a top-level safetensors file of the repo. */
function shardsOf(indexFile: string, where: string, byPath: Map<string, ListFileEntry>): string[] {
  let map: unknown;
  try {
    map = (JSON.parse(fs.readFileSync(indexFile, 'utf8')) as { weight_map?: unknown }).weight_map;
  } catch (e) {
    throw new HubError(`${where}: model.safetensors.index.json is not valid JSON (${(e as Error).message})`);
  }
  if (typeof map !== 'object' || map === null) throw new HubError(`${where}: model.safetensors.index.json has no weight_map object`);
  const shards = [...new Set(Object.values(map as Record<string, unknown>))];
  for (const s of shards) {
    if (typeof s !== 'string' || s.includes('/') || !s.endsWith('.safetensors') || !byPath.has(s)) {
      throw new HubError(`${where}: model.safetensors.index.json names shard ${JSON.stringify(s)}, which is not a safetensors file of the repo`);
    }
  }
  return shards as string[];
}

interface FetchContext {
  repo: { type: 'model'; name: string };
  revision: string;
  hubUrl: string;
  accessToken?: string;
  fetch?: typeof fetch;
  storage: string;
  snapshot: string;
  where: string;
  onProgress?: (file: string, done: number, total: number) => void;
}

/** Puts one repo file into the cache (unless there) and returns its snapshot path. */
async function fetchToCache(entry: ListFileEntry, ctx: FetchContext): Promise<string> {
  const file = entry.path;
  // The name comes from the server and is joined onto the cache: a top-level name, nothing that climbs out.
  if (!/^[^/\\]+$/.test(file) || file === '.' || file === '..') throw new HubError(`${ctx.where}: the Hub listed a file named ${JSON.stringify(file)}, which wraplab will not write`);
  const size = entry.lfs?.size ?? entry.size;
  const pointer = path.join(ctx.snapshot, file);
  if (fs.existsSync(pointer)) {
    ctx.onProgress?.(file, size, size);
    return pointer;
  }
  // LFS files are named by their sha256, others by their git blob id, as Python's cache names them.
  const etag = entry.lfs?.oid ?? entry.oid;
  if (!etag || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(etag)) throw new HubError(`${ctx.where}: the Hub listed ${file} without a usable hash (${etag}); retry later`);
  const blob = path.join(ctx.storage, 'blobs', etag);
  fs.mkdirSync(path.dirname(blob), { recursive: true });
  if (!fs.existsSync(blob)) await downloadBlob(entry, etag, blob, size, ctx);
  fs.mkdirSync(path.dirname(pointer), { recursive: true });
  // Made under a temp name and renamed over the pointer: atomic, and it replaces a dangling link to a deleted blob
  // or one another process made meanwhile.
  const link = `${pointer}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.link`;
  fs.symlinkSync(path.relative(path.dirname(pointer), blob), link);
  fs.renameSync(link, pointer);
  ctx.onProgress?.(file, size, size);
  return pointer;
}

/** Where an interrupted download's bytes wait for the next run (one per blob; claimed by renaming it away). */
const resumeName = (blob: string) => `${blob}.wraplab-resume`;

async function downloadBlob(entry: ListFileEntry, etag: string, blob: string, size: number, ctx: FetchContext): Promise<void> {
  const file = entry.path;
  removeDeadTemps(blob);
  // The temp name carries the pid, so two processes fetching the same blob never write into one file.
  const temp = `${blob}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.incomplete`;
  // sha256 of the content for LFS files; for small files git's blob id, sha1("blob <size>\0" + content).
  const hash = entry.lfs ? createHash('sha256') : createHash('sha1').update(`blob ${size}\0`);
  let done = 0;
  // A transfer that breaks off keeps its bytes for the next run; one that lies (too long, wrong hash) does not.
  let keepPartial = false;
  try {
    done = claimPartial(blob, temp, size, hash);
    let data: Blob | null;
    try {
      // xet: false streams the file over plain HTTP (the Hub redirects to its CDN), the path this module's tests
      // exercise; integrity is checked below either way.
      data = await downloadFile({ ...ctx, path: file, xet: false });
    } catch (e) {
      keepPartial = done > 0;
      throw hubError(e, `${ctx.where}: ${file}`, ctx.hubUrl);
    }
    if (!data) throw new HubError(`${ctx.where}: ${file} was listed but the Hub answers that it does not exist; retry later`);
    if (done > 0) ctx.onProgress?.(file, done, size);
    const out = fs.openSync(temp, done > 0 ? 'a' : 'w');
    try {
      let next = done + PROGRESS_STEP;
      // Resuming asks for the rest only (an HTTP Range request for large files).
      const reader = (done > 0 ? data.slice(done, size) : data).stream().getReader();
      // On any error below, stop the transfer instead of leaving the connection streaming into nothing.
      const stop = (e: unknown): never => {
        reader.cancel().catch(() => undefined);
        throw e;
      };
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (e) {
          keepPartial = true;
          throw new HubError(`${ctx.where}: the download of ${file} broke off after ${done} of ${size} bytes (${causeOf(e)}); run again to resume it`);
        }
        if (chunk.done) break;
        const bytes = chunk.value;
        if (done + bytes.length > size) stop(new HubError(`${ctx.where}: ${file} is larger than the ${size} bytes the Hub listed; run again`));
        try {
          for (let at = 0; at < bytes.length; ) at += fs.writeSync(out, bytes, at); // writeSync may write less than asked
        } catch (e) {
          stop(new HubError(`${ctx.where}: cannot write ${temp}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`));
        }
        hash.update(bytes);
        done += bytes.length;
        if (done >= next) {
          ctx.onProgress?.(file, done, size);
          next = done + PROGRESS_STEP;
        }
      }
      fs.fsyncSync(out);
    } finally {
      fs.closeSync(out);
    }
    if (done !== size) {
      keepPartial = true;
      throw new HubError(`${ctx.where}: the download of ${file} ended after ${done} of ${size} bytes; run again to resume it`);
    }
    const got = hash.digest('hex');
    if (got !== etag) throw new HubError(`${ctx.where}: ${file} arrived corrupted (${entry.lfs ? 'sha256' : 'git blob id'} ${got}, the Hub lists ${etag}); run again`);
    fs.renameSync(temp, blob);
  } finally {
    if (keepPartial && fs.existsSync(temp) && fs.statSync(temp).size > 0) fs.renameSync(temp, resumeName(blob));
    fs.rmSync(temp, { force: true });
  }
}

/**
 * Takes over the bytes an interrupted download left (renaming them to this download's temp name, so two processes
 * never both resume one partial), feeds them to the hash and returns their length; 0 when there are none.
 */
function claimPartial(blob: string, temp: string, size: number, hash: ReturnType<typeof createHash>): number {
  try {
    fs.renameSync(resumeName(blob), temp);
  } catch {
    return 0;
  }
  const have = fs.statSync(temp).size;
  if (have >= size) {
    fs.rmSync(temp, { force: true }); // cannot be a prefix of the file: start over
    return 0;
  }
  const fd = fs.openSync(temp, 'r');
  try {
    const buf = Buffer.allocUnsafe(Math.min(have, 8 << 20));
    for (let at = 0; at < have; ) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, have - at), at);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      at += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return have;
}

/**
 * Deletes temp files of `blob` that no download is writing: their process is gone (killed mid-download), or they
 * have not grown for an hour (the pid was reused). A live download, this process's included, keeps its file.
 */
function removeDeadTemps(blob: string): void {
  const dir = path.dirname(blob);
  const prefix = `${path.basename(blob)}.`;
  for (const name of fs.readdirSync(dir)) {
    // Only our own names (<etag>.<pid>.<random>.incomplete): Python's <etag>.incomplete may be a live resumable download.
    const m = name.startsWith(prefix) ? /^(\d+)\.[a-z0-9]+\.incomplete$/.exec(name.slice(prefix.length)) : null;
    if (!m) continue;
    const file = path.join(dir, name);
    const pid = Number(m[1]);
    let idle = 0;
    try {
      idle = Date.now() - fs.statSync(file).mtimeMs;
    } catch {
      continue; // finished or removed meanwhile
    }
    if (pid > 0 && alive(pid) && idle < STALE_TEMP_MS) continue;
    fs.rmSync(file, { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** refs/<revision> holds the commit, so an offline run can find the snapshot (refs/pr/1 nests, as in Python). */
function writeRef(storage: string, revision: string, commit: string): void {
  const ref = path.join(storage, 'refs', revision);
  fs.mkdirSync(path.dirname(ref), { recursive: true });
  const temp = `${ref}.${process.pid}.tmp`;
  fs.writeFileSync(temp, commit);
  fs.renameSync(temp, ref);
}

/** The cached snapshot of `revision` if it holds config.json and its weights, else null. */
function cachedSnapshot(storage: string, revision: string): string | null {
  let commit = revision;
  if (!COMMIT.test(revision)) {
    try {
      commit = fs.readFileSync(path.join(storage, 'refs', revision), 'utf8').trim();
    } catch {
      return null;
    }
  }
  const snap = path.join(storage, 'snapshots', commit);
  if (!fs.existsSync(path.join(snap, 'config.json'))) return null;
  if (fs.existsSync(path.join(snap, 'model.safetensors'))) return snap;
  try {
    const map = JSON.parse(fs.readFileSync(path.join(snap, 'model.safetensors.index.json'), 'utf8')).weight_map as Record<string, string>;
    return Object.values(map).every((s) => fs.existsSync(path.join(snap, s))) ? snap : null;
  } catch {
    return null;
  }
}

/** The network cause (e.g. ECONNREFUSED) when `e` is a failure to reach the server, else null. */
function unreachable(e: unknown): string | null {
  if (!(e instanceof TypeError) || e.message !== 'fetch failed') return null;
  return causeOf(e);
}

function causeOf(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message ?? String(e);
}

function hubError(e: unknown, what: string, hubUrl: string): Error {
  if (e instanceof WraplabError) return e;
  if (e instanceof HubApiError) {
    if (e.statusCode === 401 || e.statusCode === 403 || e.statusCode === 404) {
      return new HubError(
        `${what}: ${hubUrl} answered ${e.statusCode} (${e.message}). Check the repo id and revision; a private or gated model needs ` +
          `accessToken (or HF_TOKEN) from an account that accepted its terms`,
      );
    }
    return new HubError(`${what}: ${hubUrl} answered ${e.statusCode} (${e.message}); retry later`);
  }
  const offline = unreachable(e);
  if (offline) return new HubError(`${what}: cannot reach ${hubUrl} (${offline}); check the network or hubUrl`);
  return e as Error;
}
