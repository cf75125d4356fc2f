/**
 * How each story feature is realised as plot. A realisation returns sentences for the early part of
 * the story (a set-up), sentences for the late part (a pay-off) and a summary clause.
 *
 * Twist and Foreshadowing are built as a matched pair so that they look alike on the surface:
 *  - both plant an EXPECTATION early: a belief sentence ("X thought / was sure / believed / guessed /
 *    expected ... <value>");
 *  - Foreshadowing later CONFIRMS it ("... just as X had thought");
 *  - Twist later REVERSES it: a sentence that negates the believed value ("it was not a <value>",
 *    "there was no <value>", "<who> had not <value>") and reveals something else.
 * The exact judge (judge.ts) decides Twist by that structure: a belief followed by a negation of one
 * of its content words. Non-twist realisations are written so that they never negate a believed word;
 * tests check this on thousands of stories.
 */
import { Rng } from '../../engine/rng';
import { Context, article, fill } from './template';
import * as L from './lexicon';

export interface Beat {
  /** Which realisation produced this beat (for variety statistics and debugging). */
  id: string;
  early: string[];
  late: string[];
  /** A clause for the one-sentence summary, e.g. "finds out the noise was a kitten". */
  summary: string;
}

export interface BeatOptions {
  dialogue: boolean;
  badEnding: boolean;
}

type Realiser = (ctx: Context, rng: Rng, opts: BeatOptions) => Beat;

/** Fill each template of a list with the same context. */
function lines(templates: readonly string[], ctx: Context, rng: Rng): string[] {
  return templates.map((t) => fill(t, ctx, rng));
}

function pickOther<T>(rng: Rng, items: readonly T[], not: T): T {
  for (;;) {
    const x = rng.pick(items);
    if (x !== not) return x;
  }
}

// ---------------------------------------------------------------- Twist: expectation, then reversal

const twistSound: Realiser = (base, rng, { dialogue }) => {
  const ctx = {
    ...base,
    sound: rng.pick(L.SOUNDS),
    spot: rng.pick(L.SPOTS),
    scary: rng.pick(L.SCARY_THINGS),
    critter: rng.pick(L.SMALL_ANIMALS),
  };
  const alarm = dialogue
    ? '"[Oh no|Help|Run], a {scary}!" [cried|shouted|whispered] {Hero}.'
    : '{Hero} [hid behind {Friend}|held {his} breath|felt {his} heart beat fast].';
  const reveal = rng.pick([
    'But it was not a {scary} at all. It was [just|only] a [little|tiny|fluffy] {critter} [playing with a leaf|looking for food|chasing its tail].',
    'There was no {scary} there. A [little|tiny|sleepy] {critter} [sat|was hiding] in the {spot}[, blinking its eyes|, looking scared].',
    dialogue
      ? '"It is not a {scary}, it is a {critter}!" [laughed|giggled] {Hero}.'
      : 'It was not a {scary}. It was a [small|tiny] {critter} who [wanted to play|was lost].',
  ]);
  return {
    id: 'twist:sound',
    early: lines([
      '[One {time}|That {time}|Later that day], {Hero} heard a [loud|strange|soft|spooky] {sound} sound [from|behind|under] the {spot}.',
      '{He} [thought|was sure|believed] it was a [big|scary|mean|hungry] {scary}.',
      alarm,
    ], ctx, rng),
    late: lines([
      '{Hero} [took a deep breath|held {Friend}\'s hand] and [tiptoed|crept|walked slowly] to the {spot}.',
      reveal,
      '{Hero} [smiled|laughed] and [petted|waved at] the {critter}.',
    ], ctx, rng),
    summary: fill('[hears|is scared of] a {sound} sound that {he} thinks is a {scary}, but it turns out to be a {critter}', ctx, rng),
  };
};

const twistGift: Realiser = (base, rng, { dialogue }) => {
  const hoped = rng.pick(L.GIFTS);
  const ctx = { ...base, hoped, got: pickOther(rng, L.GIFTS, hoped) };
  const reveal = rng.pick([
    'But when {he} opened it, there was no {hoped}. Inside was a {got}[ and a little note|].',
    '{He} tore off the paper. It was not a {hoped} at all. It was a {got}!',
    dialogue ? '"This is not a {hoped}, it is a {got}!" said {Hero}.' : 'It was not a {hoped}, but a {got}.',
  ]);
  return {
    id: 'twist:gift',
    early: lines([
      '[On {his} birthday|One {time}], {Adult} gave {Hero} a [big|huge|small] box with a [red|blue|gold] bow.',
      '{Hero} [was sure|guessed|thought|believed] there was a {hoped} inside[, because {he} had asked for one|].',
      '{He} [shook the box|held the box close] and [smiled|waited].',
    ], ctx, rng),
    late: lines([reveal, '{Hero} [looked at it for a long time|turned it over in {his} hands].'], ctx, rng),
    summary: fill('[expects|hopes for] a {hoped} in a gift box but finds a {got}', ctx, rng),
  };
};

const twistNeighbour: Realiser = (base, rng, { dialogue }) => {
  const n = rng.pick(L.NEIGHBOURS);
  const ctx = {
    ...base,
    neighbour: n.name,
    nhe: n.gender,
    nhis: n.gender === 'she' ? 'her' : 'his',
    nadj: rng.pick(['mean', 'grumpy', 'scary', 'nasty']),
  };
  const reveal = dialogue
    ? '"[I found your {toy}!|Is this yours?]" {neighbour} said [softly|with a smile]. {Nhe} was not {nadj} at all; {nhe} was [just shy|very kind|only lonely].'
    : '{Neighbour} gave it back with a [big smile|plate of cookies]. {Nhe} was not {nadj} at all; {nhe} was [just shy|very kind|only lonely].';
  return {
    id: 'twist:neighbour',
    early: lines([
      '[Next door|Down the street|Near the {place}] lived {neighbour}.',
      '[All the kids|Everyone|{Hero} and {Friend}] thought {nhe} was [very|] {nadj}.',
      '{Neighbour} [always wore a dark coat|hardly ever smiled|always stayed inside].',
    ], ctx, rng),
    late: lines([
      'One day, {Hero}\'s {toy} [flew|rolled|bounced] over {nhis} fence.',
      reveal,
      '[After that|From then on], {Hero} visited {neighbour} [every week|often].',
    ], ctx, rng),
    summary: fill('[thinks|believes] {neighbour} is {nadj}, but learns {nhe} is kind', ctx, rng),
  };
};

const twistRace: Realiser = (base, rng, { dialogue }) => {
  const r = rng.pick(L.RACERS);
  const ctx = { ...base, fast: r.fast, slow: r.slow };
  const reveal = rng.pick([
    'But the {fast} did not win. It stopped to [nap|eat|show off] under a tree, and the {slow} crossed the line first.',
    'In the end, the {slow} won, not the {fast}!',
    dialogue
      ? '"The {fast} did not win!" shouted {Hero}. The {slow} had [kept going|never stopped] and won.'
      : 'The {fast} [got tired|ran the wrong way] and did not win. The slow {slow} won the race.',
  ]);
  return {
    id: 'twist:race',
    early: lines([
      '[One {time}|That week], the animals had a race [at|in] the {place}.',
      '[Everyone|All the animals|{Hero}] [expected|was sure|thought] the {fast} would win[ because it was so fast|].',
      '{Hero} and {Friend} [cheered|watched] from [the side|a big rock].',
    ], ctx, rng),
    late: lines([reveal, 'Everyone [clapped|cheered] for the {slow}.'], ctx, rng),
    summary: fill('watches a race where everyone expects the {fast} to win, but the {slow} wins', ctx, rng),
  };
};

const twistDream: Realiser = (base, rng) => {
  const dream = rng.pick(L.DREAMS);
  const words = dream.split(' ');
  const ctx = { ...base, dream, doing: words[0], dreamThing: words[words.length - 1] };
  const reveal = rng.pick([
    'Then {Hero} opened {his} eyes. {He} was not {doing} at all. {He} was in {his} [warm|cozy|own] bed.',
    '[Suddenly|Then] {Hero} woke up. There was no {dreamThing}; it had all been a dream.',
    '{Hero} blinked. {He} was not {doing}. {He} was in {his} bed, and {Pet} was licking {his} face.',
  ]);
  return {
    id: 'twist:dream',
    early: lines([
      '[That night|One {time}], {Hero} [found|saw] a [magic door|big bubble|golden feather], and [all at once|suddenly] {he} was {dream}.',
      '{He} [was sure|believed|thought] {he} was really {dream}.',
      'It was the [best|most exciting] adventure ever.',
    ], ctx, rng),
    late: lines([reveal, '{Hero} [smiled|laughed] and [hugged {his} pillow|told {Adult} all about it].'], ctx, rng),
    summary: fill('[goes on|has] an adventure {dream} that turns out to be a dream', ctx, rng),
  };
};

const twistCulprit: Realiser = (base, rng, { dialogue }) => {
  const ctx = { ...base, hideSpot: rng.pick(L.SPOTS) };
  const reveal = dialogue
    ? '"I have not taken your {toy}," said {Friend}. [Then they saw|Just then they saw] {pet} [digging|sleeping] by the {hideSpot}, with the {toy}!'
    : rng.pick([
      'But {Friend} had not taken it. {Pet} had [hidden|buried] it [under|behind] the {hideSpot}!',
      '{Friend} had not taken it at all. [The wind had blown|{Pet} had carried] it to the {hideSpot}.',
    ]);
  return {
    id: 'twist:culprit',
    early: lines([
      'One {time}, {Hero} [looked for|went to get] {his} {toy}, but it was gone.',
      '{He} [thought|guessed|was sure] that {Friend} had taken it.',
      '{Hero} [felt cross|frowned] and [stopped talking to|walked away from] {Friend}.',
    ], ctx, rng),
    late: lines([reveal, '{Hero} said sorry to {Friend}, and they [hugged|played together again].'], ctx, rng),
    summary: fill('[thinks|is sure] {Friend} took {his} {toy}, but {pet} had it', ctx, rng),
  };
};

export const TWIST_REALISERS: readonly Realiser[] = [
  twistSound, twistGift, twistNeighbour, twistRace, twistDream, twistCulprit,
];

// ---------------------------------------------------- Foreshadowing: expectation, then confirmation

const foreWeather: Realiser = (base, rng) => {
  const ctx = { ...base };
  return {
    id: 'foreshadowing:weather',
    early: lines([
      '{Hero} [saw|noticed] [dark|gray|heavy] clouds [over|above] the {place}.',
      '{He} thought it [might|would] rain [soon|later].',
    ], ctx, rng),
    late: lines([
      '[Soon|Later|After a while], [big|cold] drops of rain [began|started] to fall, just as {Hero} had [thought|guessed].',
      '{Hero} and {Friend} [ran under a tree|hurried home|put on their hoods].',
    ], ctx, rng),
    summary: fill('sees dark clouds before the rain comes', ctx, rng),
  };
};

const foreLoose: Realiser = (base, rng) => {
  const ctx = { ...base, cart: rng.pick(['wagon', 'bike', 'cart', 'scooter', 'toy truck']) };
  return {
    id: 'foreshadowing:loose',
    early: lines([
      '{Hero} [saw|noticed] that one wheel of {his} {cart} was [loose|wobbly].',
      '{He} [guessed|thought|was sure] it would fall off [one day|soon].',
    ], ctx, rng),
    late: lines([
      '[Sure enough|Later that day], the wheel [fell off|came off] [on the bumpy path|near the {place}], as {Hero} had [guessed|feared].',
      '{Hero} and {Friend} [fixed it with a stick and some string|put it back together].',
    ], ctx, rng),
    summary: fill('notices a loose wheel that later falls off', ctx, rng),
  };
};

const foreMap: Realiser = (base, rng) => {
  const ctx = {
    ...base,
    mark: rng.pick(['old oak tree', 'big rock', 'blue gate', 'tall pine', 'broken well']),
    treasure: rng.pick(L.TREASURES),
  };
  return {
    id: 'foreshadowing:map',
    early: lines([
      '{Hero} found an old map [in the attic|under a rock|in a bottle].',
      'It had a [red|big] X [next to|under] the {mark}. {He} [believed|guessed|was sure] there was treasure there.',
    ], ctx, rng),
    late: lines([
      '{Hero} [dug|looked] [under|next to] the {mark} and found a {treasure}, just as the map [said|showed].',
    ], ctx, rng),
    summary: fill('finds a map and then the treasure it marks', ctx, rng),
  };
};

const foreHandy: Realiser = (base, rng, { dialogue }) => {
  const h = rng.pick(L.HANDY_ITEMS);
  const ctx = { ...base, item: h.item, a_item: article(h.item), need: h.need, use: h.use };
  const advice = dialogue
    ? '"Take this {item}. You might need it," {Adult} said.'
    : '{Adult} told {him} that {he} might need it later.';
  return {
    id: 'foreshadowing:handy',
    early: lines([
      'Before they left, {Adult} gave {Hero} {a_item} {item}.',
      advice,
      '{Hero} thought that was [funny|strange|silly], but {he} [took it anyway|put it in {his} pocket].',
    ], ctx, rng),
    late: lines([
      '[Later|Soon], {need}. {Hero} was glad {he} had the {item}. It {use}.',
    ], ctx, rng),
    summary: fill('takes {a_item} {item} that turns out to be useful', ctx, rng),
  };
};

const foreTracks: Realiser = (base, rng) => {
  const ctx = { ...base, critter: rng.pick(L.SMALL_ANIMALS), ground: rng.pick(['mud', 'snow', 'sand', 'soft dirt']) };
  return {
    id: 'foreshadowing:tracks',
    early: lines([
      '{Hero} saw [tiny|little] footprints in the {ground}.',
      '{He} [guessed|believed|thought] a {critter} lived nearby.',
    ], ctx, rng),
    late: lines([
      '[Later|Soon|Then], a [little|shy] {critter} peeked out from the bushes, just as {Hero} had [guessed|thought].',
    ], ctx, rng),
    summary: fill('finds tiny footprints and then meets the {critter} that made them', ctx, rng),
  };
};

export const FORESHADOWING_REALISERS: readonly Realiser[] = [foreWeather, foreLoose, foreMap, foreHandy, foreTracks];

// --------------------------------------------------------------------------- Conflict

const conflictTug: Realiser = (ctx, rng, { dialogue, badEnding }) => ({
  id: 'conflict:tug',
  early: lines([
    '{Friend} wanted to play with the {toy} too.',
    dialogue ? '"It is mine!" [said|shouted] {Hero}.' : '{Hero} [said no|would not share].',
    'They [both pulled|pulled and pulled] on the {toy}[ and started to fight|, and nobody would let go].',
  ], ctx, rng),
  late: badEnding
    ? lines(['[Rip|Snap|Crack]! The {toy} broke in two, and they both [cried|stopped].'], ctx, rng)
    : lines(['[Then|At last] they [decided to take turns|played with it together], and [the fight was over|they were friends again].'], ctx, rng),
  summary: fill('fights with {Friend} over a {toy}', ctx, rng),
});

const conflictGame: Realiser = (base, rng, { dialogue, badEnding }) => {
  const g1 = rng.pick(L.GAMES);
  const ctx = { ...base, game1: g1, game2: pickOther(rng, L.GAMES, g1) };
  return {
    id: 'conflict:game',
    early: lines([
      '{Hero} wanted to play {game1}, but {Friend} wanted to play {game2}.',
      dialogue ? '"My game is better!" [said|yelled] {Friend}.' : 'They [argued|shouted at each other|got very cross].',
    ], ctx, rng),
    late: badEnding
      ? lines(['{Friend} [stomped off|went home], and {Hero} [had nobody to play with|sat alone].'], ctx, rng)
      : lines(['At last they played {game1} first and then {game2}, and [both had fun|everyone was happy].'], ctx, rng),
    summary: fill('argues with {Friend} about which game to play', ctx, rng),
  };
};

const conflictBully: Realiser = (base, rng, { dialogue, badEnding }) => {
  const ctx = { ...base, bully: rng.pick(['goat', 'crow', 'boy', 'dog', 'goose', 'crab']), Bully: rng.pick(['Rex', 'Spike', 'Bruno', 'Grub', 'Bolt']) };
  return {
    id: 'conflict:bully',
    early: lines([
      'A [big|rude|bossy] {bully} named {Bully} came and [grabbed|snatched] {Hero}\'s {toy}.',
      dialogue ? '"Go away, this is mine now!" said {Bully}.' : '{Bully} said the {place} was his and told them to go away.',
    ], ctx, rng),
    late: badEnding
      ? lines(['{Bully} [ran off|threw the {toy} into the water], and {Hero} [never saw it again|could only watch].'], ctx, rng)
      : lines(['{Hero} [stood tall|was brave] and asked {Bully} to give it back. {Bully} [said sorry|felt bad] and [gave it back|joined the game].'], ctx, rng),
    summary: fill('[stands up to|meets] a [bossy|rude] {bully} named {Bully}', ctx, rng),
  };
};

const conflictNature: Realiser = (base, rng, { badEnding }) => {
  const ctx = { ...base, force: rng.pick(['A strong wind', 'A big wave', 'A gust of wind', 'A busy river']) };
  return {
    id: 'conflict:nature',
    early: lines([
      '{force} [took|grabbed|carried] {Hero}\'s {toy} [into a tall tree|far away|onto a high rock].',
      '{Hero} [tried and tried|jumped and jumped], but {he} [could not|was too small to] reach it.',
    ], ctx, rng),
    late: badEnding
      ? lines(['{Hero} [tried again|waited a long time], but the {toy} [was gone for good|stayed out of reach].'], ctx, rng)
      : lines(['{Hero} and {Friend} [worked together|found a long stick|built a little ladder] and got the {toy} back.'], ctx, rng),
    summary: fill('[tries to get back|struggles to reach] a {toy} that the wind takes', ctx, rng),
  };
};

const conflictRule: Realiser = (base, rng, { dialogue, badEnding }) => {
  const ctx = { ...base, danger: rng.pick(['deep pond', 'busy road', 'old well', 'steep cliff', 'hot stove', 'thin ice']) };
  return {
    id: 'conflict:rule',
    early: lines([
      '{Adult} [said|told them] to stay away from the {danger}.',
      dialogue
        ? '"I want to see it [up close|anyway]!" said {Hero}, and {he} [went|ran] [closer|toward it].'
        : 'But {Hero} [wanted to go closer|did not listen] and [went|ran] toward it anyway.',
    ], ctx, rng),
    late: badEnding
      ? lines(['{Hero} [slipped|tripped] by the {danger} and [hurt {his} leg|got very hurt], and {Adult} was [upset|sad].'], ctx, rng)
      : lines(['{Adult} [called|came running], and {Hero} [stepped back|said sorry] just in time.'], ctx, rng),
    summary: fill('goes near the {danger} after being told to stay away', ctx, rng),
  };
};

export const CONFLICT_REALISERS: readonly Realiser[] = [
  conflictTug, conflictGame, conflictBully, conflictNature, conflictRule,
];

// --------------------------------------------------------------------------- Endings

export const BAD_ENDINGS: readonly { id: string; text: string[]; summary: string }[] = [
  { id: 'bad:lost', text: ['The {toy} was [lost|gone] and they never found it.', '{Hero} [went home|walked home] [feeling {sad}|with tears in {his} eyes].'], summary: 'loses {his} {toy} forever' },
  { id: 'bad:broken', text: ['[Then|Suddenly] the {toy} fell and broke into [many|little] pieces.', '[Nobody|Not even {Adult}] could fix it, and {Hero} was very {sad}.'], summary: 'ends up with a broken {toy}' },
  { id: 'bad:sick', text: ['That night, {Hero} ate too much {food} and got a [bad|big] tummy ache.', '{He} had to stay in bed [all the next day|for a long time] and felt {sad}.'], summary: 'gets sick at the end' },
  { id: 'bad:rain', text: ['[Then|Suddenly] a big storm came and [ruined the day|washed away everything].', 'Everyone went home wet and {sad}.'], summary: 'has {his} day ruined by a storm' },
  { id: 'bad:moved', text: ['The next day, {Friend} had to move far away.', '{Hero} [sat by the window|looked at the empty house] and felt {sad} and alone.'], summary: 'says goodbye when {Friend} moves away' },
];

export const HAPPY_ENDINGS: readonly string[][] = [
  ['[At the end of the day|In the evening|When the sun went down], {Hero} went home [tired but happy|with a big smile].', '{He} told {Adult} all about {his} [fun|great|wonderful] day.'],
  ['{Hero} and {Friend} [laughed|hugged|played] until it was time to go home.', 'It was the [best|happiest] day ever.'],
  ['That night, {Hero} [fell asleep|went to bed] [holding {his} {toy}|with a happy heart].', '{He} felt {good}.'],
  ['{Adult} made [warm|yummy] {food} for everyone.', 'They all [sat together|ate together] and felt {good}.'],
  ['[From then on|After that day], {Hero} and {Friend} were [the best of friends|always together].'],
];

// --------------------------------------------------------------------------- Moral value

export const MORALS: readonly { id: string; text: string; spoken?: string }[] = [
  { id: 'moral:learned', text: '{Hero} learned that {lesson}.' },
  { id: 'moral:told', text: '{Adult} [told|reminded] {him} that {lesson}.', spoken: '"Remember, {lesson}," {Adult} said [with a smile|softly].' },
  { id: 'moral:fromthen', text: 'From that day on, {Hero} always {always}, because {he} knew that {lesson}.' },
  { id: 'moral:story', text: 'The moral of the story is that {lesson}.' },
];

// --------------------------------------------------------------------------- Dialogue

/** Lines of speech that can go into the opening, the middle or the ending of a story. */
export const SPEECH: readonly { id: string; text: string }[] = [
  { id: 'speech:invite', text: '"Do you want to come to the {place} with me?" asked {Hero}. "Yes, [please|I would love to]!" said {Friend}.' },
  { id: 'speech:wow', text: '"[Wow|Look], [look at|see] the {scenery}!" said {Friend}. "They are so {adjThing}!"' },
  { id: 'speech:hungry', text: '"I am hungry," said {Hero}. "Let\'s eat some {food}," said {Friend}.' },
  { id: 'speech:plan', text: '"Let\'s {verb} [together|all day]!" said {Hero}. {Friend} [nodded|clapped {fhis} hands].' },
  { id: 'speech:thanks', text: '"Thank you for [playing with me|being my friend]," said {Hero}. "[Any time|You are welcome]," said {Friend}.' },
  { id: 'speech:careful', text: '"Be careful," said {Adult}. "[Okay|I will]," said {Hero}.' },
];
