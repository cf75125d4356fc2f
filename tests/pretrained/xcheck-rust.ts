/**
 * Manual cross-check of lib/pretrained/tokenizer.ts against HF's Rust `tokenizers` (the reference implementation),
 * kept out of CI because its npm package weighs 64 MB (binaries for every platform). Run:
 *   npm install --no-save tokenizers@0.23.2 && npx tsc -p tsconfig.json
 *   node dist/tests/pretrained/xcheck-rust.js [model folder with tokenizer.json …]
 * Without folders it checks GPT-2 (rebuilt from js-tiktoken) and NeoX-/SmolLM-style variants of it (NFC, padding and
 * whitespace-run added tokens, chat tokens with rstrip, a BOS template, merges as pairs). Exits 1 on any difference.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadTokenizer, tokenizerFromJson, type PretrainedTokenizer } from '../../lib/pretrained/tokenizer';
import { gpt2Fixture } from './gpt2-fixture';

interface RustTokenizer {
  encode(text: string): Promise<{ getIds(): number[] }>;
  decode(ids: number[], skipSpecialTokens: boolean): Promise<string>;
}

const TEXTS = [
  'Once upon a time, there was a little girl named Lily.',
  ' leading space, trailing space ',
  'a  b   c    d        e                          f',
  'tabs\tnewlines\n\n\n CRLF\r\n   \t  \n',
  "don't I'm we'll they've 'S DON'T",
  'Numbers 0 42 3.14159 1,000,000 ١٢٣ ⅷ',
  'café naïve e\u0301 ﬁ Ａ Straße Ελληνικά русский 中文 日本語 한국어',
  'Emoji 😀👍🏽 👨‍👩‍👧‍👦 🇺🇸 ❤️',
  'x<|endoftext|>y <|endoftext|> z',
  '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n hello <|im_end|>',
  '<|padding|><|padding|> pad',
  'def f(x):\n    return x ** 2  # code\n',
];

function variants(): Record<string, Record<string, unknown>> {
  const base = gpt2Fixture().json;
  const clone = () => JSON.parse(JSON.stringify(base)) as { [k: string]: any };
  const added = (id: number, content: string, extra: object = {}) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true, ...extra });
  const neox = clone();
  neox.normalizer = { type: 'NFC' };
  neox.added_tokens.push(added(50257, '<|padding|>'));
  for (let n = 24, id = 50258; n >= 2; n--, id++) neox.added_tokens.push(added(id, ' '.repeat(n), { normalized: true, special: false }));
  const smol = clone();
  smol.added_tokens.push(added(50257, '<|im_start|>'), added(50258, '<|im_end|>', { rstrip: true }), added(50259, '<s>'));
  smol.post_processor = {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { '<s>': { id: '<s>', ids: [50259], tokens: ['<s>'] } },
  };
  const pairs = clone();
  pairs.model.merges = (pairs.model.merges as string[]).map((m) => m.split(' '));
  return { gpt2: base, neox, smol, 'merges-as-pairs': pairs };
}

async function main(): Promise<void> {
  let rust: { Tokenizer: { fromString(s: string): RustTokenizer } };
  try {
    rust = require('tokenizers');
  } catch {
    console.error('the Rust reference is not installed: npm install --no-save tokenizers@0.23.2');
    process.exit(2);
  }
  const cases: [string, PretrainedTokenizer, RustTokenizer][] = [];
  const dirs = process.argv.slice(2);
  if (dirs.length) {
    for (const d of dirs) cases.push([d, loadTokenizer(d), rust.Tokenizer.fromString(fs.readFileSync(path.join(d, 'tokenizer.json'), 'utf8'))]);
  } else {
    for (const [name, json] of Object.entries(variants())) cases.push([name, tokenizerFromJson(json), rust.Tokenizer.fromString(JSON.stringify(json))]);
  }
  let failures = 0;
  for (const [name, ours, ref] of cases) {
    let tokens = 0;
    let bad = 0;
    for (const s of TEXTS) {
      const want = (await ref.encode(s)).getIds();
      const got = ours.encode(s);
      tokens += want.length;
      if (JSON.stringify(want) !== JSON.stringify(got)) {
        bad++;
        console.log(`${name}: encode ${JSON.stringify(s)}\n  rust ${want}\n  ours ${got}`);
      }
      const wantText = await ref.decode(want, false);
      if (wantText !== ours.decode(want)) {
        bad++;
        console.log(`${name}: decode ${JSON.stringify(s)}\n  rust ${JSON.stringify(wantText)}\n  ours ${JSON.stringify(ours.decode(want))}`);
      }
    }
    console.log(`${name}: ${TEXTS.length} texts, ${tokens} tokens, ${bad} differences`);
    failures += bad;
  }
  process.exit(failures ? 1 : 0);
}

void main();
