/**
 * A real-format fixture with an open vocabulary: procedural stories in which a share of the longer words is swapped
 * for invented ones drawn from a Zipf law over 5,000 syllable-built words, as real TinyStories text has a long tail
 * of names and rare words the procedural lexicon lacks. Tokenizer tests and `wraplab tokenizers --source` use it.
 */
import { Rng } from '../../lib/engine/rng';
import { generateStories, type TinyStory } from '../../lib/tasks/tinystories';

const ONSETS = ['b', 'br', 'ch', 'd', 'f', 'g', 'gl', 'k', 'l', 'm', 'n', 'p', 'pl', 'r', 's', 'sh', 't', 'tr', 'v', 'z'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'oo', 'ee', 'ai'];
const CODAS = ['', '', 'n', 'm', 'r', 'x', 'p', 'nd', 'st'];

function inventedWords(n: number, rng: Rng): string[] {
  const out = new Set<string>();
  while (out.size < n) {
    let w = '';
    for (let s = rng.int(2, 4); s > 0; s--) w += ONSETS[rng.int(0, ONSETS.length)] + VOWELS[rng.int(0, VOWELS.length)] + CODAS[rng.int(0, CODAS.length)];
    out.add(w);
  }
  return [...out];
}

export function openVocabularyStories(count: number, seed: number, rate = 0.08): TinyStory[] {
  const rng = Rng.derive(seed, 'open-vocabulary');
  const tail = inventedWords(5000, rng);
  // Zipf(1) over the tail by inverse CDF.
  const cdf: number[] = [];
  let total = 0;
  for (let i = 0; i < tail.length; i++) cdf.push((total += 1 / (i + 1)));
  const draw = () => {
    const u = rng.next() * total;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return tail[lo];
  };
  return generateStories(seed, count).map((s) => ({
    ...s,
    story: s.story.replace(/\b[a-z]{4,}\b/g, (w) => (rng.next() < rate ? draw() : w)),
  }));
}
