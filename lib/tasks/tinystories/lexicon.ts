/**
 * Word lists for the procedural story generator. Kept apart from the plot logic so that the
 * vocabulary can grow without touching the grammar. Everything is plain, child-level English in the
 * spirit of TinyStories (GPT-written stories for 3-4 year olds).
 */

export interface CharacterKind {
  /** "girl", "bunny", ... as in "a little girl named Lily". */
  kind: string;
  /** Pronoun set: 'she' or 'he'. */
  gender: 'she' | 'he';
}

export const GIRL_NAMES = [
  'Lily', 'Mia', 'Sue', 'Amy', 'Emma', 'Anna', 'Lucy', 'Sara', 'Kate', 'Ella', 'Zoe', 'Ruby', 'Rose', 'Molly',
  'Daisy', 'Grace', 'Lola', 'Nora', 'Ivy', 'Jill', 'Hannah', 'Sophie', 'Chloe', 'Maya', 'Julia', 'Luna', 'Bella',
  'Olivia', 'Ava', 'Poppy', 'Tina', 'Jenny', 'Kitty', 'Pam', 'Jane', 'Lisa', 'Nina', 'Rita', 'Dot', 'Fern',
  'Hazel', 'Iris', 'June', 'Kim', 'Layla', 'May', 'Nell', 'Penny', 'Tess', 'Wendy',
];

export const BOY_NAMES = [
  'Tom', 'Ben', 'Max', 'Sam', 'Tim', 'Jack', 'Leo', 'Jake', 'Joe', 'Bob', 'Finn', 'Sid', 'Ted', 'Dan', 'Ollie',
  'Luke', 'Noah', 'Adam', 'Billy', 'Charlie', 'Danny', 'Eli', 'Frank', 'Gus', 'Harry', 'Henry', 'Jim', 'Kevin',
  'Liam', 'Mark', 'Ned', 'Oscar', 'Pete', 'Ray', 'Rex', 'Roy', 'Toby', 'Vic', 'Will', 'Zack', 'Ollie', 'Bruno',
  'Milo', 'Otto', 'Theo', 'Hugo', 'Felix', 'Jasper', 'Arlo', 'Cody',
];

/** Grown-ups the children talk to; `he`/`she` decides the pronoun. */
export const ADULTS: readonly { name: string; gender: 'she' | 'he' }[] = [
  { name: 'Mom', gender: 'she' }, { name: 'Dad', gender: 'he' }, { name: 'Grandma', gender: 'she' },
  { name: 'Grandpa', gender: 'he' }, { name: 'Aunt Jo', gender: 'she' }, { name: 'Uncle Bill', gender: 'he' },
  { name: 'Miss Rose', gender: 'she' }, { name: 'Mr. Green', gender: 'he' },
];

export const NEIGHBOURS: readonly { name: string; gender: 'she' | 'he' }[] = [
  { name: 'Mr. Brown', gender: 'he' }, { name: 'Mrs. Plum', gender: 'she' }, { name: 'old Mr. Gray', gender: 'he' },
  { name: 'Mrs. Hill', gender: 'she' }, { name: 'Mr. Stone', gender: 'he' }, { name: 'Miss Crow', gender: 'she' },
  { name: 'Farmer Joe', gender: 'he' }, { name: 'Mrs. Finch', gender: 'she' },
];

export const HUMAN_KINDS: readonly CharacterKind[] = [
  { kind: 'girl', gender: 'she' }, { kind: 'boy', gender: 'he' },
];

/** Animals that can be the hero of a story (they talk and play like children). */
export const ANIMAL_HEROES = [
  'bunny', 'puppy', 'kitten', 'bear', 'fox', 'mouse', 'duck', 'frog', 'pig', 'owl', 'squirrel', 'lamb', 'turtle',
  'bird', 'monkey', 'elephant', 'lion', 'tiger', 'giraffe', 'zebra', 'hippo', 'penguin', 'deer', 'hedgehog',
  'otter', 'beaver', 'raccoon', 'goat', 'cow', 'horse', 'chick', 'goose', 'seal', 'koala', 'panda', 'kangaroo',
  'badger', 'mole', 'weasel', 'skunk', 'camel', 'llama', 'moose', 'walrus', 'dolphin', 'whale', 'octopus', 'crab',
  'parrot', 'peacock', 'flamingo', 'ostrich', 'swan', 'robin', 'sparrow', 'woodpecker', 'bat', 'gorilla',
];

/** Small animals that show up in scenes (pets, surprises, neighbours of the forest). */
export const SMALL_ANIMALS = [
  'kitten', 'puppy', 'bunny', 'mouse', 'hedgehog', 'squirrel', 'duckling', 'frog', 'chick', 'baby bird',
  'ladybug', 'butterfly', 'snail', 'lizard', 'hamster', 'guinea pig', 'little goat', 'baby owl', 'worm', 'beetle',
];

export const PETS = ['dog', 'cat', 'puppy', 'kitten', 'parrot', 'hamster', 'rabbit', 'goldfish', 'pony', 'turtle'];

export const PLACES = [
  'park', 'forest', 'beach', 'garden', 'farm', 'lake', 'pond', 'river', 'meadow', 'hill', 'zoo', 'playground',
  'school', 'library', 'market', 'bakery', 'jungle', 'field', 'village', 'city', 'castle', 'cave', 'island',
  'backyard', 'barn', 'orchard', 'valley', 'mountain', 'harbor', 'camp', 'fair', 'circus', 'museum', 'store',
  'toy shop', 'swamp', 'desert', 'town square', 'tree house', 'attic', 'lighthouse', 'stable', 'greenhouse',
  'kitchen', 'station', 'airport', 'post office', 'aquarium', 'pier', 'dock', 'canyon', 'glacier',
  'vineyard', 'pasture', 'creek', 'waterfall', 'volcano', 'palace', 'workshop', 'theater', 'stadium', 'hospital',
];

export const HOMES = ['house', 'cottage', 'hut', 'nest', 'burrow', 'den', 'cabin', 'tree house', 'farmhouse', 'tent'];

/** Things a child owns and plays with. */
export const TOYS = [
  'ball', 'kite', 'doll', 'teddy bear', 'toy car', 'toy train', 'red wagon', 'bike', 'boat', 'balloon', 'drum',
  'puzzle', 'crayon', 'book', 'hat', 'scarf', 'blanket', 'robot', 'spinning top', 'yo-yo', 'jump rope', 'truck',
  'shovel', 'bucket', 'whistle', 'marble', 'block tower', 'puppet', 'flute', 'guitar', 'paint set', 'necklace',
  'bracelet', 'ribbon', 'sticker', 'lamp', 'clock', 'umbrella', 'backpack', 'coat', 'boot', 'mitten', 'shell',
  'rock', 'feather', 'stick', 'flower', 'leaf', 'acorn', 'pinecone', 'crown', 'wand', 'sword', 'shield',
  'telescope', 'camera', 'map', 'key', 'box', 'basket', 'jar', 'bell', 'rope', 'net', 'swing', 'slide', 'sled',
  'skateboard', 'scooter', 'jigsaw', 'rattle', 'trumpet', 'piano', 'violin', 'chalk', 'pencil', 'notebook',
  'kazoo', 'tambourine', 'xylophone', 'harp', 'banjo', 'glove', 'sock', 'sweater', 'pillow', 'quilt', 'mirror',
  'button', 'thimble', 'spoon', 'cup', 'teapot', 'bowl', 'plate', 'brush', 'comb', 'toothbrush', 'sponge', 'towel',
  'magnet', 'compass', 'lantern', 'candle', 'globe', 'trophy', 'medal', 'coin', 'wallet', 'purse', 'envelope',
  'postcard', 'poster', 'calendar', 'pinwheel', 'parachute', 'hammock', 'tricycle', 'wheelbarrow', 'rake',
  'watering can', 'birdhouse', 'fishing rod', 'paddle', 'canoe', 'raft', 'sailboat', 'helmet', 'goggles',
];

export const FOODS = [
  'apple', 'banana', 'cake', 'cookie', 'pie', 'sandwich', 'soup', 'bread', 'cheese', 'carrot', 'pear', 'grapes',
  'cherries', 'strawberries', 'honey', 'pizza', 'ice cream', 'candy', 'muffin', 'pancakes', 'corn', 'peas',
  'berries', 'lemonade', 'milk', 'juice', 'popcorn', 'nuts', 'seeds', 'jam', 'rice', 'noodles', 'eggs', 'plum',
  'peach', 'orange', 'melon', 'cupcake', 'donut', 'waffles', 'pretzel', 'biscuit', 'toast', 'oatmeal', 'yogurt',
  'butter', 'salad', 'potatoes', 'tomatoes', 'cucumber', 'broccoli', 'spinach', 'beans', 'lettuce', 'cereal',
  'pudding', 'fudge', 'lollipop', 'marshmallows', 'chocolate', 'watermelon', 'pineapple', 'coconut', 'mango',
  'kiwi', 'lime', 'blueberries', 'raspberries', 'dumplings', 'tacos', 'sausages', 'omelet', 'crackers', 'porridge',
];

export const SIZE_ADJECTIVES = ['big', 'little', 'small', 'tiny', 'huge', 'tall', 'long', 'short', 'round', 'giant'];
export const COLOURS = [
  'red', 'blue', 'green', 'yellow', 'pink', 'purple', 'orange', 'brown', 'white', 'black', 'gray', 'golden',
  'silver', 'shiny', 'sparkly',
];
/** Describing words for people and things; the generator puts one in every story. */
export const ADJECTIVES = [
  'happy', 'kind', 'brave', 'curious', 'funny', 'gentle', 'clever', 'shy', 'silly', 'friendly', 'quiet', 'loud',
  'busy', 'lazy', 'sleepy', 'hungry', 'careful', 'proud', 'polite', 'smart', 'strong', 'fast', 'slow', 'soft',
  'hard', 'warm', 'cold', 'wet', 'dry', 'clean', 'dirty', 'new', 'old', 'pretty', 'beautiful', 'fancy', 'plain',
  'bright', 'dark', 'sunny', 'windy', 'cozy', 'messy', 'neat', 'fluffy', 'fuzzy', 'smooth', 'rough', 'sticky',
  'sweet', 'sour', 'yummy', 'spicy', 'crunchy', 'juicy', 'fresh', 'heavy', 'light', 'deep', 'wide', 'narrow',
  'special', 'magic', 'lucky', 'wild', 'calm', 'cheerful', 'jolly', 'grumpy', 'bossy', 'stubborn', 'eager',
  'excited', 'playful', 'helpful', 'honest', 'generous', 'patient', 'bumpy', 'colorful', 'tidy', 'noisy',
  'sparkling', 'gigantic', 'mighty', 'wobbly', 'squishy', 'spotted', 'striped', 'furry', 'shaggy', 'rusty',
  'broken', 'empty', 'full', 'hollow', 'secret', 'hidden', 'ancient', 'modern', 'precious', 'rare', 'famous',
];

/** Base-form verbs for "loved to <verb>": the story always contains the base form verbatim. */
export const ACTIVITIES: readonly { verb: string; rest: string }[] = [
  { verb: 'run', rest: 'in the grass' }, { verb: 'jump', rest: 'in puddles' }, { verb: 'dance', rest: 'to music' },
  { verb: 'sing', rest: 'happy songs' }, { verb: 'draw', rest: 'pictures of the sky' },
  { verb: 'paint', rest: 'big flowers' }, { verb: 'swim', rest: 'in the water' }, { verb: 'climb', rest: 'trees' },
  { verb: 'read', rest: 'stories' }, { verb: 'bake', rest: 'cookies' }, { verb: 'build', rest: 'towers' },
  { verb: 'dig', rest: 'in the sand' }, { verb: 'fly', rest: 'kites' }, { verb: 'explore', rest: 'new places' },
  { verb: 'play', rest: 'hide and seek' }, { verb: 'skip', rest: 'down the path' }, { verb: 'hop', rest: 'on one foot' },
  { verb: 'twirl', rest: 'around and around' }, { verb: 'laugh', rest: 'with friends' },
  { verb: 'count', rest: 'the stars' }, { verb: 'collect', rest: 'shiny stones' }, { verb: 'splash', rest: 'in the pond' },
  { verb: 'roll', rest: 'down the hill' }, { verb: 'whistle', rest: 'little tunes' }, { verb: 'plant', rest: 'seeds' },
  { verb: 'fish', rest: 'by the river' }, { verb: 'ride', rest: 'a bike' }, { verb: 'write', rest: 'letters' },
  { verb: 'watch', rest: 'the clouds' }, { verb: 'chase', rest: 'butterflies' }, { verb: 'cook', rest: 'soup' },
  { verb: 'knit', rest: 'warm socks' }, { verb: 'march', rest: 'like a soldier' }, { verb: 'spin', rest: 'in circles' },
  { verb: 'hum', rest: 'soft songs' }, { verb: 'sail', rest: 'little boats' }, { verb: 'sled', rest: 'in the snow' },
  { verb: 'swing', rest: 'high in the air' }, { verb: 'feed', rest: 'the ducks' }, { verb: 'pick', rest: 'flowers' },
];

/** Games two friends can disagree about (Conflict). */
export const GAMES = [
  'tag', 'hide and seek', 'house', 'pirates', 'catch', 'hopscotch', 'tea party', 'dress up', 'cops and robbers',
  'follow the leader', 'school', 'dinosaurs', 'space rockets', 'knights and dragons', 'shop', 'doctor',
];

export const SPOTS = [
  'bushes', 'closet', 'bed', 'tree', 'shed', 'fence', 'garage', 'basement', 'kitchen', 'window', 'hallway',
  'chimney', 'tall grass', 'old barn', 'toy box', 'wardrobe', 'cupboard', 'porch', 'woodpile', 'flower bed',
];

export const SOUNDS = [
  'scratching', 'rustling', 'thumping', 'squeaking', 'growling', 'tapping', 'howling', 'banging', 'crunching',
  'whooshing', 'creaking', 'snoring', 'hissing', 'rumbling',
];

/** What a frightened child imagines behind a noise (Twist: mistaken identity). */
export const SCARY_THINGS = [
  'monster', 'ghost', 'dragon', 'giant', 'troll', 'wolf', 'witch', 'goblin', 'bear', 'robber', 'snake', 'beast',
];

/** What a gift box is expected to hold versus what it holds (Twist: the surprise gift). */
export const GIFTS = [
  'toy car', 'doll', 'ball', 'kite', 'teddy bear', 'book', 'robot', 'puzzle', 'drum', 'train', 'hat', 'bike bell',
  'paint set', 'puppet', 'yo-yo', 'watch', 'sweater', 'flashlight', 'compass', 'harmonica',
];

export const FEELINGS_GOOD = [
  'happy', 'glad', 'proud', 'excited', 'thankful', 'joyful', 'delighted', 'cheerful', 'calm', 'safe', 'warm inside',
];
export const FEELINGS_BAD = [
  'sad', 'upset', 'lonely', 'scared', 'worried', 'angry', 'grumpy', 'sorry', 'tired', 'hurt', 'disappointed',
];

export const TIMES = ['morning', 'afternoon', 'evening', 'day', 'summer day', 'winter day', 'spring morning', 'rainy day'];
export const WEATHER = ['sunny', 'windy', 'cloudy', 'warm', 'cold', 'snowy', 'bright', 'foggy', 'rainy'];

/** Scenery words for filler sentences at a place. */
export const SCENERY = [
  'trees', 'flowers', 'birds', 'clouds', 'rocks', 'bushes', 'butterflies', 'bees', 'leaves', 'puddles', 'stones',
  'boats', 'swings', 'benches', 'ducks', 'fish', 'bugs', 'mushrooms', 'vines', 'waves', 'shells', 'hills', 'fences',
  'pebbles', 'ants', 'frogs', 'reeds', 'daisies', 'tulips', 'roses', 'logs', 'acorns', 'seagulls', 'crabs', 'cows',
  'sheep', 'chickens', 'pumpkins', 'sunflowers', 'dragonflies', 'ponies', 'lanterns', 'bridges', 'windmills', 'tents',
  'fireflies', 'snowflakes', 'icicles', 'carrots', 'cabbages', 'scarecrows', 'statues', 'fountains',
];

/** Races between a fast animal and a slow one (Twist: the expected winner loses). */
export const RACERS: readonly { fast: string; slow: string }[] = [
  { fast: 'rabbit', slow: 'turtle' }, { fast: 'cheetah', slow: 'snail' }, { fast: 'horse', slow: 'tortoise' },
  { fast: 'deer', slow: 'hedgehog' }, { fast: 'dog', slow: 'duck' }, { fast: 'fox', slow: 'slug' },
  { fast: 'hare', slow: 'caterpillar' }, { fast: 'squirrel', slow: 'sloth' },
];

/** Pretend adventures that turn out to be a dream (Twist: it was all a dream). */
export const DREAMS = [
  'flying over the sea', 'riding a dragon', 'sailing to the moon', 'swimming with whales', 'visiting a candy castle',
  'dancing with the stars', 'climbing a rainbow', 'racing a train', 'living under the ocean', 'walking on clouds',
];

/** Buried-treasure finds for the map hint (Foreshadowing). */
export const TREASURES = [
  'box of gold coins', 'chest of old toys', 'jar of shiny buttons', 'bag of marbles', 'tin of sea glass',
  'little wooden boat', 'golden key', 'pile of pretty gems',
];

/** Tools a grown-up hands over "just in case" (Foreshadowing: the item is needed later). */
export const HANDY_ITEMS: readonly { item: string; need: string; use: string }[] = [
  { item: 'flashlight', need: 'it got dark', use: 'lit the way home' },
  { item: 'umbrella', need: 'the rain started', use: 'kept them dry' },
  { item: 'rope', need: 'the ball fell into a hole', use: 'pulled it back up' },
  { item: 'whistle', need: 'they got lost', use: 'called for help' },
  { item: 'warm scarf', need: 'the wind turned cold', use: 'kept them warm' },
  { item: 'bag of bread', need: 'the hungry ducks came', use: 'fed the ducks' },
  { item: 'bandage', need: 'a friend scraped a knee', use: 'fixed the little cut' },
  { item: 'map', need: 'the path split in two', use: 'showed the way' },
];

export const VIRTUES: readonly { virtue: string; lesson: string; always: string }[] = [
  { virtue: 'sharing', lesson: 'sharing makes everyone happy', always: 'shared toys with friends' },
  { virtue: 'honesty', lesson: 'telling the truth is always best', always: 'told the truth' },
  { virtue: 'kindness', lesson: 'being kind is the best way to make friends', always: 'was kind to others' },
  { virtue: 'patience', lesson: 'good things come to those who wait', always: 'waited for a turn' },
  { virtue: 'courage', lesson: 'being brave helps you do hard things', always: 'tried to be brave' },
  { virtue: 'listening', lesson: 'it is important to listen to grown-ups', always: 'listened carefully' },
  { virtue: 'care', lesson: 'we must take care of the things we love', always: 'took good care of things' },
  { virtue: 'teamwork', lesson: 'working together makes big jobs easy', always: 'helped friends with their work' },
  { virtue: 'forgiveness', lesson: 'saying sorry and forgiving keeps friends close', always: 'said sorry when wrong' },
  { virtue: 'thankfulness', lesson: 'saying thank you makes people smile', always: 'said thank you' },
];
