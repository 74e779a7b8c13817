import { sha256 } from '@noble/hashes/sha2.js';
import { INVITE_WORDS } from '../src/index.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('INVITE_WORDS', () => {
  it('has 256 distinct words, so one random byte picks one word', () => {
    expect(INVITE_WORDS).toHaveLength(256);
    expect(new Set(INVITE_WORDS).size).toBe(256);
  });

  it('has only lowercase ASCII words of 3 to 7 letters', () => {
    expect(INVITE_WORDS.filter((word) => !/^[a-z]{3,7}$/.test(word))).toEqual([]);
  });

  it('no two words share their first four letters, and none is a prefix of another', () => {
    const prefixes = new Map<string, string[]>();
    for (const word of INVITE_WORDS) prefixes.set(word.slice(0, 4), [...(prefixes.get(word.slice(0, 4)) ?? []), word]);
    expect([...prefixes.values()].filter((words) => words.length > 1)).toEqual([]);
    // Otherwise typing "owl" could not be told from the start of "owlet" by a completer.
    expect(INVITE_WORDS.flatMap((a) => INVITE_WORDS.filter((b) => a !== b && b.startsWith(a)).map((b) => `${a}/${b}`))).toEqual([]);
  });

  it('has no singular and plural of one word', () => {
    const all = new Set(INVITE_WORDS);
    const plurals = (word: string): string[] => [`${word}s`, `${word}es`, `${word.replace(/y$/, '')}ies`];
    expect(INVITE_WORDS.flatMap((word) => plurals(word).filter((p) => all.has(p)).map((p) => `${word}/${p}`))).toEqual([]);
  });

  it('has no pair that sounds the same, nor a word whose spelling differs between US and UK English', () => {
    // Not exhaustive: the pairs a reviewer would think of first.
    const confusable = ['their', 'there', 'pair', 'pear', 'bear', 'bare', 'sea', 'see', 'sun', 'son', 'night', 'knight', 'flour', 'flower',
      'carrot', 'carat', 'coral', 'choral', 'whale', 'wail', 'plum', 'plumb', 'moose', 'mousse', 'color', 'colour', 'gray', 'grey',
      'harbor', 'harbour', 'yogurt', 'yoghurt', 'meter', 'metre', 'tire', 'tyre', 'rose', 'rows', 'beach', 'beech', 'berry', 'bury'];
    expect(INVITE_WORDS.filter((word) => confusable.includes(word))).toEqual([]);
  });

  it('is in alphabetical order, and frozen', () => {
    expect([...INVITE_WORDS].sort()).toEqual([...INVITE_WORDS]);
    expect(Object.isFrozen(INVITE_WORDS)).toBe(true);
    expect(() => (INVITE_WORDS as string[]).push('extra')).toThrow(TypeError);
  });

  it('never changes: a node with another list could not read this one\'s codes', () => {
    expect([INVITE_WORDS[0], INVITE_WORDS[4], INVITE_WORDS[156], INVITE_WORDS[235], INVITE_WORDS[255]]).toEqual(['acorn', 'anchor', 'orbit', 'violet', 'zone']);
    expect(hex(sha256(new TextEncoder().encode(INVITE_WORDS.join('\n'))))).toBe('c62189298e194f8abf22721c11ea19c92c73a70cb1448bdd6fc40fddb9ea72f6');
  });
});
