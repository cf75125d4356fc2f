import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultCacheDir, downloadModel, HubError, repoCacheDir } from '../../lib/pretrained/hub';

const made: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-hub-'));
  made.push(d);
  return d;
};
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});
delete process.env.HF_TOKEN;
delete process.env.HF_HUB_OFFLINE;

const LFS = /\.(safetensors|bin|onnx|msgpack|h5)$/;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const gitOid = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

interface FakeRepo {
  commit: string;
  files: Record<string, Buffer>;
}

/**
 * A local stand-in for the Hub, answering the endpoints @huggingface/hub calls (see its src/lib): model info
 * (/api/models/{repo}/revision/{rev}), the file tree (/api/models/{repo}/tree/{rev}), and /{repo}/resolve/{rev}/{file}
 * with the Range probe (206 + Content-Range), ETag/X-Linked-ETag/X-Repo-Commit, and LFS files redirected to a CDN path.
 */
class FakeHub {
  requests: string[] = [];
  repos = new Map<string, FakeRepo>();
  /** How to spoil the next full download of a file: cut it halfway, flip a byte, or append bytes. */
  spoil = new Map<string, 'drop' | 'corrupt' | 'longer'>();
  private server = http.createServer((req, res) => this.handle(req, res));
  url = '';

  async start(): Promise<this> {
    await new Promise<void>((ok) => this.server.listen(0, '127.0.0.1', ok));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((ok) => this.server.close(ok));
  }
  add(repo: string, files: Record<string, string | Buffer>): FakeRepo {
    const r = { commit: createHash('sha1').update(repo + Object.keys(files).join()).digest('hex'), files: {} as Record<string, Buffer> };
    for (const [k, v] of Object.entries(files)) r.files[k] = Buffer.isBuffer(v) ? v : Buffer.from(v);
    this.repos.set(repo, r);
    return r;
  }
  resolves(): string[] {
    return this.requests.filter((r) => r.includes('/resolve/') || r.startsWith('GET /cdn/'));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url!, this.url);
    this.requests.push(`${req.method} ${url.pathname}${req.headers.range ? ` ${req.headers.range}` : ''}`);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(url.pathname);
    if (m) {
      const repo = this.repos.get(m[1]);
      const rev = decodeURIComponent(m[2]);
      if (!repo) return json(401, { error: 'Repository not found' });
      if (rev !== 'main' && rev !== 'refs/pr/1' && rev !== repo.commit) return json(404, { error: `Invalid rev id: ${rev}` });
      return json(200, { _id: 'x', id: m[1], sha: repo.commit, private: false, downloads: 0, likes: 0, lastModified: '2024-01-01T00:00:00.000Z' });
    }
    m = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([0-9a-f]{40})$/.exec(url.pathname);
    if (m) {
      const repo = this.repos.get(m[1]);
      if (!repo || m[2] !== repo.commit) return json(404, { error: 'not found' });
      // As the Hub does: without recursive=true, files of the top level and its folders as "directory" entries.
      const recursive = url.searchParams.get('recursive') === 'true';
      const entries: unknown[] = [];
      const dirs = new Set<string>();
      for (const [p, b] of Object.entries(repo.files)) {
        if (!recursive && p.includes('/')) {
          const d = p.split('/')[0];
          if (!dirs.has(d)) entries.push({ type: 'directory', path: d, size: 0, oid: gitOid(Buffer.from(d)) });
          dirs.add(d);
          continue;
        }
        entries.push(
          LFS.test(p)
            ? { type: 'file', path: p, size: b.length, oid: gitOid(Buffer.from(`pointer ${p}`)), lfs: { oid: sha256(b), size: b.length, pointerSize: 135 } }
            : { type: 'file', path: p, size: b.length, oid: gitOid(b) },
        );
      }
      return json(200, entries);
    }
    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (m) {
      const repo = this.repos.get(m[1]);
      const file = repo?.files[m[3]];
      if (!repo || !file) {
        res.writeHead(404, { 'X-Error-Code': 'EntryNotFound' });
        return void res.end();
      }
      const headers = { 'X-Repo-Commit': repo.commit, ETag: `"${LFS.test(m[3]) ? sha256(file) : gitOid(file)}"`, 'X-Linked-ETag': `"${sha256(file)}"`, 'X-Linked-Size': String(file.length) };
      if (LFS.test(m[3])) {
        res.writeHead(302, { ...headers, Location: `/cdn/${m[1]}/${m[3]}` });
        return void res.end();
      }
      return this.serve(req, res, m[3], file, headers);
    }
    m = /^\/cdn\/([^/]+\/[^/]+)\/(.+)$/.exec(url.pathname);
    if (m) {
      const file = this.repos.get(m[1])?.files[m[2]];
      if (file) return this.serve(req, res, m[2], file, { ETag: `"${sha256(file)}"` });
    }
    json(404, { error: `no route ${url.pathname}` });
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse, name: string, file: Buffer, headers: Record<string, string>): void {
    const range = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''));
    if (range) {
      const [from, to] = [Number(range[1]), Math.min(Number(range[2]), file.length - 1)];
      res.writeHead(206, { ...headers, 'Content-Range': `bytes ${from}-${to}/${file.length}`, 'Content-Length': String(to - from + 1) });
      return void res.end(file.subarray(from, to + 1));
    }
    const spoil = this.spoil.get(name);
    this.spoil.delete(name);
    if (spoil === 'longer') {
      const body = Buffer.concat([file, Buffer.from('trailing junk')]);
      res.writeHead(200, { ...headers, 'Content-Length': String(body.length) });
      return void res.end(body);
    }
    res.writeHead(200, { ...headers, 'Content-Length': String(file.length) });
    if (spoil === 'drop') {
      res.write(file.subarray(0, file.length >> 1));
      setTimeout(() => res.socket?.destroy(), 20); // the connection dies with half the body sent
      return;
    }
    if (spoil === 'corrupt') {
      const bad = Buffer.from(file);
      bad[bad.length - 1] ^= 1;
      return void res.end(bad);
    }
    res.end(file);
  }
}

/** Files and folders under `dir`, relative, sorted (symlinks listed, not followed). */
function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(path.relative(dir, p));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

const weights = Buffer.alloc(2_500_000);
for (let i = 0; i < weights.length; i++) weights[i] = (i * 7919) % 251;
const gptRepo = () => ({
  'config.json': '{"model_type": "gpt2", "n_layer": 1}',
  'tokenizer.json': '{"model": {"type": "BPE"}}',
  'tokenizer_config.json': '{"eos_token": "<|endoftext|>"}',
  'generation_config.json': '{}',
  'model.safetensors': weights,
  'pytorch_model.bin': Buffer.from('pickle bytes'),
  'flax_model.msgpack': Buffer.from('flax'),
  'onnx/model.onnx': Buffer.from('onnx'),
  'onnx/config.json': '{}',
  'README.md': '# card',
});

test('downloadModel lands config, tokenizer and safetensors in the HF cache layout with the right bytes, skipping pickles and ONNX', async () => {
  const hub = await new FakeHub().start();
  try {
    const repo = hub.add('acme/tiny-gpt', gptRepo());
    const cacheDir = tmp();
    const progress: [string, number, number][] = [];
    const dir = await downloadModel('acme/tiny-gpt', { cacheDir, hubUrl: hub.url, onProgress: (f, d, t) => progress.push([f, d, t]) });
    const storage = repoCacheDir('acme/tiny-gpt', cacheDir);
    assert.equal(dir, path.join(storage, 'snapshots', repo.commit));
    assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    for (const f of fs.readdirSync(dir)) {
      assert.ok(fs.readFileSync(path.join(dir, f)).equals(repo.files[f]), f);
      // Python's layout: a relative link into blobs/, named by sha256 (LFS) or the git blob id.
      const link = fs.readlinkSync(path.join(dir, f));
      assert.ok(!path.isAbsolute(link));
      assert.equal(path.basename(link), f.endsWith('.safetensors') ? sha256(repo.files[f]) : gitOid(repo.files[f]));
    }
    assert.equal(fs.readFileSync(path.join(storage, 'refs', 'main'), 'utf8'), repo.commit);
    assert.deepEqual(listTree(path.join(storage, 'blobs')).length, 5);
    assert.ok(!hub.requests.some((r) => /pytorch_model|msgpack|onnx|README/.test(r)), hub.requests.join('\n'));
    assert.deepEqual(listTree(path.join(storage, 'blobs')).filter((f) => !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(f)), []); // no temp file left
    // The 2.5 MB file reports each MiB as it arrives, then completion; every file reports completion.
    const steps = progress.filter(([f]) => f === 'model.safetensors').map(([, done, total]) => (assert.equal(total, weights.length), done));
    assert.equal(steps.at(-1), weights.length);
    assert.ok(steps.length >= 3 && steps.every((d, i) => i === 0 || d >= steps[i - 1]), `progress ${steps}`);
    assert.ok(steps[0] >= 1 << 20 && steps[0] < weights.length, `first report at ${steps[0]}`);
    assert.equal(new Set(progress.map(([f]) => f)).size, 5);
  } finally {
    await hub.stop();
  }
});

test('a second download is served from the cache: no file is fetched again; offline, the cached snapshot is returned', async () => {
  const hub = await new FakeHub().start();
  const cacheDir = tmp();
  try {
    const repo = hub.add('acme/tiny-gpt', gptRepo());
    const first = await downloadModel('acme/tiny-gpt', { cacheDir, hubUrl: hub.url });
    const fetched = hub.resolves().length;
    assert.ok(fetched >= 5, `first download made ${fetched} file requests`);
    hub.requests = [];
    assert.equal(await downloadModel('acme/tiny-gpt', { cacheDir, hubUrl: hub.url }), first);
    assert.deepEqual(hub.requests, ['GET /api/models/acme/tiny-gpt/revision/main', `GET /api/models/acme/tiny-gpt/tree/${repo.commit}`]);
    hub.requests = [];
    assert.equal(await downloadModel('acme/tiny-gpt', { cacheDir, hubUrl: hub.url, revision: repo.commit }), first);
    assert.deepEqual(hub.requests, [`GET /api/models/acme/tiny-gpt/tree/${repo.commit}`]); // a commit needs no lookup
    process.env.HF_ENDPOINT = hub.url; // a mirror named as Python's huggingface_hub names it
    try {
      assert.equal(await downloadModel('acme/tiny-gpt', { cacheDir }), first);
    } finally {
      delete process.env.HF_ENDPOINT;
    }
    assert.equal(hub.requests.length, 3);
    hub.requests = [];
    process.env.HF_HUB_OFFLINE = '1';
    try {
      assert.equal(await downloadModel('acme/tiny-gpt', { cacheDir, hubUrl: hub.url }), first);
      await assert.rejects(downloadModel('acme/other', { cacheDir, hubUrl: hub.url }), /acme\/other@main is not in the cache .* HF_HUB_OFFLINE=1/);
    } finally {
      delete process.env.HF_HUB_OFFLINE;
    }
    assert.deepEqual(hub.requests, []);
  } finally {
    await hub.stop();
  }
  // The Hub is gone now: the cached snapshot still serves, an uncached repo fails naming the cause.
  assert.ok(fs.existsSync(path.join(await downloadModel('acme/tiny-gpt', { cacheDir, hubUrl: hub.url }), 'model.safetensors')));
  await assert.rejects(downloadModel('acme/missing', { cacheDir, hubUrl: hub.url }), (e: Error) => e instanceof HubError && /cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\) and acme\/missing@main is not in the cache/.test(e.message));
});

test('a transfer cut off midway, corrupted or longer than listed leaves nothing under its final name; a cut-off one resumes by Range request, a lying one starts over', async () => {
  const hub = await new FakeHub().start();
  try {
    const repo = hub.add('acme/tiny-gpt', gptRepo());
    const cacheDir = tmp();
    const storage = repoCacheDir('acme/tiny-gpt', cacheDir);
    const snapshot = path.join(storage, 'snapshots', repo.commit);
    const noTraceOfWeights = () => {
      assert.ok(!fs.existsSync(path.join(snapshot, 'model.safetensors')));
      assert.deepEqual(listTree(path.join(storage, 'blobs')).filter((f) => f.startsWith(sha256(weights)) || f.includes('incomplete')), []);
      assert.ok(!fs.existsSync(path.join(storage, 'refs', 'main'))); // refs/main only once the snapshot is whole
    };
    hub.spoil.set('model.safetensors', 'drop');
    await assert.rejects(downloadModel('acme/tiny-gpt', { cacheDir, hubUrl: hub.url }), (e: Error) => e instanceof HubError && /acme\/tiny-gpt@main: the download of model\.safetensors (broke off|ended) after \d+ of 2500000 bytes.*run again to resume it/.test(e.message));
    // The bytes that arrived wait under the resume name; nothing sits under the blob's or the file's own name.
    const resume = path.join(storage, 'blobs', `${sha256(weights)}.wraplab-resume`);
    const kept = fs.readFileSync(resume);
    assert.ok(kept.length > 0 && kept.length < weights.length && kept.equals(weights.subarray(0, kept.length)));
    const aside = path.join(tmp(), 'partial');
    fs.renameSync(resume, aside);
    noTraceOfWeights();
    fs.renameSync(aside, resume);
    // The next run asks only for the rest, and the file it assembles passes the sha256 check.
    hub.requests.length = 0;
    const resumed = await downloadModel('acme/tiny-gpt', { cacheDir, hubUrl: hub.url });
    assert.ok(fs.readFileSync(path.join(resumed, 'model.safetensors')).equals(weights));
    assert.ok(hub.requests.some((r) => r.endsWith(`bytes=${kept.length}-${weights.length - 1}`)), hub.requests.join('\n'));
    assert.ok(!fs.existsSync(resume));
    fs.rmSync(path.join(storage, 'blobs', sha256(weights)));
    fs.rmSync(path.join(resumed, 'model.safetensors'));
    fs.rmSync(path.join(storage, 'refs', 'main'));
    noTraceOfWeights();
    // A partial that is not a prefix of the file (the file changed) fails its hash check once, then starts over.
    fs.writeFileSync(resume, Buffer.alloc(1000, 7));
    await assert.rejects(downloadModel('acme/tiny-gpt', { cacheDir, hubUrl: hub.url }), /arrived corrupted/);
    noTraceOfWeights();
    hub.spoil.set('model.safetensors', 'corrupt');
    await assert.rejects(downloadModel('acme/tiny-gpt', { cacheDir, hubUrl: hub.url }), new RegExp(`model\\.safetensors arrived corrupted \\(sha256 [0-9a-f]{64}, the Hub lists ${sha256(weights)}\\); run again`));
    noTraceOfWeights();
    hub.spoil.set('model.safetensors', 'longer');
    await assert.rejects(downloadModel('acme/tiny-gpt', { cacheDir, hubUrl: hub.url }), /model\.safetensors is larger than the 2500000 bytes the Hub listed; run again/);
    noTraceOfWeights();
    const dir = await downloadModel('acme/tiny-gpt', { cacheDir, hubUrl: hub.url });
    assert.ok(fs.readFileSync(path.join(dir, 'model.safetensors')).equals(weights));
    // A temp file of a killed process (a pid that no longer exists) is swept on the next download of that blob.
    const blob = path.join(storage, 'blobs', sha256(weights));
    fs.rmSync(blob);
    fs.rmSync(path.join(dir, 'model.safetensors'));
    const stale = `${blob}.999999999.abc.incomplete`;
    fs.writeFileSync(stale, 'half');
    // One being written by a live download (this process, another call) stays.
    const live = `${blob}.${process.pid}.def.incomplete`;
    fs.writeFileSync(live, 'growing');
    const python = `${blob}.incomplete`; // huggingface_hub's resumable temp: not ours to delete
    fs.writeFileSync(python, 'resumable');
    await downloadModel('acme/tiny-gpt', { cacheDir, hubUrl: hub.url });
    assert.ok(!fs.existsSync(stale));
    assert.ok(fs.existsSync(live));
    assert.ok(fs.existsSync(python));
    assert.ok(fs.readFileSync(path.join(dir, 'model.safetensors')).equals(weights));
  } finally {
    await hub.stop();
  }
});

test('two downloads of one repo at once share the cache and both succeed', async () => {
  const hub = await new FakeHub().start();
  try {
    const repo = hub.add('acme/tiny-gpt', gptRepo());
    const cacheDir = tmp();
    const [a, b] = await Promise.all([downloadModel('acme/tiny-gpt', { cacheDir, hubUrl: hub.url }), downloadModel('acme/tiny-gpt', { cacheDir, hubUrl: hub.url })]);
    assert.equal(a, b);
    assert.ok(fs.readFileSync(path.join(a, 'model.safetensors')).equals(repo.files['model.safetensors']));
    assert.deepEqual(fs.readdirSync(a).sort(), ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  } finally {
    await hub.stop();
  }
});

test('sharded checkpoints fetch the index and the shards it names, nothing else', async () => {
  const hub = await new FakeHub().start();
  try {
    const index = { metadata: {}, weight_map: { 'a.weight': 'model-00001-of-00002.safetensors', 'b.weight': 'model-00002-of-00002.safetensors', 'c.weight': 'model-00002-of-00002.safetensors' } };
    hub.add('acme/sharded', {
      'config.json': '{}',
      'model.safetensors.index.json': JSON.stringify(index),
      'model-00001-of-00002.safetensors': Buffer.from('shard one'),
      'model-00002-of-00002.safetensors': Buffer.from('shard two'),
      'adapter_model.safetensors': Buffer.from('not ours'),
    });
    const cacheDir = tmp();
    const dir = await downloadModel('acme/sharded', { cacheDir, hubUrl: hub.url, revision: 'refs/pr/1' });
    assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']);
    assert.equal(fs.readFileSync(path.join(dir, 'model-00002-of-00002.safetensors'), 'utf8'), 'shard two');
    assert.ok(fs.existsSync(path.join(repoCacheDir('acme/sharded', cacheDir), 'refs', 'refs', 'pr', '1'))); // as Python nests it

    hub.add('acme/bad-index', { 'config.json': '{}', 'model.safetensors.index.json': '{"weight_map": {"a": "../../evil.safetensors"}}' });
    await assert.rejects(downloadModel('acme/bad-index', { cacheDir, hubUrl: hub.url }), /model\.safetensors\.index\.json names shard "\.\.\/\.\.\/evil\.safetensors", which is not a safetensors file of the repo/);
  } finally {
    await hub.stop();
  }
});

test('a pickle-only repo, a missing repo or revision, and bad arguments give one clear error each', async () => {
  const hub = await new FakeHub().start();
  try {
    hub.add('acme/pickled', { 'config.json': '{}', 'pytorch_model.bin': Buffer.from('pickle'), 'tokenizer.json': '{}' });
    hub.add('acme/empty', { 'config.json': '{}' });
    hub.add('acme/not-a-model', { 'README.md': 'hi' });
    const cacheDir = tmp();
    const opts = { cacheDir, hubUrl: hub.url };
    await assert.rejects(
      downloadModel('acme/pickled', opts),
      (e: Error) =>
        e instanceof HubError &&
        /acme\/pickled@main has only pytorch_model\.bin \(Python pickles: loading one can run arbitrary code, so wraplab refuses them\)/.test(e.message) &&
        e.message.includes(`${hub.url}/acme/pickled/discussions`) &&
        /revision: 'refs\/pr\/1'/.test(e.message),
    );
    assert.ok(!hub.resolves().length, 'nothing is downloaded from a repo that will be refused');
    await assert.rejects(downloadModel('acme/empty', opts), /acme\/empty@main has no model\.safetensors/);
    await assert.rejects(downloadModel('acme/not-a-model', opts), /acme\/not-a-model@main has no config\.json/);
    await assert.rejects(downloadModel('acme/nope', opts), (e: Error) => e instanceof HubError && /acme\/nope@main: .* answered 401 .*accessToken \(or HF_TOKEN\)/.test(e.message));
    await assert.rejects(downloadModel('acme/empty', { ...opts, revision: 'v9' }), /acme\/empty@v9: .* answered 404 \(Invalid rev id: v9/);
    hub.add('acme/hostile', { 'config.json': '{}', 'model.safetensors': Buffer.from('w'), '..\\..\\evil.json': '{}' });
    await assert.rejects(downloadModel('acme/hostile', opts), /acme\/hostile@main: the Hub listed a file named "\.\.\\\\\.\.\\\\evil\.json", which wraplab will not write/);
    await assert.rejects(downloadModel('../etc', opts), /"\.\.\/etc" is not a model repo id: write it as owner\/name/);
    await assert.rejects(downloadModel('a/b/c', opts), /is not a model repo id/);
    await assert.rejects(downloadModel('acme/empty', { ...opts, accessToken: 'secret' }), /access token \(accessToken\) does not start with "hf_"/);
  } finally {
    await hub.stop();
  }
});

test('default cache: WRAPLAB_HF_CACHE, else HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub', () => {
  const saved = { ...process.env };
  try {
    for (const k of ['WRAPLAB_HF_CACHE', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_HOME', 'XDG_CACHE_HOME']) delete process.env[k];
    assert.equal(defaultCacheDir(), path.join(os.homedir(), '.cache', 'huggingface', 'hub'));
    process.env.HF_HOME = '/h';
    assert.equal(defaultCacheDir(), path.join('/h', 'hub'));
    process.env.HF_HUB_CACHE = '/c';
    assert.equal(defaultCacheDir(), '/c');
    process.env.WRAPLAB_HF_CACHE = '/w';
    assert.equal(defaultCacheDir(), '/w');
    assert.equal(repoCacheDir('EleutherAI/pythia-70m', '/w'), path.join('/w', 'models--EleutherAI--pythia-70m'));
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
});

test('loadPretrained with a Hub id: downloads into the cache, loads the same model as the folder, then works offline', async () => {
  const { loadPretrained, writeRandomCheckpoint } = await import('../../lib/pretrained');
  const { tf } = await import('../../lib/engine/backend');
  const local = writeRandomCheckpoint(path.join(tmp(), 'llama'), { family: 'llama', seed: 5 });
  const files: Record<string, Buffer> = {};
  for (const f of fs.readdirSync(local)) files[f] = fs.readFileSync(path.join(local, f));
  files['pytorch_model.bin'] = Buffer.from('a pickle that must never be fetched');
  const hub = await new FakeHub().start();
  try {
    hub.add('acme/demo-llama', files);
    const cacheDir = tmp();
    const progress: string[] = [];
    const fromHub = await loadPretrained('acme/demo-llama', { cacheDir, hubUrl: hub.url, onProgress: (f, done, total) => done === total && progress.push(f) });
    assert.deepEqual([...new Set(progress)].sort(), ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    assert.ok(!hub.resolves().some((r) => r.includes('pytorch_model.bin')));
    const fromDir = await loadPretrained(local);
    assert.equal(fromHub.family, 'llama');
    assert.deepEqual(fromHub.model.getWeights(), fromDir.model.getWeights());
    const ids = [fromHub.tokenizer!.encode('Once upon a time')];
    assert.deepEqual(tf.tidy(() => fromHub.model.forward(ids).logits.arraySync()), tf.tidy(() => fromDir.model.forward(ids).logits.arraySync()));
    process.env.HF_HUB_OFFLINE = '1';
    const before = hub.requests.length;
    const offline = await loadPretrained('acme/demo-llama', { cacheDir, hubUrl: hub.url });
    assert.equal(hub.requests.length, before, 'offline: no request');
    assert.deepEqual(offline.model.getWeights(), fromDir.model.getWeights());
    for (const m of [fromHub, fromDir, offline]) m.model.dispose();
  } finally {
    delete process.env.HF_HUB_OFFLINE;
    await hub.stop();
  }
});
