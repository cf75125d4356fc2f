/**
 * The native kernel provider (lib/engine/native): OpenBLAS GEMM and the C kernels on the wasm heap.
 * Each native kernel is checked against the kernel it replaces (bit for bit where the C repeats the JS loop,
 * to float32 rounding where it cannot), a training run against the stock path, and the fallbacks in fresh
 * processes. scripts/install.sh installs OpenBLAS and npm run build compiles the C kernels, so here they must
 * load; WRAPLAB_NATIVE=off (the fallback path's CI run) skips the in-process comparisons.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf, useWasmBackend } from '../../lib/engine/backend';
import { fusedLayerNorm, fusedRmsNorm } from '../../lib/engine/fused';
import { Transformer, gelu } from '../../lib/engine/model';
import { fusedKernels } from '../../lib/engine/model/kernels';
import { activeBlas, activeCKernels, nativeChoice, setNativeKernelsEnabled } from '../../lib/engine/native/provider';
import { Optimizer } from '../../lib/engine/optim';
import { trainStep } from '../../lib/engine/train';
import { benchBatch } from '../../lib/bench';
import { maxRelDiff, onAndOff } from './helpers';

const off = process.env.WRAPLAB_NATIVE === 'off';
const skip = off ? 'WRAPLAB_NATIVE=off: the stock path is under test' : false;
const LIB = path.join(__dirname, '..', '..', 'lib', 'index.js');

/** Runs f with the native kernels, then without; returns both results. */
const nativeAndStock = <T>(f: () => T): [T, T] => onAndOff(setNativeKernelsEnabled, f);

const data = (t: tf.Tensor | tf.Tensor[]) => (Array.isArray(t) ? t : [t]).map((x) => Array.from(x.dataSync()));

/** A fresh node process that imports the built library with `env` added; returns its exit code and output. */
function node(script: string, env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-e', `const wl = require(${JSON.stringify(LIB)});\n${script}`], {
    encoding: 'utf8',
    env: { ...process.env, WRAPLAB_QUIET: '', ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the provider loads here (OpenBLAS and the C kernels) and names itself with the backend', { skip }, async () => {
  await useWasmBackend();
  const c = nativeChoice();
  assert.ok(c.blas, `no BLAS: ${c.blasReason}`);
  assert.ok(c.c, `no C kernels: ${c.cReason}`);
  assert.ok(c.blas.core.length > 0 && c.blas.threads === 1, `${c.blas.core} ${c.blas.threads}`);
  const r = node('wl.engine.initBackend().then(() => {});', { WRAPLAB_BACKEND: 'wasm' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^wraplab: backend wasm \+ openblas \([A-Za-z0-9]+, 1 thread\) \+ C kernels$/m);
});

test('BLAS GEMM: every transposed, batched and broadcast product matches float64 and the XNNPACK path', { skip }, async () => {
  await useWasmBackend();
  assert.ok(activeBlas());
  const r = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);
  const cases: [number[], number[], boolean, boolean][] = [
    [[33, 17], [17, 5], false, false],
    [[64, 48], [64, 40], true, false], // dW = x^T dy
    [[64, 40], [48, 40], false, true], // dx = dy W^T
    [[40, 64], [48, 40], true, true],
    [[3, 2, 16, 8], [3, 2, 16, 8], false, true], // attention scores
    [[3, 2, 16, 16], [3, 2, 16, 8], true, false], // their gradient
    [[6, 16, 12], [12, 20], false, false], // a batch times one shared matrix: one stacked call
    [[6, 12, 16], [12, 20], true, false], // ... transposed: one call per batch index
    [[12, 20], [6, 20, 7], false, false], // the shared matrix on the left
    [[1, 5, 3], [4, 3, 2], false, false], // batch-1 broadcast
    [[0, 4], [4, 3], false, false], // empty
    [[2, 3, 0], [2, 0, 4], false, false], // K = 0: zeros
  ];
  for (const [sa, sb, ta, tb] of cases) {
    const a = r(sa, 1);
    const b = r(sb, 2);
    const [nat, stock] = nativeAndStock(() => tf.tidy(() => tf.matMul(a, b, ta, tb)));
    assert.deepEqual(nat.shape, stock.shape, `${sa} ${sb}`);
    const av = a.dataSync();
    const bv = b.dataSync();
    // float64 reference over the broadcast batch
    const [M, K] = ta ? [sa[sa.length - 1], sa[sa.length - 2]] : sa.slice(-2);
    const N = tb ? sb[sb.length - 2] : sb[sb.length - 1];
    const batch = nat.size / Math.max(1, M * N);
    const bA = sa.slice(0, -2).reduce((p, q) => p * q, 1);
    const bB = sb.slice(0, -2).reduce((p, q) => p * q, 1);
    const ref = new Float64Array(nat.size);
    for (let i = 0; i < batch; i++) {
      const oa = (bA === 1 ? 0 : i) * M * K;
      const ob = (bB === 1 ? 0 : i) * K * N;
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += av[oa + (ta ? k * M + m : m * K + k)] * bv[ob + (tb ? n * K + k : k * N + n)];
          ref[i * M * N + m * N + n] = s;
        }
      }
    }
    assert.ok(maxRelDiff(nat.dataSync(), ref) < 2e-6, `native ${sa} ${sb} ${ta} ${tb}`);
    assert.ok(maxRelDiff(nat.dataSync(), stock.dataSync()) < 2e-6, `native vs stock ${sa} ${sb} ${ta} ${tb}`);
    tf.dispose([a, b, nat, stock]);
  }
});

test('C kernels are bit-identical to the JS kernels they replace: AdamW, layernorm, RMSNorm, sums, transposes', { skip }, async () => {
  await useWasmBackend();
  assert.ok(activeCKernels());
  const x = tf.add(tf.randomNormal([3, 7, 24], 0, 2, 'float32', 4), 1.5);
  const w = tf.randomNormal([24], 1, 0.3, 'float32', 5);
  const b = tf.randomNormal([24], 0, 0.3, 'float32', 6);
  const dy = tf.randomNormal([3, 7, 24], 0, 1, 'float32', 7);
  const same = (name: string, f: () => tf.Tensor | tf.Tensor[]) => {
    const [nat, stock] = nativeAndStock(() => {
      const out = tf.tidy(f);
      const d = data(out);
      tf.dispose(out);
      return d;
    });
    assert.deepEqual(nat, stock, name);
  };
  same('layernorm forward', () => fusedLayerNorm(x, w, b, 1e-5));
  same('layernorm gradients', () => tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(fusedLayerNorm(xx, ww, bb, 1e-5), dy)))([x, w, b]));
  same('rmsnorm forward', () => fusedRmsNorm(x, w, 1e-6));
  same('rmsnorm gradients', () => tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(fusedRmsNorm(xx, ww, 1e-6), dy)))([x, w]));
  same('sum over leading axes', () => tf.sum(tf.randomNormal([300, 7, 5], 0, 1, 'float32', 8), [0, 1]));
  same('transpose 2-D', () => tf.transpose(tf.randomNormal([67, 45], 0, 1, 'float32', 9)));
  same('transpose heads', () => tf.transpose(tf.randomNormal([3, 17, 4, 8], 0, 1, 'float32', 10), [0, 2, 1, 3]));
  same('transpose int32', () => tf.transpose(tf.reshape(tf.range(0, 64 * 40, 1, 'int32'), [64, 40])));
  same('gather rows', () => tf.gather(tf.randomNormal([50, 12], 0, 1, 'float32', 11), tf.tensor1d([3, 0, 49, 3, 7], 'int32')));
  for (const weightDecay of [0, 0.1]) {
    const [nat, stock] = nativeAndStock(() => {
      const params = new Map([['w', tf.variable(tf.randomNormal([37, 5], 0, 1, 'float32', 1))]]);
      const opt = new Optimizer({ kind: 'adamw', lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay, clipNorm: 1 }, params, ['w']);
      for (let step = 0; step < 4; step++) {
        const g = { w: tf.randomNormal([37, 5], 0, 1, 'float32', 10 + step) };
        opt.apply(g, 3e-3, step % 2 === 0 ? 1 : 0.37);
        tf.dispose(g.w);
      }
      const out = [Array.from(params.get('w')!.dataSync()), ...Object.values(opt.getState().tensors).map((t) => Array.from(t))];
      opt.dispose();
      params.get('w')!.dispose();
      return out;
    });
    assert.deepEqual(nat, stock, `adamw weightDecay ${weightDecay}`);
  }
  tf.dispose([x, w, b, dy]);
});

test('native GELU matches the plain formulation to float32 rounding, forward and gradient, also far out', { skip }, async () => {
  await useWasmBackend();
  const xs: number[] = [];
  for (let i = -4000; i <= 4000; i++) xs.push(i / 200); // [-20, 20]
  xs.push(-1e4, -100, -88, 88, 100, 1e4, 0, -0);
  const x = tf.tensor1d(xs);
  const dy = tf.randomNormal([xs.length], 0, 1, 'float32', 3);
  const f = (g: (t: tf.Tensor) => tf.Tensor) => tf.tidy(() => data([g(x), tf.grad((t: tf.Tensor) => tf.sum(tf.mul(g(t), dy)))(x)]));
  const [yn, gn] = f(fusedKernels.gelu);
  const [yp, gp] = f(gelu);
  for (let i = 0; i < xs.length; i++) {
    assert.ok(Math.abs(yn[i] - yp[i]) <= 4e-7 * Math.max(1, Math.abs(yp[i])), `gelu(${xs[i]}) ${yn[i]} vs ${yp[i]}`);
    assert.ok(Math.abs(gn[i] - gp[i]) <= 4e-6 * Math.max(1, Math.abs(gp[i])), `gelu'(${xs[i]}) ${gn[i]} vs ${gp[i]}`);
    assert.ok(Number.isFinite(yn[i]) && Number.isFinite(gn[i]), `finite at ${xs[i]}`);
  }
  tf.dispose([x, dy]);
});

test('training on the native provider follows the stock path and repeats itself bit for bit', { skip }, async () => {
  await useWasmBackend();
  const cfg = { vocabSize: 32, contextLength: 32, dModel: 64, nLayers: 2, nHeads: 4, dMlp: 256, activation: 'gelu' as const };
  const batch = benchBatch(0, 16, 32, 32);
  const train = () => {
    const model = new Transformer(cfg, 0);
    const opt = new Optimizer({ kind: 'adamw', lr: 3e-3 }, model.parameters(), [...model.parameters().keys()].filter((n) => n.includes('W_')));
    const losses: number[] = [];
    for (let i = 0; i < 15; i++) losses.push(trainStep(model, opt, batch, 3e-3).loss);
    const h = crypto.createHash('sha256');
    for (const p of model.parameters().values()) h.update(Buffer.from(p.dataSync().buffer));
    opt.dispose();
    model.dispose();
    return { losses, hash: h.digest('hex') };
  };
  const [nat, stock] = nativeAndStock(train);
  const again = train();
  assert.deepEqual(again, nat, 'same seed, same provider: identical losses and weights');
  assert.ok(nat.losses[14] < nat.losses[0] - 0.5, `it learns: ${nat.losses[0]} -> ${nat.losses[14]}`);
  for (let i = 0; i < 15; i++) assert.ok(Math.abs(nat.losses[i] - stock.losses[i]) < 1e-4 * stock.losses[i], `step ${i}: ${nat.losses[i]} vs ${stock.losses[i]}`);
});

test('BLAS threads: a fixed thread count trains identical weights twice; another count is another cache key (its bits may differ)', { skip }, () => {
  const script = `(async () => {
    await wl.engine.initBackend();
    const E = wl.engine;
    const model = new E.Transformer({ vocabSize: 64, contextLength: 64, dModel: 128, nLayers: 2, nHeads: 4, dMlp: 512 }, 0);
    const b = E.makeBatch(32, 64);
    for (let i = 0; i < b.tokens.length; i++) { b.tokens[i] = (i * 7) % 64; b.targets[i] = (i * 13) % 64; b.weights[i] = 1; }
    const opt = new E.Optimizer({ kind: 'adamw', lr: 1e-3 }, model.parameters(), []);
    for (let i = 0; i < 3; i++) E.trainStep(model, opt, b, 1e-3);
    const h = require('crypto').createHash('sha256');
    for (const p of model.parameters().values()) h.update(Buffer.from(p.dataSync().buffer));
    console.log(E.describeNative(), E.kernelsTag(), h.digest('hex'));
  })();`;
  const one = node(script, { WRAPLAB_BACKEND: 'wasm', WRAPLAB_BLAS_THREADS: '1' });
  const two = node(script, { WRAPLAB_BACKEND: 'wasm', WRAPLAB_BLAS_THREADS: '2' });
  const twoAgain = node(script, { WRAPLAB_BACKEND: 'wasm', WRAPLAB_BLAS_THREADS: '2' });
  for (const r of [one, two, twoAgain]) assert.equal(r.status, 0, r.stderr);
  assert.match(two.stdout, /2 threads/);
  const words = (r: typeof one) => r.stdout.trim().split(' ');
  assert.equal(words(two).pop(), words(twoAgain).pop(), 'same threads, same bits');
  // Whether 1 and 2 threads agree depends on the BLAS build and the CPU; the cache key tells them apart either way.
  const tag = (r: typeof one) => words(r).slice(-2)[0];
  assert.match(tag(two), /^openblas\/[^+]*\/t2(\+|$)/);
  assert.notEqual(tag(one), tag(two));
  assert.doesNotMatch(tag(one), /\/t\d/, 'one thread keeps the keys earlier runs have');
});

test('fallbacks: off, no BLAS, no C library each say so in one line and train; WRAPLAB_NATIVE=on and bad values fail clearly', () => {
  const script = `(async () => {
    await wl.engine.initBackend();
    const E = wl.engine;
    const model = new E.Transformer({ vocabSize: 16, contextLength: 8, dModel: 16, nLayers: 1, nHeads: 2 }, 0);
    const opt = new E.Optimizer({ kind: 'adamw', lr: 1e-2 }, model.parameters(), []);
    const batch = require(${JSON.stringify(path.join(__dirname, '..', '..', 'lib', 'bench.js'))}).benchBatch(0, 4, 8, 16);
    const loss = E.trainStep(model, opt, batch, 1e-2).loss;
    console.log(JSON.stringify({ tag: E.kernelsTag(), loss }));
  })().catch((e) => { console.error('ERR ' + e.message); process.exit(3); });`;
  const wasm = { WRAPLAB_BACKEND: 'wasm', WRAPLAB_NATIVE: 'auto' }; // whatever this process runs with
  const missing = path.join(os.tmpdir(), 'wraplab-no-such-lib.so');
  const runs = {
    off: node(script, { ...wasm, WRAPLAB_NATIVE: 'off' }),
    noBlas: node(script, { ...wasm, WRAPLAB_BLAS_LIB: missing }),
    noC: node(script, { ...wasm, WRAPLAB_C_KERNELS: missing }),
  };
  for (const [name, r] of Object.entries(runs)) {
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('wraplab:'));
    assert.equal(lines.length, 1, `${name}: one line, got ${r.stderr}`);
    assert.ok(Number.isFinite(JSON.parse(r.stdout).loss), name);
  }
  assert.match(runs.off.stderr, /^wraplab: backend wasm \(stock kernels: WRAPLAB_NATIVE=off\)$/m);
  assert.equal(JSON.parse(runs.off.stdout).tag, null, 'the stock kernels keep the keys earlier runs have');
  if (!off) {
    assert.match(runs.noBlas.stderr, /XNNPACK GEMM \(no BLAS: .*wraplab-no-such-lib\.so.*\) \+ C kernels/);
    assert.match(runs.noC.stderr, /openblas \(.*\) \+ JS kernels \(.*wraplab-no-such-lib\.so/);
    const tags = Object.values(runs).map((r) => JSON.parse(r.stdout).tag);
    assert.equal(new Set(tags).size, 3, `three providers, three cache tags: ${tags}`);
  }
  const on = node(script, { ...wasm, WRAPLAB_NATIVE: 'on', WRAPLAB_BLAS_LIB: missing });
  assert.equal(on.status, 3);
  assert.match(on.stderr, /ERR WRAPLAB_NATIVE=on but no BLAS loaded: .*wraplab-no-such-lib\.so.*WRAPLAB_BLAS_LIB/);
  const bad = node(script, { ...wasm, WRAPLAB_NATIVE: 'maybe' });
  assert.equal(bad.status, 3);
  assert.match(bad.stderr, /WRAPLAB_NATIVE=maybe is not one of auto, on, off/);
  const threads = node(script, { ...wasm, WRAPLAB_BLAS_THREADS: 'two' });
  assert.match(threads.stderr, /WRAPLAB_BLAS_THREADS="two" must be an integer/);
});

test('run-cache keys name a non-stock provider, so its runs never share an entry with stock ones', () => {
  const script = `const e = wl.experiments; const r = e.resolveRun(e.getExperiment('demo-sort'), { preset: 'smoke' });
    console.log(JSON.stringify({ hash: r.hash, key: e.runKey(r.experiment, r.seed, r.config).kernels ?? null }));`;
  const stock = node(script, { WRAPLAB_BACKEND: 'wasm', WRAPLAB_NATIVE: 'off' });
  assert.equal(stock.status, 0, stock.stderr);
  assert.equal(JSON.parse(stock.stdout).key, null);
  if (off) return;
  const nat = node(script, { WRAPLAB_BACKEND: 'wasm' });
  assert.equal(nat.status, 0, nat.stderr);
  assert.match(JSON.parse(nat.stdout).key, /^openblas\/[A-Za-z0-9]+\+c\d+$/);
  assert.notEqual(JSON.parse(nat.stdout).hash, JSON.parse(stock.stdout).hash);
});
