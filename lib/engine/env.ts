/**
 * One strict integer parser for every numeric input: environment variables, seeds, CLI counts. Only plain decimal
 * digits pass ("abc", "2.5", "1e3", " 2", "0x10" do not), and the value must lie in the allowed range, checked on
 * the digits themselves so that a seed past 2^53 is never silently rounded to a neighbour.
 */
import { EnvError } from './errors';

export interface IntRange {
  min?: number;
  max?: number;
}

/** `raw` as an integer in [min, max], or a message saying why not (null when it is fine). */
export function parseStrictInt(raw: string | number, range: IntRange = {}): { value: number } | { problem: string } {
  const min = range.min ?? 0;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  const text = typeof raw === 'number' ? (Number.isInteger(raw) ? String(raw) : 'x') : raw;
  const what = max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer in ${min}..${max}`;
  if (!/^-?\d+$/.test(text) || (typeof raw === 'number' && !Number.isSafeInteger(raw))) return { problem: `must be ${what}` };
  // Compare as BigInt: Number('9007199254740993') is already …992.
  const big = BigInt(text);
  if (big < BigInt(min) || big > BigInt(max)) return { problem: `must be ${what}` };
  return { value: Number(big) };
}

/** An integer environment variable: `fallback` when unset or empty, else validated (EnvError naming it). */
export function envInt(name: string, fallback: number, range: IntRange = { min: 1 }): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const parsed = parseStrictInt(raw, range);
  if ('problem' in parsed) throw new EnvError(`${name}=${JSON.stringify(raw)} ${parsed.problem}; fix or unset it`);
  return parsed.value;
}

/** Seeds are 32-bit: the generators (rng.ts) take 2^32 distinct states, and a wider seed would alias one. */
export const MAX_SEED = 0xffffffff;
