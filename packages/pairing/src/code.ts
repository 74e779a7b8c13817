// Invite codes: `<nameplate>-<word>-<word>-<word>`, e.g. 473-violet-anchor-orbit.
// The nameplate is public (it only helps a joiner find the inviter among the
// ids discovery announces); the three words are the secret, and the PAKE
// password is the canonical text, so both sides must normalise it identically.
import { InvalidArgumentError, PeerId } from '@peernet/interface';
import { INVITE_WORDS } from './words.js';

/** An invite code, in the canonical form both sides feed to the PAKE. */
export interface InviteCode {
  /** Canonical text: the nameplate without leading zeros, then the three words, lower case, joined by single dashes. */
  readonly text: string;
  /** `nameplateHint(inviter) * 10 + slot`, 0..999. Not secret. */
  readonly nameplate: number;
  /** The three secret words, each one of the 256 code words. */
  readonly words: readonly string[];
  /** The PAKE password: the UTF-8 bytes of `text`. A fresh copy per code. */
  readonly password: Uint8Array;
}

/** Options of `createInviteCode`. */
export interface CreateInviteCodeOptions {
  /** The node that issues the code; its id decides the nameplate's hint. */
  inviter: PeerId;
  /** Which of the inviter's ten concurrent invites this is, 0..9; open invites must use distinct slots. */
  slot: number;
  /** Returns `length` uniformly random bytes; `crypto.getRandomValues` by default. Tests inject fixed bytes. */
  random?: ((length: number) => Uint8Array) | undefined;
}

const HINTS = 100;
const SLOTS = 10;
const MAX_NAMEPLATE = HINTS * SLOTS - 1;
const WORD_COUNT = 3;
const SHAPE = 'an invite code looks like 473-violet-anchor-orbit: a number and three words';

const wordSet = new Set(INVITE_WORDS);
// No two words share their first four letters, so four letters name at most one word.
const byPrefix = new Map(INVITE_WORDS.map((word) => [word.slice(0, 4), word]));
const encoder = new TextEncoder();

function defaultRandom(length: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(length));
}

/** The inviter's two-digit hint, 0..99, that every one of its nameplates starts with. */
export function nameplateHint(id: PeerId): number {
  const bytes = PeerId.from(id).unsafeBytes;
  return (((bytes[0] as number) << 8) | (bytes[1] as number)) % HINTS;
}

/** Could `id` have issued a code with this nameplate? Lets a joiner skip the other ~99% of peers. */
export function nameplateMatches(id: PeerId, nameplate: number): boolean {
  checkNameplate(nameplate, 'nameplate');
  return nameplateHint(id) === Math.floor(nameplate / SLOTS);
}

/** Draws a fresh code for one of the inviter's slots; the words carry 24 bits from `random`. */
export function createInviteCode(options: CreateInviteCodeOptions): InviteCode {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('createInviteCode: options must be an object');
  const { inviter, slot, random = defaultRandom } = options;
  if (typeof slot !== 'number' || !Number.isInteger(slot) || slot < 0 || slot >= SLOTS) {
    throw new InvalidArgumentError(`createInviteCode: slot must be an integer from 0 to ${SLOTS - 1}, got ${showValue(slot)}`);
  }
  if (typeof random !== 'function') throw new InvalidArgumentError('createInviteCode: random must be a function');
  const hint = nameplateHint(inviter);
  const bytes = random(WORD_COUNT);
  if (!(bytes instanceof Uint8Array) || bytes.length !== WORD_COUNT) {
    throw new InvalidArgumentError(`createInviteCode: random(${WORD_COUNT}) must return a Uint8Array of ${WORD_COUNT} bytes`);
  }
  // 256 words: a byte indexes the list directly, with no modulo bias to correct.
  return inviteCode(hint * SLOTS + slot, Array.from(bytes, (b) => INVITE_WORDS[b] as string));
}

/** Reads a code as a person typed or pasted it, forgiving case, whitespace and separators but not spelling. */
export function parseInviteCode(text: string): InviteCode {
  if (typeof text !== 'string') throw new InvalidArgumentError(`invite code must be a string, got ${text === null ? 'null' : typeof text}`);
  const trimmed = text.trim().toLowerCase();
  if (trimmed === '') throw new InvalidArgumentError(`invite code is empty; ${SHAPE}`);
  const parts = trimmed.split(/[-\s._]+/);
  // The messages below never echo the whole code: it is a secret and errors end up in logs.
  if (parts[0] === '' || parts[parts.length - 1] === '') {
    throw new InvalidArgumentError(`invite code starts or ends with a separator; ${SHAPE}`);
  }
  if (parts.length !== WORD_COUNT + 1) {
    throw new InvalidArgumentError(`invite code has ${parts.length} part${parts.length === 1 ? '' : 's'}, not ${WORD_COUNT + 1}; ${SHAPE}`);
  }
  const [number, ...words] = parts as [string, ...string[]];
  if (!/^[0-9]+$/.test(number)) throw new InvalidArgumentError(`invite code does not start with its number; ${SHAPE}`);
  const digits = number.replace(/^0+(?=.)/, '');
  if (digits.length > 3) throw new InvalidArgumentError(`invite code: the number ${digits} is over ${MAX_NAMEPLATE}; ${SHAPE}`);
  for (const word of words) {
    if (wordSet.has(word)) continue;
    const near = byPrefix.get(word.slice(0, 4));
    const hint = near === undefined ? 'check the spelling' : `did you mean "${near}"?`;
    throw new InvalidArgumentError(`invite code: ${JSON.stringify(word)} is not one of the code words (${hint})`);
  }
  return inviteCode(Number(digits), words);
}

function inviteCode(nameplate: number, words: string[]): InviteCode {
  const text = `${nameplate}-${words.join('-')}`;
  return Object.freeze({ text, nameplate, words: Object.freeze(words), password: encoder.encode(text) });
}

/** Throws unless `value` is an integer nameplate, 0..999. */
export function checkNameplate(value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_NAMEPLATE) {
    throw new InvalidArgumentError(`${what} must be an integer from 0 to ${MAX_NAMEPLATE}, got ${showValue(value)}`);
  }
}

/** A value for an error message, without dumping objects. */
export function showValue(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value);
  return value === null ? 'null' : typeof value;
}
