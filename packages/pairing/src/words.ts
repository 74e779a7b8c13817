// The 256 words of an invite code: one random byte picks one word, so three
// words carry exactly 24 bits and every word is equally likely.
//
// Chosen to be read aloud and typed without mistakes: common, concrete,
// 3 to 7 letters of plain ASCII, no two that sound alike, no plurals, one
// spelling on both sides of the Atlantic. No word is a prefix of another and
// no two share their first four letters, so four typed letters always
// complete to one word. The list is fixed: a joiner whose list differed from
// the inviter's could not read the inviter's codes.

/** The code words, in alphabetical order; a word's index is the random byte that picks it. */
export const INVITE_WORDS: readonly string[] = Object.freeze([
  /* 0x00 */ 'acorn', 'actor', 'album', 'amber', 'anchor', 'ankle', 'apple', 'apron',
  /* 0x08 */ 'arrow', 'atlas', 'attic', 'autumn', 'avocado', 'bacon', 'badge', 'bagel',
  /* 0x10 */ 'baker', 'bamboo', 'banjo', 'barrel', 'basket', 'bench', 'bicycle', 'bison',
  /* 0x18 */ 'blanket', 'blossom', 'bottle', 'brick', 'bridge', 'broom', 'bubble', 'bucket',
  /* 0x20 */ 'buffalo', 'button', 'cabin', 'camel', 'candle', 'canoe', 'canyon', 'carpet',
  /* 0x28 */ 'castle', 'cherry', 'chess', 'chimney', 'cider', 'circle', 'clock', 'cloud',
  /* 0x30 */ 'clover', 'cobra', 'coconut', 'comet', 'copper', 'cotton', 'cousin', 'crayon',
  /* 0x38 */ 'cricket', 'crystal', 'cupcake', 'curtain', 'daisy', 'diamond', 'dinner', 'dolphin',
  /* 0x40 */ 'donkey', 'dragon', 'drum', 'duck', 'eagle', 'earth', 'echo', 'eclipse',
  /* 0x48 */ 'elbow', 'emerald', 'engine', 'fabric', 'falcon', 'feather', 'fence', 'fiddle',
  /* 0x50 */ 'flag', 'flute', 'forest', 'fossil', 'fox', 'frog', 'galaxy', 'garden',
  /* 0x58 */ 'garlic', 'gecko', 'giant', 'ginger', 'giraffe', 'glove', 'goat', 'golf',
  /* 0x60 */ 'grape', 'gravel', 'guitar', 'hammer', 'harvest', 'hazel', 'helmet', 'hippo',
  /* 0x68 */ 'honey', 'horizon', 'hotel', 'husky', 'igloo', 'insect', 'ivory', 'jacket',
  /* 0x70 */ 'jaguar', 'jelly', 'jigsaw', 'jungle', 'kayak', 'kettle', 'king', 'kite',
  /* 0x78 */ 'kitten', 'kiwi', 'koala', 'ladder', 'lagoon', 'lantern', 'lemon', 'lion',
  /* 0x80 */ 'lizard', 'lobster', 'lotus', 'magnet', 'mammoth', 'mango', 'maple', 'marble',
  /* 0x88 */ 'meadow', 'meteor', 'mint', 'mirror', 'monkey', 'motor', 'muffin', 'napkin',
  /* 0x90 */ 'nectar', 'needle', 'nest', 'noodle', 'nugget', 'nutmeg', 'oasis', 'ocean',
  /* 0x98 */ 'octopus', 'olive', 'onion', 'orange', 'orbit', 'orchid', 'otter', 'owl',
  /* 0xa0 */ 'oyster', 'palace', 'panda', 'paper', 'parrot', 'peach', 'pebble', 'pencil',
  /* 0xa8 */ 'pepper', 'piano', 'pickle', 'pillow', 'pilot', 'planet', 'pocket', 'potato',
  /* 0xb0 */ 'pretzel', 'pumpkin', 'puppet', 'puzzle', 'quilt', 'quiz', 'rabbit', 'radar',
  /* 0xb8 */ 'radish', 'rainbow', 'raven', 'ribbon', 'river', 'robot', 'rocket', 'rooster',
  /* 0xc0 */ 'ruby', 'ruler', 'saddle', 'salad', 'scarf', 'scooter', 'shadow', 'shark',
  /* 0xc8 */ 'shell', 'shovel', 'silver', 'skate', 'sled', 'slipper', 'snail', 'spider',
  /* 0xd0 */ 'spoon', 'stamp', 'storm', 'sugar', 'summer', 'sunset', 'swan', 'taco',
  /* 0xd8 */ 'teapot', 'tennis', 'thunder', 'tiger', 'toast', 'tomato', 'tornado', 'tractor',
  /* 0xe0 */ 'tree', 'trumpet', 'tulip', 'tunnel', 'turtle', 'twig', 'unicorn', 'valley',
  /* 0xe8 */ 'vanilla', 'velvet', 'village', 'violet', 'volcano', 'vulture', 'waffle', 'wagon',
  /* 0xf0 */ 'walnut', 'walrus', 'wheat', 'window', 'winter', 'wizard', 'wolf', 'wombat',
  /* 0xf8 */ 'worm', 'yak', 'yellow', 'zebra', 'zero', 'zigzag', 'zipper', 'zone',
]);
