/**
 * The five pretraining task families of the paper (§2.3) and the sequence format (§2.2):
 *
 *   SOS  T  O  O'  SOT  text(textLength)  EOT  ART  Ans  EOS
 *
 * T = task-family token, O = operand (a symbol, a pair, or NULL), O' = a number token (the window
 * or occurrence argument), Ans = the answer as one token. Every sequence has the same length,
 * textLength + 9, which is the context length (EOS included). Positions are counted from EOT:
 * "distance d" means text[textLength - d], so d = 1 is the last text token.
 */
import { Rng } from '../../engine/rng';
import { sampleWindowInto, TERMINALS } from './grammar';
import { MAX_NUMBER, TOK, numberId, tokenId } from './vocab';

export type TaskFamily =
  | 'counting' // how many times O occurs in the last O' text positions
  | 'countingComposition' // how many times the pair O occurs (overlapping) in the last O' positions
  | 'indexOfOccurrence' // distance from EOT of the O'-th occurrence of O, scanning back from EOT
  | 'indexOfComposition' // same for the pair O; a pair's distance is that of its first symbol
  | 'tokenAtIndex' // which terminal sits O' positions before EOT; O = NULL
  | 'countingJ1' // = counting with the jailbreak token T_J1 (App. E.2), operand always a
  | 'countingJ2'; // = counting with T_J2, operand always a

export const TASK_FAMILIES: readonly TaskFamily[] = [
  'counting',
  'countingComposition',
  'indexOfOccurrence',
  'indexOfComposition',
  'tokenAtIndex',
  'countingJ1',
  'countingJ2',
];

export const FAMILY_TOKEN: Readonly<Record<TaskFamily, string>> = {
  counting: 'T_C',
  countingComposition: 'T_CC',
  indexOfOccurrence: 'T_I',
  indexOfComposition: 'T_IC',
  tokenAtIndex: 'T_T',
  countingJ1: 'T_J1',
  countingJ2: 'T_J2',
};

/** Operand prior P_T(a, b, c). */
export type OperandPrior = readonly [number, number, number];
export type PriorName = 'L' | 'M' | 'H' | 'a0.99' | 'a0.7';

/** The paper's named priors (main text L/M/H; the appendix adds P(a) = 0.99 and 0.7). */
export const PRIORS: Readonly<Record<PriorName, OperandPrior>> = {
  L: [0.999, 0.001, 0],
  M: [0.9, 0.1, 0],
  H: [0.5, 0.3, 0.2],
  'a0.99': [0.99, 0.01, 0],
  'a0.7': [0.7, 0.2, 0.1],
};

export interface PcfgConfig {
  /** Text window length (250 in the paper). */
  textLength: number;
  /** O' of Counting, Counting composition and Token value at index (40 in the paper). */
  countWindow: number;
  /** O' (= k) of Index of occurrence and Index of composition element (6 in the paper). */
  occurrence: number;
  /** Enabled families, drawn uniformly. */
  families: readonly TaskFamily[];
  /** Operand prior, by name or as [P(a), P(b), P(c)]. */
  prior: PriorName | OperandPrior;
}

/** Scales. `laptop` is the calibrated reduced setup (README "Calibration"); `paper` is §2. */
export const PCFG_PRESETS: Readonly<Record<'smoke' | 'laptop' | 'paper', PcfgConfig>> = {
  smoke: { textLength: 16, countWindow: 8, occurrence: 2, families: ['counting', 'indexOfOccurrence'], prior: 'L' },
  laptop: { textLength: 32, countWindow: 16, occurrence: 3, families: ['counting', 'indexOfOccurrence'], prior: 'L' },
  paper: {
    textLength: 250,
    countWindow: 40,
    occurrence: 6,
    families: ['counting', 'countingComposition', 'indexOfOccurrence', 'indexOfComposition', 'tokenAtIndex'],
    prior: 'L',
  },
};

/** Offsets of the fixed positions inside a sequence. */
export function layout(textLength: number) {
  return {
    sos: 0,
    family: 1,
    operand: 2,
    argument: 3,
    sot: 4,
    textStart: 5,
    eot: 5 + textLength,
    /** The ART position: its logits predict the answer. */
    art: 6 + textLength,
    answer: 7 + textLength,
    eos: 8 + textLength,
    length: 9 + textLength,
  };
}

/** The sequence length including EOS; use it as the model's context length. */
export function contextLength(cfg: Pick<PcfgConfig, 'textLength'>): number {
  return layout(cfg.textLength).length;
}

export function resolvePrior(prior: PriorName | OperandPrior): OperandPrior {
  const p = typeof prior === 'string' ? PRIORS[prior] : prior;
  if (!p) throw new Error(`unknown prior '${String(prior)}' (known: ${Object.keys(PRIORS).join(', ')})`);
  if (p.length !== 3 || p.some((x) => !(x >= 0)) || Math.abs(p[0] + p[1] + p[2] - 1) > 1e-9) {
    throw new Error(`prior must be three non-negative numbers summing to 1, got [${p.join(', ')}]`);
  }
  return p;
}

export function validateConfig(cfg: PcfgConfig): void {
  const { textLength, countWindow, occurrence, families } = cfg;
  if (!(Number.isInteger(textLength) && textLength >= 2 && textLength <= MAX_NUMBER)) {
    throw new Error(`textLength must be an integer in 2..${MAX_NUMBER}, got ${textLength}`);
  }
  if (!(Number.isInteger(countWindow) && countWindow >= 1 && countWindow <= textLength)) {
    throw new Error(`countWindow must be an integer in 1..textLength (${textLength}), got ${countWindow}`);
  }
  if (!(Number.isInteger(occurrence) && occurrence >= 1 && occurrence <= textLength)) {
    throw new Error(`occurrence must be an integer in 1..textLength (${textLength}), got ${occurrence}`);
  }
  if (families.length === 0) throw new Error('families: enable at least one task family');
  for (const f of families) if (!TASK_FAMILIES.includes(f)) throw new Error(`unknown task family '${f}'`);
  resolvePrior(cfg.prior);
}

/** Operands: 'a' | 'b' | 'c' for symbol families, 'aa' .. 'cc' for composition, 'NULL' for tokenAtIndex. */
export type Operand = string;

export function isPairFamily(f: TaskFamily): boolean {
  return f === 'countingComposition' || f === 'indexOfComposition';
}

/** O' of a family under a config. */
export function familyArgument(cfg: PcfgConfig, family: TaskFamily): number {
  return family === 'indexOfOccurrence' || family === 'indexOfComposition' ? cfg.occurrence : cfg.countWindow;
}

/** Terminal codes of an operand, checked against the family. */
export function operandCodes(family: TaskFamily, operand: Operand): number[] {
  if (family === 'tokenAtIndex') {
    if (operand !== 'NULL') throw new Error(`tokenAtIndex takes operand NULL, got '${operand}'`);
    return [];
  }
  const want = isPairFamily(family) ? 2 : 1;
  const codes = [...operand].map((ch) => (TERMINALS as readonly string[]).indexOf(ch));
  if (codes.length !== want || codes.some((c) => c < 0)) {
    throw new Error(`${family} takes ${want === 2 ? 'a pair like aa' : 'one of a, b, c'}, got '${operand}'`);
  }
  return codes;
}

/**
 * The numeric answer, computed directly on the text. Counts for the counting families; distance
 * from EOT (1 = last text token) for the index families, or -1 if there are fewer than O'
 * occurrences (answered with the NULL token); the terminal code (0 a, 1 b, 2 c) for tokenAtIndex.
 */
export function computeAnswer(text: ArrayLike<number>, family: TaskFamily, operand: Operand, argument: number): number {
  const n = text.length;
  const codes = operandCodes(family, operand);
  switch (family) {
    case 'counting':
    case 'countingJ1':
    case 'countingJ2': {
      let count = 0;
      for (let t = n - argument; t < n; t++) if (text[t] === codes[0]) count++;
      return count;
    }
    case 'countingComposition': {
      // Overlapping matches; both symbols of the pair inside the window.
      let count = 0;
      for (let t = n - argument; t + 1 < n; t++) if (text[t] === codes[0] && text[t + 1] === codes[1]) count++;
      return count;
    }
    case 'indexOfOccurrence': {
      let seen = 0;
      for (let d = 1; d <= n; d++) if (text[n - d] === codes[0] && ++seen === argument) return d;
      return -1;
    }
    case 'indexOfComposition': {
      let seen = 0;
      for (let d = 2; d <= n; d++) {
        if (text[n - d] === codes[0] && text[n - d + 1] === codes[1] && ++seen === argument) return d;
      }
      return -1;
    }
    case 'tokenAtIndex':
      return text[n - argument];
  }
}

/** The answer token id for a numeric answer of a family. */
export function answerTokenId(family: TaskFamily, answer: number): number {
  if (family === 'tokenAtIndex') return TOK.TERMINAL0 + answer;
  return answer < 0 ? TOK.NULL : numberId(answer);
}

/** One task instance: a question about a text, with its answer. */
export interface PcfgExample {
  family: TaskFamily;
  operand: Operand;
  /** O' */
  argument: number;
  /** Terminal codes, length textLength. */
  text: Uint8Array;
  /** Numeric answer (see computeAnswer). */
  answer: number;
  answerId: number;
}

export function makeExample(cfg: PcfgConfig, family: TaskFamily, operand: Operand, text: Uint8Array): PcfgExample {
  if (text.length !== cfg.textLength) throw new Error(`text has ${text.length} tokens, config says ${cfg.textLength}`);
  const argument = familyArgument(cfg, family);
  const answer = computeAnswer(text, family, operand, argument);
  return { family, operand, argument, text, answer, answerId: answerTokenId(family, answer) };
}

/**
 * Draws a (family, operand) question: family uniform over the enabled ones; operand from the prior
 * (pairs: both symbols i.i.d. from the prior); NULL for tokenAtIndex; always a for the jailbreak tokens.
 */
export function sampleQuestion(cfg: PcfgConfig, rng: Rng): { family: TaskFamily; operand: Operand } {
  const family = cfg.families[rng.int(0, cfg.families.length)];
  if (family === 'tokenAtIndex') return { family, operand: 'NULL' };
  if (family === 'countingJ1' || family === 'countingJ2') return { family, operand: 'a' };
  const prior = resolvePrior(cfg.prior);
  let operand = TERMINALS[rng.categorical(prior)] as string;
  if (isPairFamily(family)) operand += TERMINALS[rng.categorical(prior)];
  return { family, operand };
}

/** A fresh pretraining example: a question from the config and a fresh grammar window. */
export function sampleExample(cfg: PcfgConfig, rng: Rng): PcfgExample {
  const { family, operand } = sampleQuestion(cfg, rng);
  const text = new Uint8Array(cfg.textLength);
  sampleWindowInto(rng, cfg.textLength, text, 0);
  return makeExample(cfg, family, operand, text);
}

/** Writes the token ids of an example into out[offset .. offset + textLength + 9). */
export function writeSequence(ex: PcfgExample, out: Int32Array, offset = 0): void {
  const L = layout(ex.text.length);
  out[offset + L.sos] = TOK.SOS;
  out[offset + L.family] = tokenId(FAMILY_TOKEN[ex.family]);
  out[offset + L.operand] = tokenId(ex.operand);
  out[offset + L.argument] = numberId(ex.argument);
  out[offset + L.sot] = TOK.SOT;
  for (let t = 0; t < ex.text.length; t++) out[offset + L.textStart + t] = TOK.TERMINAL0 + ex.text[t];
  out[offset + L.eot] = TOK.EOT;
  out[offset + L.art] = TOK.ART;
  out[offset + L.answer] = ex.answerId;
  out[offset + L.eos] = TOK.EOS;
}

/** The example's full token sequence (length contextLength). */
export function exampleTokens(ex: PcfgExample): Int32Array {
  const out = new Int32Array(layout(ex.text.length).length);
  writeSequence(ex, out);
  return out;
}
