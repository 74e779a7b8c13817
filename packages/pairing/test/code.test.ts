import { InvalidPeerIdError, PeerId } from '@peernet/interface';
import { createInviteCode, INVITE_WORDS, nameplateHint, nameplateMatches, parseInviteCode, type InviteCode } from '../src/index.js';
import { seeded } from './helpers.js';

/** An id whose first two bytes are `a` and `b`, the rest filled with `fill`. */
function idWith(a: number, b: number, fill = 7): PeerId {
  const bytes = new Uint8Array(32).fill(fill);
  bytes[0] = a;
  bytes[1] = b;
  return PeerId.fromBytes(bytes);
}

/** Returns exactly these bytes once, and checks it is asked for three. */
const fixed = (...bytes: number[]): ((length: number) => Uint8Array) => {
  let used = false;
  return (length) => {
    if (used || length !== 3) throw new Error(`unexpected random(${length})`);
    used = true;
    return Uint8Array.from(bytes);
  };
};

const plain = (code: InviteCode): object => ({ text: code.text, nameplate: code.nameplate, words: [...code.words], password: [...code.password] });
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const violet = INVITE_WORDS.indexOf('violet'), anchor = INVITE_WORDS.indexOf('anchor'), orbit = INVITE_WORDS.indexOf('orbit');
const ITERATIONS = 2000;

/** An `invalid_argument` error with exactly this message. */
const invalid = (message: string): ReturnType<typeof expect.objectContaining> => expect.objectContaining({ code: 'invalid_argument', message });

describe('nameplateHint and nameplateMatches', () => {
  it('the hint is the first two id bytes, big-endian, modulo 100', () => {
    expect(nameplateHint(idWith(0, 0))).toBe(0);
    expect(nameplateHint(idWith(0, 47))).toBe(47);
    expect(nameplateHint(idWith(0x01, 0x02))).toBe(258 % 100);
    expect(nameplateHint(idWith(0xff, 0xff))).toBe(65535 % 100);
    expect(nameplateHint(idWith(0x27, 0x10, 0xff))).toBe(0); // 10000: the rest of the id plays no part
  });

  it('matches every slot of the inviter itself, and only those', () => {
    const id = idWith(0x12, 0x34); // 4660 -> hint 60
    for (let nameplate = 0; nameplate <= 999; nameplate++) {
      expect(nameplateMatches(id, nameplate)).toBe(nameplate >= 600 && nameplate <= 609);
    }
  });

  it('an invite code always matches its inviter, and about 1 in 100 other ids', () => {
    const random = seeded(1);
    let others = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const inviter = PeerId.fromBytes(random(32));
      const code = createInviteCode({ inviter, slot: i % 10, random });
      expect(nameplateMatches(inviter, code.nameplate)).toBe(true);
      if (nameplateMatches(PeerId.fromBytes(random(32)), code.nameplate)) others++;
    }
    // Expected 20 of 2000; the bounds leave room for chance, not for a broken hint.
    expect(others).toBeGreaterThan(5);
    expect(others).toBeLessThan(50);
  });

  it.each([-1, 1000, 1.5, NaN, Infinity, '47'])('refuses the nameplate %p', (nameplate) => {
    expect(() => nameplateMatches(idWith(0, 0), nameplate as number)).toThrow(
      invalid(`nameplate must be an integer from 0 to 999, got ${typeof nameplate === 'string' ? '"47"' : nameplate}`),
    );
  });

  it('takes an id as text too, and refuses what is not an id', () => {
    const id = idWith(0, 47);
    expect(nameplateHint(id.toString() as unknown as PeerId)).toBe(47);
    expect(() => nameplateHint('not an id' as unknown as PeerId)).toThrow(InvalidPeerIdError);
  });
});

describe('createInviteCode', () => {
  it('writes the hint, the slot and one word per random byte', () => {
    const code = createInviteCode({ inviter: idWith(0, 47), slot: 3, random: fixed(violet, anchor, orbit) });
    expect(plain(code)).toEqual({
      text: '473-violet-anchor-orbit',
      nameplate: 473,
      words: ['violet', 'anchor', 'orbit'],
      password: [...utf8('473-violet-anchor-orbit')],
    });
  });

  it('prints small nameplates without leading zeros', () => {
    expect(createInviteCode({ inviter: idWith(0, 0), slot: 3, random: fixed(0, 1, 2) }).text).toBe('3-acorn-actor-album');
    expect(createInviteCode({ inviter: idWith(0, 4), slot: 0, random: fixed(255, 255, 255) }).text).toBe('40-zone-zone-zone');
    expect(createInviteCode({ inviter: idWith(0, 99), slot: 9, random: fixed(0, 0, 0) }).nameplate).toBe(999);
  });

  it('every byte value reaches its own word, in every position', () => {
    const seen = [new Set<string>(), new Set<string>(), new Set<string>()];
    for (let b = 0; b < 256; b++) {
      const { words } = createInviteCode({ inviter: idWith(0, 0), slot: 0, random: fixed(b, (b + 1) % 256, (b + 2) % 256) });
      words.forEach((word, i) => seen[i]?.add(word));
      expect(words).toEqual([INVITE_WORDS[b], INVITE_WORDS[(b + 1) % 256], INVITE_WORDS[(b + 2) % 256]]);
    }
    for (const position of seen) expect(position.size).toBe(256);
  });

  it('draws the words with the default random source', () => {
    const texts = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const code = createInviteCode({ inviter: idWith(0, 47), slot: 3 });
      expect(code.nameplate).toBe(473);
      expect(plain(parseInviteCode(code.text))).toEqual(plain(code));
      texts.add(code.text);
    }
    // 50 draws from 2^24: a repeat is possible, many are not.
    expect(texts.size).toBeGreaterThan(45);
  });

  it('returns a frozen code and a fresh password each time', () => {
    const a = createInviteCode({ inviter: idWith(0, 0), slot: 0, random: fixed(1, 2, 3) });
    const b = createInviteCode({ inviter: idWith(0, 0), slot: 0, random: fixed(1, 2, 3) });
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a.words)).toBe(true);
    a.password.fill(0);
    expect(b.password).toEqual(utf8(b.text));
  });

  it.each([
    [-1, '-1'],
    [10, '10'],
    [1.5, '1.5'],
    [NaN, 'NaN'],
    ['3', '"3"'],
    [undefined, 'undefined'],
  ])('refuses the slot %p', (slot, shown) => {
    expect(() => createInviteCode({ inviter: idWith(0, 0), slot: slot as number, random: fixed(1, 2, 3) })).toThrow(
      invalid(`createInviteCode: slot must be an integer from 0 to 9, got ${shown}`),
    );
  });

  it('refuses a broken random source and a bad inviter', () => {
    const inviter = idWith(0, 0);
    expect(() => createInviteCode(undefined as never)).toThrow(invalid('createInviteCode: options must be an object'));
    expect(() => createInviteCode({ inviter, slot: 0, random: 42 as never })).toThrow(invalid('createInviteCode: random must be a function'));
    const message = 'createInviteCode: random(3) must return a Uint8Array of 3 bytes';
    expect(() => createInviteCode({ inviter, slot: 0, random: () => new Uint8Array(2) })).toThrow(invalid(message));
    expect(() => createInviteCode({ inviter, slot: 0, random: () => [1, 2, 3] as never })).toThrow(invalid(message));
    expect(() => createInviteCode({ inviter: 'nobody' as never, slot: 0 })).toThrow(InvalidPeerIdError);
  });
});

describe('parseInviteCode', () => {
  const canonical = plain(createInviteCode({ inviter: idWith(0, 47), slot: 3, random: fixed(violet, anchor, orbit) }));

  it.each([
    '473-violet-anchor-orbit',
    '  473-violet-anchor-orbit\n',
    '473-VIOLET-Anchor-orBIT',
    '473 violet anchor orbit',
    '473--violet__anchor. orbit',
    '473.violet.anchor.orbit',
    '473_violet\t anchor -_. orbit',
    '\u00a0473\u00a0violet\u2003anchor orbit\u00a0',
    '0473-violet-anchor-orbit',
  ])('reads %p as the canonical code', (text) => {
    expect(plain(parseInviteCode(text))).toEqual(canonical);
  });

  it('normalises leading zeros, down to a single 0', () => {
    expect(parseInviteCode('000-owl-fox-yak').text).toBe('0-owl-fox-yak');
    expect(parseInviteCode('007 owl fox yak').nameplate).toBe(7);
    expect(parseInviteCode('0000000999-owl-fox-yak').nameplate).toBe(999);
  });

  it('round-trips every created code, however it is retyped', () => {
    const random = seeded(2);
    const separators = ['-', ' ', '.', '_', '--', ' - ', '\t', '. ', '__'];
    const pick = <T>(items: readonly T[]): T => items[(random(1)[0] as number) % items.length] as T;
    for (let i = 0; i < ITERATIONS; i++) {
      const code = createInviteCode({ inviter: PeerId.fromBytes(random(32)), slot: i % 10, random });
      expect(code.text).toMatch(/^(0|[1-9][0-9]{0,2})(-[a-z]{3,7}){3}$/);
      expect(code.password).toEqual(utf8(code.text));
      expect(plain(parseInviteCode(code.text))).toEqual(plain(code));
      const zeros = '0'.repeat((random(1)[0] as number) % 3);
      const parts = [zeros + String(code.nameplate), ...code.words].map((part) =>
        Array.from(part, (c) => ((random(1)[0] as number) & 1 ? c.toUpperCase() : c)).join(''),
      );
      const retyped = ` ${parts.map((part, j) => (j === 0 ? part : pick(separators) + part)).join('')}  `;
      expect(plain(parseInviteCode(retyped))).toEqual(plain(code));
    }
  });

  const shape = 'an invite code looks like 473-violet-anchor-orbit: a number and three words';
  it.each([
    ['', `invite code is empty; ${shape}`],
    [' \n\t ', `invite code is empty; ${shape}`],
    ['473', `invite code has 1 part, not 4; ${shape}`],
    ['473-violet-anchor', `invite code has 3 parts, not 4; ${shape}`],
    ['473-violet-anchor-orbit-owl', `invite code has 5 parts, not 4; ${shape}`],
    ['473violet-anchor-orbit', `invite code has 3 parts, not 4; ${shape}`],
    ['-473-violet-anchor-orbit', `invite code starts or ends with a separator; ${shape}`],
    ['473-violet-anchor-orbit.', `invite code starts or ends with a separator; ${shape}`],
    ['violet-anchor-orbit-473', `invite code does not start with its number; ${shape}`],
    ['+473-violet-anchor-orbit', `invite code does not start with its number; ${shape}`],
    ['4a3-violet-anchor-orbit', `invite code does not start with its number; ${shape}`],
    ['٤٧٣-violet-anchor-orbit', `invite code does not start with its number; ${shape}`],
    ['1000-violet-anchor-orbit', `invite code: the number 1000 is over 999; ${shape}`],
    ['00012345-violet-anchor-orbit', `invite code: the number 12345 is over 999; ${shape}`],
    ['473-violet-xyz-orbit', 'invite code: "xyz" is not one of the code words (check the spelling)'],
    ['473-violet-anchor-orbitt', 'invite code: "orbitt" is not one of the code words (did you mean "orbit"?)'],
    ['473-violte-anchor-orbit', 'invite code: "violte" is not one of the code words (did you mean "violet"?)'],
    ['473-violet-anch-orbit', 'invite code: "anch" is not one of the code words (did you mean "anchor"?)'],
    ['473-violet-anchors-orbit', 'invite code: "anchors" is not one of the code words (did you mean "anchor"?)'],
    ['473-vıolet-anchor-orbit', 'invite code: "vıolet" is not one of the code words (check the spelling)'],
    ['473-violet-anchor-12', 'invite code: "12" is not one of the code words (check the spelling)'],
    ['473-violet,anchor-orbit', `invite code has 3 parts, not 4; ${shape}`],
  ])('refuses %p', (text, message) => {
    expect(() => parseInviteCode(text)).toThrow(invalid(message));
  });

  it('reports the first word that is wrong', () => {
    expect(() => parseInviteCode('473-abc-def-ghi')).toThrow('"abc" is not one of the code words');
  });

  it('refuses what is not a string', () => {
    expect(() => parseInviteCode(473 as never)).toThrow(invalid('invite code must be a string, got number'));
    expect(() => parseInviteCode(null as never)).toThrow(invalid('invite code must be a string, got null'));
  });

  it('every code word is accepted in every position', () => {
    for (let i = 0; i < 256; i++) {
      const word = INVITE_WORDS[i] as string;
      expect(parseInviteCode(`5 ${word} ${word.toUpperCase()} ${word}`).words).toEqual([word, word, word]);
    }
  });
});
