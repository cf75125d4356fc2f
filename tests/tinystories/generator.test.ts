import test from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../lib/engine/rng';
import {
  DEFAULT_GENERATOR_CONFIG, FEATURES, generateStories, generateStory, sampleFeatures, splitSentences,
} from '../../lib/tasks/tinystories';

const corpus = generateStories(11, 3000);
const wordsOf = (text: string) => text.split(/\s+/).filter((w) => w.length > 0);

test('vocabulary: well over a thousand distinct words across 3000 stories', () => {
  const vocab = new Set<string>();
  for (const s of corpus) for (const w of s.story.toLowerCase().match(/[a-z]+/g) ?? []) vocab.add(w);
  assert.ok(vocab.size > 1250, `only ${vocab.size} distinct words`);
});

test('every story has 80-250 words and the lengths spread over the range', () => {
  const lengths = corpus.map((s) => wordsOf(s.story).length);
  for (const n of lengths) assert.ok(n >= 80 && n <= 250, `story length ${n}`);
  assert.ok(Math.min(...lengths) < 110 && Math.max(...lengths) > 180, 'lengths do not vary');
});

test('0-3 features per story, each feature near its configured frequency', () => {
  const perCount = [0, 0, 0, 0];
  for (const s of corpus) {
    assert.ok(s.features.length <= 3);
    assert.equal(new Set(s.features).size, s.features.length, 'duplicate feature');
    perCount[s.features.length]++;
  }
  for (const c of perCount) assert.ok(c > 100, `feature-count histogram ${perCount}`);
  for (const f of FEATURES) {
    const rate = corpus.filter((s) => s.features.includes(f)).length / corpus.length;
    const p = DEFAULT_GENERATOR_CONFIG.featureProbabilities[f];
    // Capping at three features lowers every rate a little.
    assert.ok(rate > p * 0.75 && rate < p + 0.03, `${f}: rate ${rate.toFixed(3)} vs p ${p}`);
  }
});

test('sampleFeatures never exceeds maxFeatures even when every coin says yes', () => {
  const all = { ...DEFAULT_GENERATOR_CONFIG, featureProbabilities: { Dialogue: 1, Twist: 1, BadEnding: 1, MoralValue: 1, Foreshadowing: 1, Conflict: 1 } };
  const rng = new Rng(3);
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const f = sampleFeatures(rng, all);
    assert.equal(f.length, 3);
    seen.add(f.join());
  }
  assert.ok(seen.size > 10, 'the dropped features should vary');
});

test('every feature has several realisations, each with varied wording', () => {
  const minRealisations: Record<string, number> = { Twist: 6, Foreshadowing: 5, Conflict: 5, BadEnding: 5, MoralValue: 4, Dialogue: 10 };
  for (const f of FEATURES) {
    const ids = new Set(corpus.filter((s) => s.features.includes(f)).map((s) => s.realisations[f]));
    assert.ok(!ids.has(undefined), `${f} story without a realisation`);
    assert.ok(ids.size >= minRealisations[f], `${f}: only ${ids.size} realisations`);
  }
  // Within one realisation the sentences still vary: count distinct story sentences per twist kind.
  for (const id of ['twist:sound', 'twist:gift', 'twist:race', 'foreshadowing:weather', 'conflict:tug']) {
    const sentences = new Set<string>();
    const stories = corpus.filter((s) => Object.values(s.realisations).includes(id));
    for (const s of stories) for (const x of splitSentences(s.story)) sentences.add(x);
    assert.ok(stories.length > 20 && sentences.size > stories.length * 5, `${id}: ${sentences.size} sentences in ${stories.length} stories`);
  }
});

test('Dialogue stories, and only they, contain quoted speech', () => {
  for (const s of corpus) {
    const quotes = (s.story.match(/"/g) ?? []).length;
    if (s.features.includes('Dialogue')) assert.ok(quotes >= 4 && quotes % 2 === 0, s.story);
    else assert.equal(quotes, 0, s.story);
  }
});

test('instruction words appear in the story; sentence is a quote-free sentence of it; summary is one sentence', () => {
  for (const s of corpus) {
    assert.equal(s.words.length, 3);
    for (const w of s.words) assert.match(s.story, new RegExp(`\\b${w}\\b`), `word ${w} missing`);
    assert.ok(s.story.includes(s.sentence) && !s.sentence.includes('"') && s.sentence.length > 0);
    assert.ok(s.summary.endsWith('.') && splitSentences(s.summary).length === 1, s.summary);
  }
});

test('BadEnding stories end sad; others end happily', () => {
  const happy = /happ|fun|best|friends|smile|together|glad|thankful|joyful|delighted|cheerful|calm|safe|warm inside|proud|excited/;
  for (const s of corpus.slice(0, 500)) {
    const last = s.story.split('\n\n').pop()!;
    if (s.features.includes('BadEnding')) assert.match(last, /sad|upset|lonely|scared|worried|angry|grumpy|sorry|tired|hurt|disappointed|tears|alone/);
    else if (!s.features.includes('MoralValue')) assert.match(last, happy, last);
  }
});

test('determinism: same seed same corpus; story i does not depend on corpus size', () => {
  const a = generateStories(11, 50);
  assert.deepEqual(a, corpus.slice(0, 50));
  assert.deepEqual(generateStories(11, 5, DEFAULT_GENERATOR_CONFIG, 40), corpus.slice(40, 45));
  const other = generateStories(12, 50);
  assert.notDeepEqual(other.map((s) => s.story), a.map((s) => s.story));
  assert.deepEqual(generateStory(Rng.derive(11, 'tinystories', 'story', 7)), corpus[7]);
});

test('speed: 2000 stories in a few hundred milliseconds (loose bound for shared CI)', () => {
  const t0 = performance.now();
  generateStories(99, 2000);
  const ms = performance.now() - t0;
  assert.ok(ms < 4000, `${ms.toFixed(0)} ms`); // loose: CI machines are shared
});
