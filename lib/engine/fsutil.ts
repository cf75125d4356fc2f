/** File writes that never leave a half-written file behind: write a temp file, then rename over the target. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * mkdir -p, one level at a time: Node's recursive mkdir spins forever where the kernel answers ENOENT for a folder
 * whose parent exists (/proc), and its errors do not say which level failed. Throws naming the level and the cause.
 */
export function ensureDir(dir: string): void {
  const missing: string[] = [];
  let at = path.resolve(dir);
  for (;;) {
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(at);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${at}: ${(e as NodeJS.ErrnoException).code}`);
    }
    if (stat) {
      if (!stat.isDirectory()) throw new Error(`${at} is a file, not a folder`);
      break;
    }
    missing.unshift(at);
    const parent = path.dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const d of missing) {
    try {
      fs.mkdirSync(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && fs.statSync(d).isDirectory()) continue; // made by a concurrent process
      throw new Error(`cannot create ${d}: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EROFS' ? 'read-only file system' : code ?? (e as Error).message}`);
    }
  }
}

const TEMP_FILE = /\.tmp-(\d+)-\d+$/;

/**
 * Deletes the temp files of writeFileAtomic that a killed process left in `dir`: those of a process that is gone,
 * of this pid (this process writes synchronously, so one of its own can only be a dead namesake's), or older than a
 * day. A live writer's file is left alone.
 */
export function removeStaleTempFiles(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = TEMP_FILE.exec(name);
    if (!m) continue;
    const file = path.join(dir, name);
    const pid = Number(m[1]);
    let stale = pid === process.pid;
    if (!stale) {
      try {
        process.kill(pid, 0);
        stale = Date.now() - fs.statSync(file).mtimeMs > 24 * 3600 * 1000;
      } catch (e) {
        stale = (e as NodeJS.ErrnoException).code === 'ESRCH';
      }
    }
    if (stale) fs.rmSync(file, { force: true });
  }
}

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  ensureDir(path.dirname(file));
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

export function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** JSON with object keys sorted recursively: the canonical form hashed to name a run. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}
