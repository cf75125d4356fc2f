/**
 * Data for fine-tuning the compiled Tracr programs (paper §3, App. B.1 / C.1; spec tracr.md §2).
 *
 * A `TracrTask` bundles a compiled capability with its fine-tuning question:
 *   Counter         O_PT = count `a`, O_FT = count `b`; spurious attribute #b = #a + q (q = 1).
 *                   Letters drawn uniformly with replacement from the first `letters` letters.
 *   Max-identifier  O_PT = the (rankPT+1)-th smallest letter (the paper's "5th largest" under a > b > ...),
 *                   O_FT = the (rankFT+1)-th smallest; spurious attribute: letter(O_FT) = letter(O_PT) + q.
 *                   `nTokens` distinct letters drawn without replacement.
 * The answer is read at RASP index 1 (model position 2, after BOS) — the paper programs' readout, a
 * consequence of Python's True == 1 — and the loss is cross-entropy over the compiled output space there only.
 *
 * Correlated samples (a C_Tr fraction of training data; the whole C_Te = 1 test set) carry the spurious
 * attribute by construction; uncorrelated ones (the rest; the C_Te = 0 test set) are plain draws, on which the
 * attribute holds only at its natural rate — the PCFG testbed's convention (lib/tasks/pcfg/finetune.ts).
 */
import { z } from 'zod';
import { Batch, makeBatch } from '../../engine/data';
import { Rng } from '../../engine/rng';
import { CompiledProgram, compile, makeCounter, makeMaxIdentifier, PAPER_READOUT_INDEX, SOp, Value } from '../../tasks/tracr';

export const TRACR_PROGRAMS = ['counter', 'max-identifier'] as const;
export type TracrProgramName = (typeof TRACR_PROGRAMS)[number];

/**
 * How the programs are compiled. 'tracr': the weight scale of Tracr's assembled models, which the paper
 * fine-tuned — attention scores 100/sqrt(dHead) (Tracr does not undo the 1/sqrt(dHead) of its attention) and
 * discretising slope L = 100 (Tracr's default; exact for widths below 10). 'exact': wraplab's defaults
 * (scores exactly 100, L = 2N(N+1), exact for every width). The scale matters for fine-tuning: weight noise
 * is amplified by L in the SelectorWidth MLP, so an 'exact' model tolerates far less noise.
 */
export const CompileModeSchema = z.enum(['tracr', 'exact']);
export type CompileMode = z.output<typeof CompileModeSchema>;

export const CounterTaskSchema = z
  .object({
    compile: CompileModeSchema,
    /** Vocabulary: the first `letters` letters (paper: a–i). */
    letters: z.number().int().min(3).max(26),
    /** Compiled N (the model's context is N + 1 with BOS). */
    maxSeqLen: z.number().int().min(2),
    /** Real tokens per sample, uniform in [minLen, maxLen]; the rest is PAD. */
    minLen: z.number().int().min(2),
    maxLen: z.number().int().min(2),
    /** Spurious offset: #b = #a + q on correlated samples. */
    q: z.number().int().min(1),
  })
  .strict();
export type CounterTaskConfig = z.output<typeof CounterTaskSchema>;

export const MaxIdTaskSchema = z
  .object({
    compile: CompileModeSchema,
    letters: z.number().int().min(8).max(26),
    maxSeqLen: z.number().int().min(2),
    /** Distinct letters per sample (paper: 10, then PAD up to maxSeqLen). */
    nTokens: z.number().int().min(2),
    /** Compiled capability: the token with exactly rankPT smaller tokens (paper: 4). */
    rankPT: z.number().int().min(0),
    /** Fine-tuning target rank (ours: 5, the 6th smallest). */
    rankFT: z.number().int().min(0),
    /** Spurious offset in letters: letter(rankFT) = letter(rankPT) + q on correlated samples. */
    q: z.number().int().min(1),
  })
  .strict();
export type MaxIdTaskConfig = z.output<typeof MaxIdTaskSchema>;

/** Both programs' task configs side by side; `program` picks one (so a grid can switch with one --set). */
export const TracrTasksSchema = z.object({ counter: CounterTaskSchema, maxIdentifier: MaxIdTaskSchema }).strict();
export type TracrTasksConfig = z.output<typeof TracrTasksSchema>;

/** The config of one program's task (what stage hashes include: the other program's config does not matter). */
export type TracrTaskConfig = ({ program: 'counter' } & CounterTaskConfig) | ({ program: 'max-identifier' } & MaxIdTaskConfig);

export function taskConfigOf(program: TracrProgramName, tasks: TracrTasksConfig): TracrTaskConfig {
  return program === 'counter' ? { program, ...tasks.counter } : { program, ...tasks.maxIdentifier };
}

/** A compiled capability plus its fine-tuning question. Labels are output values of the compiled program. */
export interface TracrTask {
  name: string;
  /** The compiled pretraining capability (O_PT). */
  compiled: CompiledProgram;
  /** The same program compiled for O_FT instead (the Scr.+FT baseline's starting point), if it exists. */
  compileFinetuneProgram?: () => CompiledProgram;
  /** RASP index of the answer (model position readoutIndex + 1). */
  readoutIndex: number;
  /** One input (real tokens only); `correlated` plants the spurious attribute. */
  sample(rng: Rng, correlated: boolean): Value[];
  labelPT(xs: readonly Value[]): Value;
  labelFT(xs: readonly Value[]): Value;
  /** Does an input carry the spurious attribute? */
  hasCorrelation(xs: readonly Value[]): boolean;
  /** Short human-readable names of O_PT and O_FT, e.g. "count a". */
  operandNames: { pt: string; ft: string };
  /**
   * The head that carries the capability, read at the readout query: which key positions (RASP indices)
   * hold the PT operand and the FT operand. Counter: block 1 (SelectorWidth over a's); Max-identifier:
   * block 2 (the read-out of the token with rankPT smaller tokens).
   */
  capabilityHead?: { layer: number; ptKeys(xs: readonly Value[]): number[]; ftKeys(xs: readonly Value[]): number[] };
}

export const lettersOf = (n: number): string[] => 'abcdefghijklmnopqrstuvwxyz'.slice(0, n).split('');

const compiledCache = new Map<string, CompiledProgram>();
/** Compiling is deterministic and cheap (< 0.2 s), so a compiled program is memoised per process by its key. */
function compileOnce(key: string, make: () => SOp, vocab: string[], maxSeqLen: number, mode: CompileMode): CompiledProgram {
  const full = `${key}:${mode}`;
  let cp = compiledCache.get(full);
  if (!cp) compiledCache.set(full, (cp = compileWithMode(make, vocab, maxSeqLen, mode)));
  return cp;
}

/** Compiles in the given mode ('tracr' needs dHead, known after a first compile). */
export function compileWithMode(make: () => SOp, vocab: string[], maxSeqLen: number, mode: CompileMode): CompiledProgram {
  const exact = compile(make(), { vocab, maxSeqLen });
  if (mode === 'exact') return exact;
  return compile(make(), { vocab, maxSeqLen, softmaxColdness: TRACR_COLDNESS / Math.sqrt(exact.modelConfig.dHead), mlpLargeNumber: TRACR_MLP_LARGE_NUMBER });
}

/** Tracr's softmax coldness and default mlp_exactness. */
export const TRACR_COLDNESS = 100;
export const TRACR_MLP_LARGE_NUMBER = 100;

export const PRETRAIN_LETTER = 'a';
export const FINETUNE_LETTER = 'b';

export function counterTask(cfg: CounterTaskConfig): TracrTask {
  if (cfg.minLen > cfg.maxLen || cfg.maxLen > cfg.maxSeqLen) throw new Error(`counter task: need minLen <= maxLen <= maxSeqLen, got ${cfg.minLen}, ${cfg.maxLen}, ${cfg.maxSeqLen}`);
  if (2 + cfg.q > cfg.minLen) throw new Error('counter task: minLen must leave room for #b = #a + q');
  const vocab = lettersOf(cfg.letters);
  const others = vocab.filter((l) => l !== PRETRAIN_LETTER && l !== FINETUNE_LETTER);
  const count = (xs: readonly Value[], l: string) => xs.filter((x) => x === l).length;
  const key = (l: string) => `counter:${l}:${cfg.letters}:${cfg.maxSeqLen}`;
  return {
    name: 'counter',
    compiled: compileOnce(key(PRETRAIN_LETTER), () => makeCounter(PRETRAIN_LETTER), vocab, cfg.maxSeqLen, cfg.compile),
    compileFinetuneProgram: () => compileOnce(key(FINETUNE_LETTER), () => makeCounter(FINETUNE_LETTER), vocab, cfg.maxSeqLen, cfg.compile),
    readoutIndex: PAPER_READOUT_INDEX,
    operandNames: { pt: `count ${PRETRAIN_LETTER}`, ft: `count ${FINETUNE_LETTER}` },
    labelPT: (xs) => count(xs, PRETRAIN_LETTER),
    labelFT: (xs) => count(xs, FINETUNE_LETTER),
    hasCorrelation: (xs) => count(xs, FINETUNE_LETTER) === count(xs, PRETRAIN_LETTER) + cfg.q,
    capabilityHead: { layer: 1, ptKeys: (xs) => positionsOf(xs, PRETRAIN_LETTER), ftKeys: (xs) => positionsOf(xs, FINETUNE_LETTER) },
    sample(rng, correlated) {
      const n = rng.int(cfg.minLen, cfg.maxLen + 1);
      const xs = Array.from({ length: n }, () => rng.pick(vocab));
      if (!correlated) return xs;
      // Plant #b = #a + q by editing the plain draw: drop a's until 2#a + q fits, then set #b exactly by
      // turning surplus b's into other letters or other letters into b's (a's are never touched after that).
      const positions = (l: string) => xs.flatMap((x, i) => (x === l ? [i] : []));
      let as = positions(PRETRAIN_LETTER);
      while (2 * as.length + cfg.q > n) {
        xs[as[rng.int(0, as.length)]] = rng.pick(others);
        as = positions(PRETRAIN_LETTER);
      }
      const want = as.length + cfg.q;
      let bs = positions(FINETUNE_LETTER);
      while (bs.length > want) {
        xs[bs[rng.int(0, bs.length)]] = rng.pick(others);
        bs = positions(FINETUNE_LETTER);
      }
      while (bs.length < want) {
        const free = xs.flatMap((x, i) => (x !== PRETRAIN_LETTER && x !== FINETUNE_LETTER ? [i] : []));
        xs[free[rng.int(0, free.length)]] = FINETUNE_LETTER;
        bs = positions(FINETUNE_LETTER);
      }
      return xs;
    },
  };
}

export function maxIdentifierTask(cfg: MaxIdTaskConfig): TracrTask {
  if (cfg.nTokens > cfg.maxSeqLen || cfg.nTokens > cfg.letters) throw new Error('max-identifier task: nTokens must fit maxSeqLen and the alphabet');
  if (Math.max(cfg.rankPT, cfg.rankFT) >= cfg.nTokens) throw new Error('max-identifier task: ranks must be below nTokens');
  if (cfg.rankFT <= cfg.rankPT || cfg.q < cfg.rankFT - cfg.rankPT) throw new Error('max-identifier task: need rankFT > rankPT and q >= rankFT - rankPT (distinct letters)');
  const vocab = lettersOf(cfg.letters);
  const sorted = (xs: readonly Value[]) => [...xs].map(String).sort();
  const code = (l: Value) => String(l).charCodeAt(0);
  const hasCorrelation = (xs: readonly Value[]) => {
    const s = sorted(xs);
    return code(s[cfg.rankFT]) - code(s[cfg.rankPT]) === cfg.q;
  };
  const key = (rank: number) => `maxid:${rank}:${cfg.letters}:${cfg.maxSeqLen}`;
  const drawDistinct = (rng: Rng) => rng.shuffle([...vocab]).slice(0, cfg.nTokens);
  return {
    name: 'max-identifier',
    compiled: compileOnce(key(cfg.rankPT), () => makeMaxIdentifier(cfg.rankPT), vocab, cfg.maxSeqLen, cfg.compile),
    compileFinetuneProgram: () => compileOnce(key(cfg.rankFT), () => makeMaxIdentifier(cfg.rankFT), vocab, cfg.maxSeqLen, cfg.compile),
    readoutIndex: PAPER_READOUT_INDEX,
    operandNames: { pt: `${ordinal(cfg.rankPT + 1)} smallest`, ft: `${ordinal(cfg.rankFT + 1)} smallest` },
    labelPT: (xs) => sorted(xs)[cfg.rankPT],
    labelFT: (xs) => sorted(xs)[cfg.rankFT],
    hasCorrelation,
    capabilityHead: {
      layer: 2,
      ptKeys: (xs) => positionsOf(xs, sorted(xs)[cfg.rankPT]),
      ftKeys: (xs) => positionsOf(xs, sorted(xs)[cfg.rankFT]),
    },
    sample(rng, correlated) {
      // Rejection sampling: the attribute holds naturally for roughly a third of the draws when q = 1.
      for (let tries = 0; tries < 10_000; tries++) {
        const xs = drawDistinct(rng);
        if (!correlated || hasCorrelation(xs)) return xs;
      }
      throw new Error('max-identifier task: could not draw a correlated sample (q too large for the alphabet?)');
    },
  };
}

const positionsOf = (xs: readonly Value[], v: Value): number[] => xs.flatMap((x, i) => (x === v ? [i] : []));

function ordinal(n: number): string {
  const s = n % 100 >= 11 && n % 100 <= 13 ? 'th' : ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th';
  return `${n}${s}`;
}

export function makeTracrTask(program: TracrProgramName, tasks: TracrTasksConfig): TracrTask {
  return taskOf(taskConfigOf(program, tasks));
}

/** The task of one program's config. */
export function taskOf(config: TracrTaskConfig): TracrTask {
  const { program, ...cfg } = config;
  return program === 'counter' ? counterTask(cfg as CounterTaskConfig) : maxIdentifierTask(cfg as MaxIdTaskConfig);
}

/** Which labels a batch carries: the pretraining capability's or the fine-tuning task's. */
export type LabelKind = 'pt' | 'ft';

/** A labelled sample set: inputs, their PT and FT labels, and the engine batch (targets = `labels`). */
export interface TracrSamples {
  inputs: Value[][];
  batch: Batch;
  /** Class ids (logit indices) of the PT and FT answers; -1 if an answer is outside the output space. */
  ptClass: Int32Array;
  ftClass: Int32Array;
}

/**
 * `size` samples, each correlated with probability `cCorr`, as a batch padded to the context with loss weight
 * 1 at the readout position only (target = the PT or FT class).
 */
export function tracrSamples(task: TracrTask, rng: Rng, size: number, cCorr: number, labels: LabelKind): TracrSamples {
  const cp = task.compiled;
  const T = cp.modelConfig.contextLength;
  const batch = makeBatch(size, T);
  const ptClass = new Int32Array(size);
  const ftClass = new Int32Array(size);
  const inputs: Value[][] = [];
  const pos = task.readoutIndex + 1;
  for (let b = 0; b < size; b++) {
    const xs = task.sample(rng, cCorr >= 1 || (cCorr > 0 && rng.bernoulli(cCorr)));
    inputs.push(xs);
    batch.tokens.set(cp.encode(xs, { padTo: T }), b * T);
    ptClass[b] = cp.outputIndexOf(task.labelPT(xs));
    ftClass[b] = cp.outputIndexOf(task.labelFT(xs));
    const target = labels === 'pt' ? ptClass[b] : ftClass[b];
    if (target < 0) throw new Error(`tracr samples: label outside the compiled output space for ${xs.join('')}`);
    batch.targets[b * T + pos] = target;
    batch.weights[b * T + pos] = 1;
  }
  return { inputs, batch, ptClass, ftClass };
}

/** The training stream: batch `step` is drawn from its own derived seed (resumable, order-free). */
export function tracrSampler(task: TracrTask, seed: number, cTr: number, labels: LabelKind, ...streamLabels: (string | number)[]) {
  return (step: number, batchSize: number): Batch => tracrSamples(task, Rng.derive(seed, 'tracr', task.name, ...streamLabels, labels, cTr, step), batchSize, cTr, labels).batch;
}

/** The two fixed test sets, C_Te = 0 (plain draws) and C_Te = 1 (all correlated). */
export function tracrTestSets(task: TracrTask, seed: number, size: number): { cTe0: TracrSamples; cTe1: TracrSamples } {
  return {
    cTe0: tracrSamples(task, Rng.derive(seed, 'tracr', task.name, 'test', 0), size, 0, 'pt'),
    cTe1: tracrSamples(task, Rng.derive(seed, 'tracr', task.name, 'test', 1), size, 1, 'pt'),
  };
}
