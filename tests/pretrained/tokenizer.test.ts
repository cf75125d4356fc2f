import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadTokenizer, tokenizerFromJson, TokenizerError } from '../../lib/pretrained/tokenizer';
import { WraplabError } from '../../lib/engine/errors';
import { bytesToUnicode, gpt2Fixture } from './gpt2-fixture';

const made: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-tok-'));
  made.push(d);
  return d;
};
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

// Each line probes a different rule of GPT-2's pre-tokenizer regex or of byte-level BPE.
const CORPUS = [
  'Hello world',
  'Once upon a time, there was a little girl named Lily. She loved to play outside!',
  ' leading space',
  '   three leading spaces and trailing   ',
  'tabs\tand\nnewlines\n\n\nand\r\nCRLF',
  'multiple     spaces   between words',
  "Contractions: don't, I'm, we'll, they've, you'd, it's, she're, DON'T",
  'Punctuation!?... "quoted" (parens) [brackets] {braces} <angle> #hash @at $5.00 100% a&b a*b ~`|\\^_',
  'Numbers: 0 1 42 3.14159 1,000,000 2024-12-03 0x1F 1e-5 ١٢٣',
  'Ünïcödé: café naïve façade Straße Ελληνικά русский текст',
  '中文字符测试，日本語のテキスト、한국어 텍스트',
  'Emoji: 😀👍🏽 👨‍👩‍👧‍👦 🇺🇸 ❤️ and ZWJ sequences',
  'Combining: e\u0301 a\u0308 n\u0303, lone surrogate-free astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  'def f(x):\n    return x ** 2  # code\n',
  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  'x',
  ' ',
  '\n',
  'ends with space ',
  "'s 's' ''",
  '\u00a0non-breaking\u00a0space and \u3000 ideographic space',
  'control \u0000 \u0001 \u007f chars',
];

test('GPT-2 tokenizer.json built from js-tiktoken ranks: encode matches js-tiktoken, decode inverts it', () => {
  const { json, reference, merges } = gpt2Fixture();
  assert.equal(merges, 50000); // GPT-2 has 50 000 merges; a wrong derivation would fail inside gpt2Fixture
  const tok = tokenizerFromJson(json, { bos_token: '<|endoftext|>', eos_token: '<|endoftext|>' });
  assert.equal(tok.vocabSize, 50257);
  let tokens = 0;
  for (const s of CORPUS) {
    const ids = tok.encode(s);
    assert.deepEqual(ids, reference.encode(s), JSON.stringify(s));
    assert.equal(tok.decode(ids), s, JSON.stringify(s));
    tokens += ids.length;
  }
  assert.ok(tokens > 300, `corpus too small: ${tokens} tokens`);
  // A few known GPT-2 ids, independent of either implementation.
  assert.deepEqual(tok.encode('Hello world'), [15496, 995]);
  assert.equal(tok.tokenToId('Ġworld'), 995);
  assert.equal(tok.idToToken(995), 'Ġworld');
});

test('GPT-2: <|endoftext|> in text is one special token; bos/eos; encode of empty text', () => {
  const { json, reference } = gpt2Fixture();
  const tok = tokenizerFromJson(json, { bos_token: '<|endoftext|>', eos_token: { content: '<|endoftext|>', __type: 'AddedToken' } });
  const s = 'The end.<|endoftext|>A new story';
  assert.deepEqual(tok.encode(s), reference.encode(s, 'all'));
  assert.ok(tok.encode(s).includes(50256));
  assert.equal(tok.decode(tok.encode(s)), s);
  assert.equal(tok.decode(tok.encode(s), { skipSpecialTokens: true }), 'The end.A new story');
  assert.equal(tok.bosTokenId, 50256);
  assert.equal(tok.eosTokenId, 50256);
  assert.deepEqual(tok.encode(''), []);
  assert.equal(tok.decode([]), '');
  // Without tokenizer_config.json the special added token <|endoftext|> still gives bos/eos (GPT-2's convention).
  const bare = tokenizerFromJson(json);
  assert.equal(bare.bosTokenId, 50256);
  assert.equal(bare.eosTokenId, 50256);
});

/** A hand-made byte-level BPE: a handful of merges, <s>/</s>/<pad> added tokens and a template adding BOS. */
function tinyTokenizerJson(): Record<string, unknown> {
  const u = bytesToUnicode();
  const vocab: Record<string, number> = { '<pad>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[u[b]] = 3 + b;
  const merges = [['h', 'e'], ['l', 'l'], ['he', 'll'], ['hell', 'o'], ['Ġ', 'w'], ['Ġw', 'o']];
  let next = 259;
  for (const [a, b] of merges) vocab[a + b] = next++;
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0',
    added_tokens: [special(0, '<pad>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

test('hand-made tokenizer: merges apply in order, the template adds BOS, special tokens decode and skip', () => {
  const json = tinyTokenizerJson();
  const tok = tokenizerFromJson(json, { bos_token: '<s>', eos_token: '</s>', pad_token: '<pad>' });
  assert.equal(tok.vocabSize, 3 + 256 + 6);
  assert.equal(tok.bosTokenId, 1);
  assert.equal(tok.eosTokenId, 2);
  const hello = tok.tokenToId('hello')!;
  const wo = tok.tokenToId('Ġwo')!;
  const r = tok.tokenToId('r')!;
  // "hello" merges fully (he, ll, hell, hello); " world" → Ġwo + r + l + d.
  assert.deepEqual(tok.encode('hello world'), [1, hello, wo, r, tok.tokenToId('l'), tok.tokenToId('d')]);
  assert.deepEqual(tok.encode('hello world', { addSpecialTokens: false }).slice(0, 2), [hello, wo]);
  const ids = tok.encode('hello</s>');
  assert.deepEqual(ids, [1, hello, 2]);
  assert.equal(tok.decode(ids), '<s>hello</s>');
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), 'hello');
  assert.equal(tok.idToToken(2), '</s>');
  assert.equal(tok.idToToken(9999), null);
  assert.equal(tok.idToToken(-1), null);
  assert.equal(tok.idToToken(1.5), null);
  assert.equal(tok.tokenToId('not a token'), null);
  assert.throws(() => tok.decode([hello, 9999]), (e: Error) => e instanceof TokenizerError && /token id 9999 is not in the vocabulary \(ids run 0\.\.264\)/.test(e.message));
  // A config that sets no BOS means none, even if <s> exists; a config naming an unknown token is an error.
  assert.equal(tokenizerFromJson(json, { bos_token: null, eos_token: '</s>' }).bosTokenId, null);
  assert.throws(() => tokenizerFromJson(json, { eos_token: '<|eot|>' }), /tokenizer_config\.json: eos_token "<\|eot\|>" is not in/);
  // Without a config, bos/eos come from the special added tokens' names.
  const bare = tokenizerFromJson(json);
  assert.equal(bare.bosTokenId, 1);
  assert.equal(bare.eosTokenId, 2);
});

test('loadTokenizer reads tokenizer.json + tokenizer_config.json from a folder; bad folders name the file and the fix', () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tinyTokenizerJson()));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '</s>', eos_token: '</s>' }));
  const tok = loadTokenizer(dir);
  assert.equal(tok.bosTokenId, 2); // the config wins over the added token names
  assert.equal(tok.decode(tok.encode('hello world', { addSpecialTokens: false })), 'hello world');
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: { content: '<bos>', __type: 'AddedToken' } }));
  assert.throws(() => loadTokenizer(dir), (e: Error) => e.message === `${path.join(dir, 'tokenizer_config.json')}: bos_token "<bos>" is not in ${path.join(dir, 'tokenizer.json')}'s vocabulary; correct or remove bos_token there`);

  const empty = tmp();
  assert.throws(
    () => loadTokenizer(empty),
    (e: Error) => e instanceof WraplabError && e.message.includes(path.join(empty, 'tokenizer.json')) && /not found: pass a folder holding a HuggingFace tokenizer\.json/.test(e.message),
  );
  const slow = tmp();
  fs.writeFileSync(path.join(slow, 'vocab.json'), '{}');
  fs.writeFileSync(path.join(slow, 'merges.txt'), '');
  assert.throws(() => loadTokenizer(slow), /only vocab\.json\/merges\.txt.*save_pretrained/);

  const broken = tmp();
  fs.writeFileSync(path.join(broken, 'tokenizer.json'), '{"model": {"type": "BPE",');
  assert.throws(() => loadTokenizer(broken), (e: Error) => e instanceof TokenizerError && e.message.startsWith(`${path.join(broken, 'tokenizer.json')} is not valid JSON`));
  fs.writeFileSync(path.join(broken, 'tokenizer.json'), JSON.stringify(tinyTokenizerJson()));
  fs.writeFileSync(path.join(broken, 'tokenizer_config.json'), 'not json');
  assert.throws(() => loadTokenizer(broken), (e: Error) => e.message.startsWith(`${path.join(broken, 'tokenizer_config.json')} is not valid JSON`));

  const foreign = tmp();
  fs.writeFileSync(path.join(foreign, 'tokenizer.json'), JSON.stringify({ vocab: {} }));
  assert.throws(() => loadTokenizer(foreign), /tokenizer\.json has no "model" object: it is not a HuggingFace tokenizer\.json/);
  fs.writeFileSync(path.join(foreign, 'tokenizer.json'), JSON.stringify({ model: { type: 'NoSuchModel' } }));
  assert.throws(() => loadTokenizer(foreign), (e: Error) => e instanceof TokenizerError && /tokenizer\.json cannot be used: /.test(e.message));
});
