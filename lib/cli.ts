/**
 * The wraplab command line: list | run | figures | bench | models | sweep. Every command is a thin layer over the library,
 * so what the CLI does a notebook or a test can do with the same call.
 */
import { Command, CommanderError, Option } from 'commander';
import { isUserError } from './engine/errors';
import { TrainingInterrupted } from './engine/interrupt';
import { getExperiment, listExperiments } from './experiments/catalog';
import { PRESETS, UsageError, parsePreset } from './experiments/define';
import { parseSets } from './experiments/overrides';
import { checkSeed, run } from './experiments/run';
import { generateFigures, listFigureSets } from './figures/sets';
import { addSweepCommands } from './sweep/commands';
import { defaultJobs } from './sweep/pool';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const parseSeed = (v: string): number => checkSeed(v);

export function buildCli(): Command {
  const program = new Command('wraplab')
    .description('wraplab: mechanistic analysis of fine-tuning (arXiv 2311.12786) in TypeScript')
    .version(packageVersion(), '-V, --version', 'print the wraplab version')
    .exitOverride();

  program
    .command('list')
    .description('list experiments, their presets, and figure sets')
    .action(() => {
      console.log(`presets: ${PRESETS.join(', ')} (default laptop; env WRAPLAB_PRESET)`);
      console.log('experiments:');
      for (const e of listExperiments()) console.log(`  ${e.id.padEnd(28)} ${e.description}`);
      console.log('figure sets (wraplab figures --only ID|GROUP):');
      for (const f of listFigureSets()) console.log(`  ${f.id.padEnd(28)} [${f.group}] ${f.title}`);
    });

  program
    .command('run')
    .description('run one experiment (cached by its resolved config) and print the results path')
    .argument('<id>', 'experiment id (see wraplab list)')
    .option('-p, --preset <preset>', `one of ${PRESETS.join(', ')}`)
    .option('-s, --seed <n>', 'seed for data, init and sampling', '0')
    .option('--set <key=value>', 'override a config key (dotted path), repeatable', collect, [])
    .option('-o, --out <dir>', 'write the run here instead of data/runs/<hash>')
    .option('--force', 'recompute even if a finished run exists')
    .option('--print', 'also print the results JSON')
    .action(async (id: string, o: { preset?: string; seed: string; set: string[]; out?: string; force?: boolean; print?: boolean }) => {
      const exp = getExperiment(id);
      const overrides = parseSets(o.set, exp.schema);
      const outcome = await run(exp, { preset: parsePreset(o.preset), seed: parseSeed(o.seed), overrides, out: o.out, force: o.force });
      if (o.print) console.error(JSON.stringify(outcome.results, null, 2));
      console.error(outcome.cached ? `wraplab: reused finished run ${outcome.runDir}` : `wraplab: finished ${outcome.runDir}`);
      console.log(outcome.resultsPath);
    });

  program
    .command('figures')
    .description('regenerate figures and tables from the library (no Jupyter needed)')
    .option('-p, --preset <preset>', `one of ${PRESETS.join(', ')}`)
    .option('-s, --seed <n>', 'seed', '0')
    .option('--seeds <n>', 'draw over seeds 0..n-1: each trace the mean with 95% t-interval bars, each measured CSV column with _lo/_hi (n times the runs)')
    .option('--only <pattern>', 'figure-set id, group (engine|pcfg|tracr|tinystories) or glob')
    .option('-o, --out <dir>', 'output folder (default figures/ for laptop, $WRAPLAB_DATA/figures/<preset>/ otherwise)')
    .option('--no-images', 'skip PNG/SVG (no Chromium needed)')
    .addOption(new Option('--html <mode>', 'HTML figures: shared (one plotly.min.js beside them) or standalone (inlined)').choices(['shared', 'standalone']).default('shared'))
    .option('-j, --jobs <n>', 'worker processes for the runs (default $WRAPLAB_JOBS or the number of cores)')
    .action(async (o: { preset?: string; seed: string; seeds?: string; only?: string; out?: string; images: boolean; html: 'shared' | 'standalone'; jobs?: string }) => {
      if (o.jobs !== undefined && !/^[1-9]\d*$/.test(o.jobs)) throw new UsageError(`--jobs must be a positive integer, got "${o.jobs}"`);
      if (o.seeds !== undefined && !/^[1-9]\d*$/.test(o.seeds)) throw new UsageError(`--seeds must be a positive integer, got "${o.seeds}"`);
      if (o.seeds !== undefined && o.seed !== '0') throw new UsageError('give --seed or --seeds, not both (--seeds N draws over seeds 0..N-1)');
      const jobs = o.jobs === undefined ? defaultJobs() : Number(o.jobs);
      const seeds = o.seeds === undefined ? undefined : Array.from({ length: Number(o.seeds) }, (_, i) => i);
      const written = await generateFigures({ preset: parsePreset(o.preset), seed: parseSeed(o.seed), seeds, only: o.only, outDir: o.out, images: o.images, html: o.html, jobs, log: (s) => console.error(s) });
      for (const f of written) console.log(f);
    });

  program
    .command('claims')
    .description("measure the paper's headline claims over seeds: mean, 95% interval, yes / no / within noise")
    .option('-p, --preset <preset>', `one of ${PRESETS.join(', ')}`)
    .option('--seeds <n>', 'seeds 0..n-1 (each drives data, initialisation, pretraining and fine-tuning)', '3')
    .option('--only <patterns>', 'claim ids, groups (pcfg|tracr|tinystories) or globs (pcfg-*), comma-separated')
    .option('--seeds-for <list>', 'their own seed count for some claims, e.g. pcfg-jailbreak=6 (id, group or glob = n, comma-separated)')
    .option('-o, --out <dir>', 'output folder for claims.csv and claims.md (default figures/ for laptop, $WRAPLAB_DATA/figures/<preset>/ otherwise)')
    .option('-j, --jobs <n>', 'worker processes for the runs (default $WRAPLAB_JOBS or the number of cores)')
    .action(async (o: { preset?: string; seeds: string; seedsFor?: string; only?: string; out?: string; jobs?: string }) => {
      if (!/^[1-9]\d*$/.test(o.seeds)) throw new UsageError(`--seeds must be a positive integer, got "${o.seeds}"`);
      const seedsFor: Record<string, number> = {};
      for (const part of (o.seedsFor ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
        const m = /^([^=\s]+)=([1-9]\d*)$/.exec(part);
        if (!m) throw new UsageError(`--seeds-for takes claim=n pairs, comma-separated (e.g. pcfg-jailbreak=6), got "${part}"`);
        seedsFor[m[1]] = Number(m[2]);
      }
      if (o.jobs !== undefined && !/^[1-9]\d*$/.test(o.jobs)) throw new UsageError(`--jobs must be a positive integer, got "${o.jobs}"`);
      const { measureClaims, claimsMarkdown, claimsCsvRows } = await import('./studies/claims');
      const { figuresDir } = await import('./figures/sets');
      const { saveTable, toDataFrame } = await import('./figures/table');
      const { writeFileAtomic } = await import('./engine/fsutil');
      const preset = parsePreset(o.preset);
      const rows = await measureClaims({ preset, seeds: Number(o.seeds), seedsFor, only: o.only, jobs: o.jobs === undefined ? defaultJobs() : Number(o.jobs), log: (s) => console.error(s) });
      const dir = o.out ?? figuresDir(preset);
      const name = 'claims';
      if (o.only) console.error(`claims: ${name}.csv and ${name}.md hold only the claims --only ${o.only} picks`);
      const md = claimsMarkdown(rows);
      console.error(md);
      console.log(saveTable(toDataFrame(claimsCsvRows(rows)), dir, name));
      const mdFile = require('node:path').join(dir, `${name}.md`);
      writeFileAtomic(mdFile, md);
      console.log(mdFile);
    });

  program
    .command('bench')
    .description('time full training steps of the engine (and PyTorch, when installed)')
    .addOption(new Option('--config <name>', 'bench configuration').choices(['bench', 'pcfg-laptop', 'tinystories-laptop']).default('bench'))
    .option('--steps <n>', 'timed steps', '10')
    .option('--json', 'print one JSON object as the last line')
    .option('--profile', 'also profile one step per kernel (tf.profile); the table goes to stderr')
    .option('--torch-threads <list>', "PyTorch thread counts, one process each with OpenBLAS bound (default: wraplab's)")
    .action(async (o: { config: string; steps: string; json?: boolean; profile?: boolean; torchThreads?: string }) => {
      let bench: { runBench?: (opts: Record<string, unknown>) => Promise<unknown> };
      try {
        bench = require('./bench');
      } catch {
        throw new UsageError('the benchmark module is not built yet (lib/bench.ts)');
      }
      if (!bench.runBench) throw new UsageError('lib/bench.ts does not export runBench');
      const steps = Number(o.steps);
      if (!Number.isInteger(steps) || steps <= 0) throw new UsageError(`--steps must be a positive integer, got "${o.steps}"`);
      const torchThreads = o.torchThreads?.split(',').map((t) => Number(t.trim()));
      if (torchThreads?.some((n) => !Number.isInteger(n) || n < 1)) {
        throw new UsageError(`--torch-threads must list positive integers (e.g. 1,2), got "${o.torchThreads}"`);
      }
      const result = (await bench.runBench({ config: o.config, steps, profile: o.profile === true, torchThreads, log: (s: string) => console.error(s) })) as {
        kernels?: { kernel: string; calls: number; ms: number }[];
      };
      if (result.kernels) {
        const total = result.kernels.reduce((a, k) => a + k.ms, 0);
        console.error(`kernel total ${total.toFixed(0)} ms; top 25:`);
        for (const k of result.kernels.slice(0, 25)) console.error(`${k.ms.toFixed(1).padStart(8)} ms ${String(k.calls).padStart(4)}x  ${k.kernel}`);
      }
      console.log(o.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
    });

  program
    .command('models')
    .description('list the HuggingFace model families wraplab loads and saves; --bench measures real shapes')
    .option('--json', 'print the families as JSON')
    .option('--bench', 'benchmark random models of real checkpoint shapes: load, forward, AdamW (no download)')
    .option('--shapes <list>', 'with --bench: comma-separated shapes (default: all)')
    .option('--batch <n>', 'with --bench: training batch size', '2')
    .option('--steps <n>', 'with --bench: AdamW steps on one fixed batch (the first is not timed)', '3')
    .option('--memory <modes>', 'with --bench: memory modes to train in: plain (moments on the heap, all activations kept), host (moments in host memory), checkpoint (activation checkpointing), lean (both)', 'plain,lean')
    .action(async (o: { json?: boolean; bench?: boolean; shapes?: string; batch: string; steps: string; memory: string }) => {
      const { FAMILIES } = require('./pretrained/families') as typeof import('./pretrained/families');
      const { REAL_SHAPES } = require('./pretrained/shapes') as typeof import('./pretrained/shapes');
      if (o.bench) {
        const shapes = o.shapes?.split(',').map((s) => s.trim());
        const unknown = shapes?.filter((s) => !REAL_SHAPES[s]) ?? [];
        if (unknown.length) throw new UsageError(`--shapes: unknown ${unknown.join(', ')}; known: ${Object.keys(REAL_SHAPES).join(', ')}`);
        for (const [flag, v] of [['--batch', o.batch], ['--steps', o.steps]] as const) {
          if (!/^[1-9]\d*$/.test(v)) throw new UsageError(`${flag} must be a positive integer, got "${v}"`);
        }
        const memory = o.memory.split(',').map((m) => m.trim());
        const { BENCH_MEMORY_MODES, benchPretrained } = require('./pretrained/bench') as typeof import('./pretrained/bench');
        const badMode = memory.filter((m) => !(BENCH_MEMORY_MODES as readonly string[]).includes(m));
        if (badMode.length) throw new UsageError(`--memory: unknown mode ${badMode.join(', ')}; use a comma-separated list of ${BENCH_MEMORY_MODES.join(', ')}`);
        const modes = memory as import('./pretrained/bench').BenchMemoryMode[];
        const rows = await benchPretrained({ shapes, trainBatch: Number(o.batch), trainSteps: Number(o.steps), memory: modes, log: (s) => console.error(s) });
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      if (o.json) {
        console.log(JSON.stringify(FAMILIES.map((f) => ({ modelType: f.modelType, architecture: f.architecture, examples: f.examples, handles: f.handles })), null, 2));
        return;
      }
      console.log('HuggingFace families (loadPretrained(dirOrHubId) / savePretrained(model, dir)):');
      for (const f of FAMILIES) {
        console.log(`  ${f.modelType.padEnd(9)} ${f.architecture}`);
        console.log(`            e.g. ${f.examples.join(', ')}`);
        console.log(`            handles: ${f.handles}`);
      }
      console.log('needs: a directory with config.json, model.safetensors (or model.safetensors.index.json + shards) and');
      console.log('tokenizer.json, or a Hub id (downloaded into the HuggingFace cache; set WRAPLAB_HF_CACHE to move it).');
      console.log('weights: F32, F16 or BF16 safetensors (computed in float32); .bin pickles are refused.');
      console.log(`real shapes for --bench: ${Object.keys(REAL_SHAPES).join(', ')}`);
    });

  program
    .command('data')
    .description('fetch a real data set: tinystories (the all-data JSON shards, ~1.5 GB packed)')
    .argument('<dataset>', 'tinystories')
    .option('--dir <dir>', 'where the shards go (default: <data dir>/tinystories)')
    .action(async (dataset: string, o: { dir?: string }) => {
      if (dataset !== 'tinystories') throw new UsageError(`unknown data set "${dataset}"; known: tinystories`);
      const path = require('node:path') as typeof import('node:path');
      const { dataDir } = require('./engine/runs') as typeof import('./engine/runs');
      const { downloadTinyStories } = require('./tasks/tinystories/real') as typeof import('./tasks/tinystories/real');
      const dir = path.resolve(o.dir ?? path.join(dataDir(), 'tinystories'));
      const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MB`;
      const shards = await downloadTinyStories(dir, {
        onProgress: (done, total) => process.stderr.write(`\rwraplab: TinyStories_all_data.tar.gz ${mb(done)}${total ? ` of ${mb(total)}` : ''}   `),
      });
      process.stderr.write('\n');
      console.log(`${shards.length} shards in ${dir}; use them with --set corpus.source=${dir}`);
    });

  program
    .command('tokenizers')
    .description('compare the word and BPE tokenizers on a TinyStories corpus: tokens per word, words spelled out, stories that fit the context')
    .option('--preset <preset>', 'smoke | laptop | paper (vocabulary, context and corpus size)', 'laptop')
    .option('--source <path>', 'real stories (shard directory, .json shard or .txt); default: the procedural corpus')
    .option('--vocab <n>', 'vocabulary size of both (default: the preset\'s)')
    .option('-s, --seed <n>', 'seed', '0')
    .option('--json', 'print the rows as JSON')
    .action((o: { preset: string; source?: string; vocab?: string; seed: string; json?: boolean }) => {
      const { compareTokenizers } = require('./experiments/tinystories/tokenizers') as typeof import('./experiments/tinystories/tokenizers');
      if (o.vocab !== undefined && !/^[1-9]\d*$/.test(o.vocab)) throw new UsageError(`--vocab must be a positive integer, got "${o.vocab}"`);
      const rows = compareTokenizers({ preset: parsePreset(o.preset), source: o.source, seed: parseSeed(o.seed), vocabSize: o.vocab === undefined ? undefined : Number(o.vocab) });
      if (o.json) return console.log(JSON.stringify(rows, null, 2));
      const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
      console.log(`held-out stories: ${rows[0].stories} (${rows[0].words} words of 2+ letters), context ${rows[0].contextLength}`);
      console.log('corpus\ttokenizer\tvocab\ttokens/word\tspelled out\tfit context');
      for (const r of rows) console.log(`${r.corpus}\t${r.tokenizer}\t${r.vocabSize}\t${r.tokensPerWord.toFixed(3)}\t${pct(r.spelledRate)}\t${pct(r.fitsContext)}`);
    });

  program
    .command('audit')
    .description('wrapper audit of a model pair: is the base model\'s capability still there under the fine-tuning? (audit.json + report.html)')
    .requiredOption('--base <model>', 'the pretrained model: run directory, .safetensors, HuggingFace directory or Hub id, or tracr:<program>')
    .requiredOption('--tuned <model>', 'the fine-tuned model (same forms; e.g. tracr:counter:ft=S)')
    .requiredOption('--capability <spec>', 'O_PT examples: a JSONL file or a testbed task (tracr:counter, tracr:max-identifier)')
    .option('--finetuned <file>', 'O_FT examples (JSONL), followed while pruning')
    .option('--control <model>', 'a model of the same shape that never had the capability (default: the base model re-initialised)')
    .option('--preset <preset>', 'smoke | laptop | paper', 'laptop')
    .option('-s, --seed <n>', 'seed', '0')
    .option('--out <dir>', 'where audit.json and report.html go (default: <data dir>/audits/<key>)')
    .option('--force', 'recompute every line of evidence')
    .option('--json', 'print audit.json to stdout')
    .action(async (o: { base: string; tuned: string; capability: string; finetuned?: string; control?: string; preset: string; seed: string; out?: string; force?: boolean; json?: boolean }) => {
      const { audit } = require('./audit') as typeof import('./audit');
      const r = await audit({ base: o.base, tuned: o.tuned, control: o.control, capability: o.capability, finetuned: o.finetuned, preset: parsePreset(o.preset), seed: parseSeed(o.seed), out: o.out, force: o.force });
      if (o.json) console.log(JSON.stringify(r.result, null, 2));
      else {
        console.log(`verdict: ${r.result.verdict.verdict}`);
        console.log(`${r.jsonPath}\n${r.reportPath}`);
      }
    });

  addSweepCommands(program);

  return program;
}

function packageVersion(): string {
  const { projectRoot } = require('./engine/runs') as typeof import('./engine/runs');
  const fs = require('node:fs') as typeof import('node:fs');
  return (JSON.parse(fs.readFileSync(require('node:path').join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildCli();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed its message (unknown command/option, missing argument, --help)
      return e.exitCode === 0 ? 0 : 2;
    }
    const err = e as Error;
    if (err instanceof TrainingInterrupted) {
      console.error(`wraplab: ${err.message}`);
      return 130; // as a shell reports a run stopped by Ctrl-C
    }
    // A user's mistake (WraplabError: names the culprit and the fix) exits 2; anything else is a wraplab bug: 1.
    const expected = isUserError(err) || (err instanceof RangeError && /Invalid typed array length|Array buffer allocation failed|Invalid array length/.test(err.message));
    if (err instanceof RangeError && expected) err.message = `out of memory: a config value asks for more than this process can allocate (${err.message}); lower the sizes you set`;
    console.error(`wraplab: ${err.message}`);
    if (!expected && process.env.WRAPLAB_DEBUG) console.error(err.stack);
    return expected ? 2 : 1;
  }
}
