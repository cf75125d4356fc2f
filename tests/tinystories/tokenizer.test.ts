import test from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../lib/engine/rng';
import { WordTokenizer, generateStories, pretokenize, renderInstruct } from '../../lib/tasks/tinystories';

const rng = new Rng(0);
const texts = generateStories(31, 1500).map((s) => renderInstruct(s, rng));
const tok = WordTokenizer.train(texts, { vocabSize: 3000 });

test('pretokenize splits words with their leading space, punctuation and digits, and loses nothing', () => {
  assert.deepEqual(pretokenize('"Hi," said Tom. It\'s 42!\nFeatures: '), [
    '"', 'Hi', ',', '"', ' said', ' Tom', '.', ' It\'s', ' 4', '2', '!', '\n', 'Features', ':', ' ',
  ]);
  for (const t of ['  two  spaces\t tab', 'caf\u00e9 \u{1F600} na\u0308ive', '']) assert.equal(pretokenize(t).join(''), t);
});

test('special tokens are PAD 0, BOS 1, EOS 2, UNK 3; vocabulary size is respected', () => {
  assert.deepEqual(tok.vocab.slice(0, 4), ['<pad>', '<bos>', '<eos>', '<unk>']);
  assert.ok(tok.vocabSize <= 3000);
  const small = WordTokenizer.train(texts, { vocabSize: 300 });
  assert.equal(small.vocabSize, 300);
});

test('encode/decode round-trips instruct texts exactly, mostly with whole-word tokens', () => {
  let tokens = 0;
  let words = 0;
  for (const t of texts.slice(0, 300)) {
    const ids = tok.encode(t, { bos: true, eos: true });
    assert.equal(ids[0], tok.bosId);
    assert.equal(ids[ids.length - 1], tok.eosId);
    assert.ok(!ids.includes(tok.unkId));
    assert.equal(tok.decode(ids), t);
    tokens += ids.length;
    words += t.split(/\s+/).length;
  }
  assert.ok(tokens / words < 1.6, `${(tokens / words).toFixed(2)} tokens per word`);
});

test('a small vocabulary spells rare words with characters and still round-trips', () => {
  const small = WordTokenizer.train(texts, { vocabSize: 200 });
  const t = texts[0];
  const ids = small.encode(t);
  assert.equal(small.decode(ids), t);
  assert.ok(ids.length > tok.encode(t).length, 'fewer whole words means more tokens');
});

test('unseen characters become UNK', () => {
  const ids = tok.encode('Tom saw a \u{1F409}.');
  assert.ok(ids.includes(tok.unkId));
  assert.equal(tok.decode(ids), 'Tom saw a <unk>.');
});

test('JSON save/load gives the same tokenizer; training is deterministic', () => {
  const loaded = WordTokenizer.fromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
  assert.deepEqual(loaded.vocab, tok.vocab);
  assert.deepEqual(loaded.encode(texts[5]), tok.encode(texts[5]));
  assert.deepEqual(WordTokenizer.train(texts, { vocabSize: 3000 }).vocab, tok.vocab);
  assert.throws(() => WordTokenizer.fromJSON({ type: 'other' } as never), /not a wraplab word tokenizer/);
  assert.throws(() => new WordTokenizer(['a', 'b', 'c', 'd']), /vocab\[0\] must be <pad>/);
});
