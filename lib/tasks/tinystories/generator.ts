/**
 * Procedural TinyStories-like corpus: short children's stories whose six features are realised by
 * plot structure (realisations.ts), each with its instruction words, features, a one-sentence summary
 * and one sentence from the story. Story i depends only on (seed, i), so corpora of different sizes
 * share their prefix and any story can be regenerated alone.
 */
import { Rng } from '../../engine/rng';
import { Context, article, capitalise, fill } from './template';
import * as L from './lexicon';
import {
  BAD_ENDINGS, Beat, CONFLICT_REALISERS, FORESHADOWING_REALISERS, HAPPY_ENDINGS, MORALS, SPEECH,
  TWIST_REALISERS,
} from './realisations';
import { FEATURES, Feature, TinyStory, splitSentences } from './types';

export interface StoryGeneratorConfig {
  /**
   * Independent probability of each feature before capping at maxFeatures. spec/tinystories.md gives
   * no real frequencies; these are our choice (see docs/tinystories-data.md): Dialogue common,
   * BadEnding rare, Twist frequent enough that the Twist-only recovery set is not tiny.
   */
  featureProbabilities: Readonly<Record<Feature, number>>;
  /** The real data has 0-3 features per story. */
  maxFeatures: number;
  minWords: number;
  maxWords: number;
}

export const DEFAULT_GENERATOR_CONFIG: StoryGeneratorConfig = {
  featureProbabilities: {
    Dialogue: 0.5, Twist: 0.25, BadEnding: 0.12, MoralValue: 0.3, Foreshadowing: 0.2, Conflict: 0.3,
  },
  maxFeatures: 3,
  minWords: 80,
  maxWords: 250,
};

/** A generated story plus how it was built (which realisation of each feature). */
export interface GeneratedStory extends TinyStory {
  realisations: Partial<Record<Feature, string>>;
}

const PERSON_ADJECTIVES = [
  'happy', 'kind', 'brave', 'curious', 'funny', 'gentle', 'clever', 'shy', 'silly', 'friendly', 'quiet', 'busy',
  'sleepy', 'careful', 'proud', 'polite', 'smart', 'strong', 'cheerful', 'jolly', 'eager', 'playful', 'helpful',
  'honest', 'generous', 'patient', 'lucky', 'wild', 'calm', 'lazy', 'hungry', 'stubborn', 'bossy', 'grumpy',
];
const THING_ADJECTIVES = L.ADJECTIVES.filter((a) => !PERSON_ADJECTIVES.includes(a)).concat(L.COLOURS, L.SIZE_ADJECTIVES);
const PET_NAMES = ['Spot', 'Buddy', 'Fluffy', 'Whiskers', 'Patch', 'Coco', 'Pip', 'Biscuit', 'Rusty', 'Bubbles', 'Socks', 'Peanut'];

/** Sentences with no feature content; a story draws several to reach its length. */
const FILLERS = [
  'The {place} was full of {scenery}.',
  '{Hero} [looked at|counted] the {scenery} [by the path|near the water|all around].',
  '{Friend} [found|picked up] {a_adjThing} {adjThing} {thing} and showed it to {Hero}.',
  'They [ran|skipped|walked|raced] [along the path|up the hill|across the grass] [together|side by side].',
  'They sat [on a bench|under a tree|on a blanket] and ate some {food}.',
  '[The wind|A soft breeze] [moved|shook] the {scenery2} [gently|back and forth].',
  '{Pet} ran [after them|around in circles] and [jumped|played] [happily|with joy].',
  '{Hero} [played|had fun] with {his} {toy} [for a long time|all morning|until lunch].',
  'A [little|small] {animal2} [went|came|hurried] past them.',
  '{Friend} [showed|taught] {Hero} how to {verb2}.',
  'They [made|built] a [little|big] [house|castle|tower] out of [sticks|sand|leaves|blocks].',
  '{Hero} [sang|hummed] a [happy|little] song [about the {scenery}|as they walked].',
  'The [{weather}|bright] sky made everyone feel {good}.',
  '{Hero} wore {his} [favorite|new] {colour} [hat|coat|boots|scarf|shirt].',
  '[Birds sang|Bees buzzed|Leaves danced] [in the trees|all around them|over their heads].',
  'They met {a_animal3} {animal3} [who waved at them|by the path|near a big {thing2}].',
  '{Hero} [smelled|picked] a [pretty|sweet] flower and gave it to {Friend}.',
  'The [sun|light] made the {scenery2} [shine|sparkle|glow].',
  '{Friend} [laughed|giggled] and [spun around|clapped {fhis} hands].',
  'They [played|tried] {game} [for a while|with some other kids].',
  '{Hero} [climbed|sat] on a [big|flat] rock to [look around|rest].',
  'The {colour} {thing} [lay|sat] [in the grass|by the water|under a bush].',
  '{Adult} [waved|smiled] at them from [far away|the window|the gate].',
  'Far away, a [train|truck|bus|tractor] [whistled|honked|rumbled] [over the bridge|down the road].',
  'The air smelled of [rain|grass|pine trees|fresh bread|the sea|cinnamon].',
  '{Hero} [tied|fixed|buttoned] {his} [shoes|coat|bag|jacket] and [looked|got] ready.',
  '[Clouds|Kites|Balloons|Bubbles] [floated|drifted] [high|slowly] across the sky.',
  'A [farmer|baker|mail carrier|fisherman|painter|doctor|police officer] [said hello|waved] as they passed.',
  'They [splashed|waded|dipped their toes] in a [cool|shallow|sparkling] [stream|puddle|creek].',
  '{Friend} [whispered|told {Hero}] a [funny|silly] joke, and they [giggled|laughed] [a lot|loudly].',
  'They [gathered|collected] [pebbles|acorns|shells|leaves|twigs] and put them in a [bucket|basket|jar].',
  '[Squirrels|Chipmunks|Rabbits] [chased each other|nibbled on nuts] [near|under] the [oak|maple|willow|pine|cherry] trees.',
  'The [grass|ground|moss] was [soft|wet|warm] under their [feet|paws].',
  '{Hero} [drew|painted] a picture of the {scenery} with {his} {colour} [crayon|pencil|paint].',
  'They [rested|napped] in the [shade|sun] [for a little while|until they felt better].',
  'In the distance, they could see [mountains|a windmill|a lighthouse|the city|a rainbow|a big red barn].',
  '[Some|A few] [ducks|geese|swans|seagulls|pigeons] [quacked|honked|flapped their wings] [nearby|by the water].',
  '{Hero} [wiggled {his} toes|stretched {his} arms|yawned] and [grinned|giggled].',
];

interface Cast {
  ctx: Context;
  hero: { name: string; kind: string; adj: string };
  verb: string;
  toy: string;
  place: string;
  food: string;
}

function pronouns(gender: 'she' | 'he', prefix: string): Record<string, string> {
  return gender === 'she'
    ? { [`${prefix}he`]: 'she', [`${prefix}him`]: 'her', [`${prefix}his`]: 'her' }
    : { [`${prefix}he`]: 'he', [`${prefix}him`]: 'him', [`${prefix}his`]: 'his' };
}

function castCharacters(rng: Rng): Cast {
  const isAnimal = rng.bernoulli(0.35);
  const gender: 'she' | 'he' = rng.bernoulli(0.5) ? 'she' : 'he';
  const kind = isAnimal ? rng.pick(L.ANIMAL_HEROES) : gender === 'she' ? 'girl' : 'boy';
  const name = rng.pick(gender === 'she' ? L.GIRL_NAMES : L.BOY_NAMES);
  const fGender: 'she' | 'he' = rng.bernoulli(0.5) ? 'she' : 'he';
  let friend = rng.pick(fGender === 'she' ? L.GIRL_NAMES : L.BOY_NAMES);
  while (friend === name) friend = rng.pick(fGender === 'she' ? L.GIRL_NAMES : L.BOY_NAMES);
  const friendKind = isAnimal ? rng.pick(L.ANIMAL_HEROES) : fGender === 'she' ? 'girl' : 'boy';
  const adult = rng.pick(L.ADULTS);
  const adj = rng.pick(PERSON_ADJECTIVES);
  const activity = rng.pick(L.ACTIVITIES);
  let verb2 = rng.pick(L.ACTIVITIES);
  while (verb2.verb === activity.verb) verb2 = rng.pick(L.ACTIVITIES);
  const toy = rng.pick(L.TOYS);
  const place = rng.pick(L.PLACES);
  const food = rng.pick(L.FOODS);
  const petKind = rng.pick(L.PETS);
  const petName = rng.pick(PET_NAMES);
  const animal3 = rng.pick(L.ANIMAL_HEROES);
  const adjThing = rng.pick(THING_ADJECTIVES);
  const adjThing2 = rng.pick(THING_ADJECTIVES);
  const ctx: Record<string, string> = {
    Hero: name, kind, adjPerson: adj, a_adj: article(adj),
    Friend: friend, friendKind, a_friendKind: article(friendKind),
    Adult: adult.name,
    petName, pet: `${petName} the ${petKind}`, petKind,
    place, home: rng.pick(L.HOMES), toy, food, thing: rng.pick(L.TOYS), thing2: rng.pick(L.TOYS),
    adjThing, a_adjThing: article(adjThing), adjThing2, a_adjThing2: article(adjThing2), colour: rng.pick(L.COLOURS),
    verb: activity.verb, vrest: activity.rest, verb2: verb2.verb,
    time: rng.pick(L.TIMES), weather: rng.pick(L.WEATHER),
    scenery: rng.pick(L.SCENERY), scenery2: rng.pick(L.SCENERY),
    animal2: rng.pick(L.SMALL_ANIMALS), animal3, a_animal3: article(animal3),
    game: rng.pick(L.GAMES),
    good: rng.pick(L.FEELINGS_GOOD), sad: rng.pick(L.FEELINGS_BAD),
    ...pronouns(gender, ''), ...pronouns(fGender, 'f'), ...pronouns(adult.gender, 'a'),
  };
  return { ctx, hero: { name, kind, adj }, verb: activity.verb, toy, place, food };
}

const OPENINGS = [
  'Once upon a time, there was {a_adj} {adjPerson} {kind} named {Hero}.',
  'Once upon a time, in {a_adjThing2} {adjThing2} {home} near the {place}, there lived {a_adj} {adjPerson} {kind} named {Hero}.',
  'There once was {a_adj} {adjPerson} {kind} called {Hero}.',
  '{Hero} was {a_adj} {adjPerson} little {kind} who lived in a {home}.',
  'One {time}, {a_adj} {adjPerson} {kind} named {Hero} woke up early.',
];
const TRAITS = [
  '{He} loved to {verb} {vrest}.',
  '{Hero} liked to {verb} more than anything.',
  'More than anything, {Hero} loved to {verb}.',
  'Every day, {Hero} wanted to {verb} {vrest}.',
];
const FRIENDS = [
  '{His} best friend was {a_friendKind} {friendKind} named {Friend}.',
  '{Hero} had a friend called {Friend}, who lived [next door|down the road|across the field].',
  '{Friend} was {Hero}\'s [best|oldest|favorite] friend.',
];
const PETS = ['{Hero} also had a [pet|little] {petKind} named {petName}.', '{Pet} [always|often] followed {Hero} around.'];
const OUTINGS = [
  '[One day|One {time}|The next morning], {Hero} and {Friend} went to the {place}.',
  '{Hero} asked {Friend} to come to the {place}, and they [went together|set off right away].',
  '[On a {weather} day|One {weather} {time}], they [walked|ran|skipped] to the {place} together.',
];

function wordCount(sentences: readonly string[]): number {
  let n = 0;
  for (const s of sentences) n += s.split(/\s+/).filter((w) => w.length > 0).length;
  return n;
}

/** Draw the feature set: independent coins, then drop random ones down to maxFeatures. */
export function sampleFeatures(rng: Rng, config: StoryGeneratorConfig): Feature[] {
  const chosen = FEATURES.filter((f) => rng.bernoulli(config.featureProbabilities[f]));
  while (chosen.length > config.maxFeatures) chosen.splice(rng.int(0, chosen.length), 1);
  return chosen;
}

function pickMoral(rng: Rng, features: readonly Feature[]) {
  const pool = features.includes('Conflict')
    ? L.VIRTUES.filter((v) => ['sharing', 'forgiveness', 'teamwork', 'courage'].includes(v.virtue))
    : features.includes('BadEnding')
      ? L.VIRTUES.filter((v) => ['care', 'listening', 'patience'].includes(v.virtue))
      : L.VIRTUES;
  return rng.pick(pool);
}

/** Join summary clauses: "A, B, C and D." */
function joinClauses(parts: readonly string[]): string {
  if (parts.length === 1) return `${parts[0]}.`;
  return `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}.`;
}

function buildOnce(rng: Rng, features: readonly Feature[], config: StoryGeneratorConfig): GeneratedStory | null {
  const cast = castCharacters(rng);
  const has = (f: Feature) => features.includes(f);
  const dialogue = has('Dialogue');
  const badEnding = has('BadEnding');
  const opts = { dialogue, badEnding };
  const realisations: Partial<Record<Feature, string>> = {};

  const virtue = pickMoral(rng, features);
  const ctx: Context = { ...cast.ctx, lesson: virtue.lesson, always: virtue.always };

  // Plot beats: set-ups go into the second paragraph, pay-offs into the third.
  const beats: Beat[] = [];
  const addBeat = (f: Feature, realisers: readonly ((c: Context, r: Rng, o: typeof opts) => Beat)[]) => {
    const beat = rng.pick(realisers)(ctx, rng, opts);
    realisations[f] = beat.id;
    beats.push(beat);
  };
  if (has('Foreshadowing')) addBeat('Foreshadowing', FORESHADOWING_REALISERS);
  if (has('Twist')) addBeat('Twist', TWIST_REALISERS);
  if (has('Conflict')) addBeat('Conflict', CONFLICT_REALISERS);
  const early = rng.shuffle(beats.slice());
  const late = rng.shuffle(beats.slice());

  const opening = [fill(rng.pick(OPENINGS), ctx, rng), fill(rng.pick(TRAITS), ctx, rng), fill(rng.pick(FRIENDS), ctx, rng)];
  if (rng.bernoulli(0.4)) opening.push(fill(rng.pick(PETS), ctx, rng));
  const setting = [fill(rng.pick(OUTINGS), ctx, rng), ...early.flatMap((b) => b.early)];
  const middle = late.flatMap((b) => b.late);

  const ending: string[] = [];
  if (badEnding) {
    const bad = rng.pick(BAD_ENDINGS);
    realisations.BadEnding = bad.id;
    ending.push(...bad.text.map((t) => fill(t, ctx, rng)));
  } else {
    ending.push(...rng.pick(HAPPY_ENDINGS).map((t) => fill(t, ctx, rng)));
  }
  if (has('MoralValue')) {
    const moral = rng.pick(MORALS);
    realisations.MoralValue = moral.id;
    ending.push(fill(dialogue && moral.spoken && rng.bernoulli(0.5) ? moral.spoken : moral.text, ctx, rng));
  }

  // Dialogue: at least two lines of speech spread over the story (plus any in the beats).
  if (dialogue) {
    const speeches = rng.shuffle(SPEECH.slice()).slice(0, rng.int(2, 4));
    realisations.Dialogue = speeches.map((s) => s.id).join('+');
    const sections = [opening, setting, middle, ending];
    speeches.forEach((s, k) => {
      const section = sections[(k + rng.int(0, 2)) % sections.length];
      // Never put speech first in the opening or last in the ending: keep the frame.
      // Speech never comes before the opening's introductions or the outing sentence.
      const lo = section === opening ? section.length : section === setting ? 1 : 0;
      const hi = section === ending ? section.length : section.length + 1;
      section.splice(rng.int(lo, Math.max(hi, lo + 1)), 0, fill(s.text, ctx, rng));
    });
  }

  // Filler sentences up to a target length; they go where no set-up/pay-off order can be broken.
  const target = rng.int(config.minWords + 10, Math.min(config.maxWords - 30, 200));
  const fillers = rng.shuffle(FILLERS.slice());
  const all = () => [...opening, ...setting, ...middle, ...ending];
  let k = 0;
  while (wordCount(all()) < target && k < fillers.length) {
    const sentence = fill(fillers[k++], ctx, rng);
    if (rng.bernoulli(0.5)) setting.splice(1, 0, sentence);
    else middle.splice(rng.int(0, middle.length + 1), 0, sentence);
  }
  const n = wordCount(all());
  if (n < config.minWords || n > config.maxWords) return null;

  const paragraphs = [opening, setting, middle, ending].filter((p) => p.length > 0).map((p) => p.join(' '));
  const story = paragraphs.join('\n\n');
  if (!dialogue && story.includes('"')) throw new Error('generator bug: a non-Dialogue story has a quote');

  // Instruction words: a noun, a verb and an adjective that appear verbatim in the story.
  const nouns = [cast.toy, cast.place, cast.food].filter((w) => !w.includes(' ') && new RegExp(`\\b${w}\\b`).test(story));
  const noun = nouns.length > 0 ? rng.pick(nouns) : cast.hero.kind; // every opening names the kind
  const words = rng.shuffle([noun, cast.verb, cast.hero.adj]);

  const summaryParts = [
    fill(`${capitalise(article(cast.hero.adj))} {adjPerson} {kind} named {Hero} [goes to|visits|spends the day at] the {place} with {Friend}`, ctx, rng),
    ...beats.map((b) => b.summary),
  ];
  if (badEnding) summaryParts.push(fill(BAD_ENDINGS.find((b) => b.id === realisations.BadEnding)!.summary, ctx, rng));
  if (has('MoralValue')) summaryParts.push(`learns about ${virtue.virtue}`);

  const plain = splitSentences(story).filter((s) => !s.includes('"'));
  return {
    story,
    words,
    features: [...features],
    summary: joinClauses(summaryParts),
    sentence: rng.pick(plain),
    source: 'procedural',
    realisations,
  };
}

/** One story from its own random stream. Retries (same stream) until the length fits. */
export function generateStory(rng: Rng, config: StoryGeneratorConfig = DEFAULT_GENERATOR_CONFIG): GeneratedStory {
  const features = sampleFeatures(rng, config);
  for (let attempt = 0; attempt < 50; attempt++) {
    const s = buildOnce(rng, features, config);
    if (s !== null) return s;
  }
  throw new Error(`could not fit a story with features [${features}] into ${config.minWords}-${config.maxWords} words`);
}

/** Story i is drawn from Rng.derive(seed, 'tinystories', 'story', start + i). */
export function generateStories(
  seed: number,
  count: number,
  config: StoryGeneratorConfig = DEFAULT_GENERATOR_CONFIG,
  start = 0,
): GeneratedStory[] {
  const out: GeneratedStory[] = [];
  for (let i = start; i < start + count; i++) out.push(generateStory(Rng.derive(seed, 'tinystories', 'story', i), config));
  return out;
}
