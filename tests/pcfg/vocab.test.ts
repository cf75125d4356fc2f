import test from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_NUMBER,
  PCFG_TOKENS,
  TOK,
  VOCAB_SIZE,
  decode,
  encode,
  idToNumber,
  numberId,
  render,
  tokenId,
} from '../../lib/tasks/pcfg';

test('vocab: unique tokens, documented layout, numbers 0..250 as single tokens', () => {
  assert.equal(new Set(PCFG_TOKENS).size, PCFG_TOKENS.length);
  assert.equal(VOCAB_SIZE, 6 + 7 + 1 + 3 + 9 + MAX_NUMBER + 1);
  assert.equal(MAX_NUMBER, 250);
  assert.equal(TOK.PAD, 0);
  for (const t of ['SOS', 'EOS', 'SOT', 'EOT', 'ART', 'T_C', 'T_CC', 'T_I', 'T_IC', 'T_T', 'T_J1', 'T_J2', 'NULL', 'a', 'b', 'c', 'aa', 'cc']) {
    assert.equal(PCFG_TOKENS[tokenId(t)], t);
  }
  assert.equal(tokenId('b'), TOK.TERMINAL0 + 1);
  assert.equal(tokenId('bc'), TOK.PAIR0 + 3 * 1 + 2);
  for (const k of [0, 1, 40, 250]) {
    assert.equal(PCFG_TOKENS[numberId(k)], String(k));
    assert.equal(idToNumber(numberId(k)), k);
  }
  assert.equal(idToNumber(TOK.ART), null);
});

test('vocab: encode/decode round trip and "wrong vocabulary" errors', () => {
  const toks = ['SOS', 'T_C', 'a', '16', 'SOT', 'a', 'b', 'EOT', 'ART', '3', 'EOS'];
  assert.deepEqual(decode(encode(toks)), toks);
  assert.throws(() => tokenId('d'), /wrong vocabulary: 'd'/);
  assert.throws(() => encode(['SOS', '251']), /wrong vocabulary/);
  assert.throws(() => numberId(251), /wrong vocabulary/);
  assert.throws(() => numberId(-1), /wrong vocabulary/);
  assert.throws(() => decode([VOCAB_SIZE]), /wrong vocabulary/);
  assert.equal(render(encode(toks)), 'SOS T_C a 16 SOT ab EOT ART 3 EOS');
});
