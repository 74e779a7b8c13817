import { bytesEqual } from './bytes.js';
import { InvalidPeerIdError } from './errors.js';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const BASE32_LENGTH = 52;
const HEX_LENGTH = 64;
const KEY_LENGTH = 32;

const base32Values = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) base32Values[ALPHABET.charCodeAt(i)] = i;

const brand = Symbol.for('@peernet/PeerId');

/** Anything that names a peer: a `PeerId`, its text form (base32 or hex) or its 32 key bytes. */
export type PeerIdLike = PeerId | string | Uint8Array;

/**
 * A peer's address: its 32-byte Ed25519 public key. Prints as RFC 4648
 * base32 (lowercase, no padding, 52 characters). Immutable.
 */
export class PeerId {
  readonly #bytes: Uint8Array;
  readonly #text: string;

  private constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#text = encodeBase32(bytes);
  }

  /** Parses the text form (52-char base32, or 64-char hex) of a peer id. */
  static parse(text: string): PeerId {
    if (typeof text !== 'string') throw new InvalidPeerIdError(`peer id must be a string, got ${typeof text}`);
    if (text.length === BASE32_LENGTH) return new PeerId(decodeBase32(text));
    if (text.length === HEX_LENGTH) return new PeerId(decodeHex(text));
    throw new InvalidPeerIdError(
      `peer id must be 52 base32 characters or 64 hex characters, got ${text.length} characters`,
    );
  }

  /** Wraps 32 Ed25519 public-key bytes (copied). */
  static fromBytes(bytes: Uint8Array): PeerId {
    if (!(bytes instanceof Uint8Array)) throw new InvalidPeerIdError('peer id bytes must be a Uint8Array');
    if (bytes.length !== KEY_LENGTH) {
      throw new InvalidPeerIdError(`peer id must be ${KEY_LENGTH} bytes, got ${bytes.length}`);
    }
    return new PeerId(Uint8Array.from(bytes));
  }

  /** Accepts any `PeerIdLike` and returns a `PeerId`. */
  static from(value: PeerIdLike): PeerId {
    if (isPeerId(value)) return value;
    if (typeof value === 'string') return PeerId.parse(value);
    if (value instanceof Uint8Array) return PeerId.fromBytes(value);
    throw new InvalidPeerIdError('expected a PeerId, its text form or its 32 key bytes');
  }

  /** A copy of the 32 public-key bytes. */
  get bytes(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }

  /** The bytes without a copy; callers must not modify them. */
  get unsafeBytes(): Uint8Array {
    return this.#bytes;
  }

  /** Same key? */
  equals(other: PeerIdLike): boolean {
    return bytesEqual(PeerId.from(other).#bytes, this.#bytes);
  }

  /** Byte-order comparison (negative, zero, positive), used for deterministic tie-breaks. */
  compare(other: PeerIdLike): number {
    const o = PeerId.from(other).#bytes;
    for (let i = 0; i < KEY_LENGTH; i++) {
      const d = (this.#bytes[i] as number) - (o[i] as number);
      if (d !== 0) return d;
    }
    return 0;
  }

  /** The base32 text form. */
  toString(): string {
    return this.#text;
  }

  /** The 64-character lowercase hex form. */
  toHex(): string {
    let out = '';
    for (const b of this.#bytes) out += b.toString(16).padStart(2, '0');
    return out;
  }

  /** JSON form is the text form. */
  toJSON(): string {
    return this.#text;
  }

  get [brand](): true {
    return true;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `PeerId(${this.#text})`;
  }
}

/** True for a `PeerId` from any copy of this package. */
export function isPeerId(value: unknown): value is PeerId {
  return typeof value === 'object' && value !== null && (value as { [brand]?: unknown })[brand] === true;
}

// Character codes of ALPHABET, for building the text form in one piece.
const alphabetCodes = Array.from(ALPHABET, (c) => c.charCodeAt(0));

/**
 * The text form as one flat string: appending 52 characters one by one would
 * leave a chain of 40 string pieces that every kept peer id holds on to.
 */
function encodeBase32(bytes: Uint8Array): string {
  const codes: number[] = [];
  let bits = 0;
  let acc = 0;
  for (const byte of bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      codes.push(alphabetCodes[(acc >>> bits) & 31] as number);
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) codes.push(alphabetCodes[(acc << (5 - bits)) & 31] as number);
  return String.fromCharCode(...codes);
}

function decodeBase32(text: string): Uint8Array {
  const out = new Uint8Array(KEY_LENGTH);
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? (base32Values[c] as number) : -1;
    if (v < 0) {
      // QR readers often return upper case: say so instead of only naming the character.
      const hint = c >= 65 && c <= 90 ? ' (the text form is lower case: parse text.toLowerCase())' : '';
      throw new InvalidPeerIdError(`invalid base32 character ${JSON.stringify(text[i])} at position ${i} of peer id${hint}`);
    }
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
  }
  // 52 characters carry 260 bits; the last 4 must be zero or the text is not canonical.
  if (acc !== 0) throw new InvalidPeerIdError('peer id has non-zero padding bits (not a canonical base32 encoding)');
  return out;
}

function decodeHex(text: string): Uint8Array {
  if (!/^[0-9a-fA-F]+$/.test(text)) throw new InvalidPeerIdError('peer id hex form contains a non-hex character');
  const out = new Uint8Array(KEY_LENGTH);
  for (let i = 0; i < KEY_LENGTH; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}
