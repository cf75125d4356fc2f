/**
 * A tiny template language for varied wording:
 *   "[Soon|Later], {Hero} saw a [big|tiny] {toy}."
 * `[a|b|c]` picks one alternative at random (innermost first, so alternatives may nest);
 * `{slot}` is replaced from the context. `{He}` falls back to the capitalised `he` slot, so
 * sentence-initial pronouns need no extra keys. A missing slot is a bug and throws.
 */
import { Rng } from '../../engine/rng';

export type Context = Readonly<Record<string, string>>;

const CHOICE = /\[([^[\]]*)\]/;
const SLOT = /\{([A-Za-z0-9_]+)\}/g;

export function capitalise(s: string): string {
  return s.length === 0 ? s : s[0].toUpperCase() + s.slice(1);
}

/** Replace every innermost `[a|b]` group with one random alternative until none is left. */
export function chooseAlternatives(template: string, rng: Rng): string {
  let out = template;
  for (let m = CHOICE.exec(out); m !== null; m = CHOICE.exec(out)) {
    const options = m[1].split('|');
    out = out.slice(0, m.index) + rng.pick(options) + out.slice(m.index + m[0].length);
  }
  return out;
}

export function fillSlots(template: string, ctx: Context): string {
  return template.replace(SLOT, (_, key: string) => {
    const direct = ctx[key];
    if (direct !== undefined) return direct;
    const lower = ctx[key[0].toLowerCase() + key.slice(1)];
    if (lower !== undefined && key[0] !== key[0].toLowerCase()) return capitalise(lower);
    throw new Error(`template slot {${key}} is not in the story context`);
  });
}

/** Choose the wording, fill the slots, and tidy doubled spaces left by empty alternatives. */
export function fill(template: string, ctx: Context, rng: Rng): string {
  return fillSlots(chooseAlternatives(template, rng), ctx).replace(/ {2,}/g, ' ').replace(/ ([,.!?])/g, '$1');
}

/** "a" or "an" before a word, by its first letter (good enough for this vocabulary). */
export function article(word: string): string {
  return /^(?:[aeiou]|hon|hour)/i.test(word) ? 'an' : 'a';
}
