/**
 * GPT-2's tokenizer.json, rebuilt offline from the BPE ranks that js-tiktoken ships (its `gpt2` ranks are GPT-2's
 * token ids), so the tokenizer tests need neither the network nor a 1.4 MB committed fixture.
 *
 * tiktoken stores only ranks; HF's BPE wants merges. Token r (r ≥ 256) is the merge of the two pieces that BPE,
 * restricted to ranks < r, leaves of its bytes: BPE merges the lowest-ranked adjacent pair first, so those pieces
 * exist before r and nothing of lower rank joins them. Listing merges in rank order reproduces tiktoken's priority.
 */
import { Tiktoken } from 'js-tiktoken/lite';
import { byteLevelAlphabet } from '../../lib/pretrained/demo';

interface TiktokenRanks {
  pat_str: string;
  special_tokens: Record<string, number>;
  bpe_ranks: string;
}
// js-tiktoken exports this subpath only through package.json "exports", which tsc's node10 resolution does not read.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ranksData = require('js-tiktoken/ranks/gpt2') as TiktokenRanks;

/** GPT-2's byte → printable-unicode table (the byte-level BPE alphabet): the library's own. */
export const bytesToUnicode = byteLevelAlphabet;

/** Token bytes by rank, from js-tiktoken's compressed lines "<char> <first rank> <base64 token> <base64 token> …". */
function tokenBytesByRank(): Buffer[] {
  const byRank: Buffer[] = [];
  for (const line of ranksData.bpe_ranks.split('\n')) {
    if (!line) continue;
    const [, offset, ...tokens] = line.split(' ');
    tokens.forEach((t, i) => (byRank[Number(offset) + i] = Buffer.from(t, 'base64')));
  }
  return byRank;
}

let cached: { json: Record<string, unknown>; reference: Tiktoken; merges: number } | undefined;

/** GPT-2's tokenizer.json (as the Hub's `gpt2` repo lays it out) and js-tiktoken's GPT-2 encoder as the reference. */
export function gpt2Fixture(): { json: Record<string, unknown>; reference: Tiktoken; merges: number } {
  if (cached) return cached;
  const byRank = tokenBytesByRank();
  const rankOf = new Map<string, number>();
  byRank.forEach((b, r) => rankOf.set(b.toString('latin1'), r));
  const u = bytesToUnicode();
  const show = (b: Buffer) => Array.from(b, (x) => u[x]).join('');

  const vocab: Record<string, number> = {};
  const merges: string[] = [];
  byRank.forEach((bytes, r) => {
    vocab[show(bytes)] = r;
    if (bytes.length < 2) return;
    let parts = Array.from(bytes, (x) => String.fromCharCode(x));
    for (;;) {
      let best = -1;
      let bestRank = r;
      for (let i = 0; i + 1 < parts.length; i++) {
        const rank = rankOf.get(parts[i] + parts[i + 1]);
        if (rank !== undefined && rank < bestRank) [best, bestRank] = [i, rank];
      }
      if (best < 0) break;
      parts = [...parts.slice(0, best), parts[best] + parts[best + 1], ...parts.slice(best + 2)];
    }
    if (parts.length !== 2) throw new Error(`rank ${r}: BPE over lower ranks leaves ${parts.length} pieces, not 2`);
    merges.push(parts.map((p) => show(Buffer.from(p, 'latin1'))).join(' '));
  });

  // GPT-2's vocab.json lists <|endoftext|> too, besides added_tokens.
  for (const [content, id] of Object.entries(ranksData.special_tokens)) vocab[content] = id;
  const added = Object.entries(ranksData.special_tokens).map(([content, id]) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: true,
    special: true,
  }));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges },
  };
  cached = { json, reference: new Tiktoken(ranksData), merges: merges.length };
  return cached;
}
