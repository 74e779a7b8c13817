import { MessageTooLargeError, InvalidArgumentError } from '@peernet/interface';
import { assertBytes, EMPTY } from './bytes.js';
import { MAX_MESSAGE_LENGTH, MAX_PLAINTEXT_LENGTH, TAGLEN } from './constants.js';
import { sealDetachedWith, sealPartsWith, type Aead } from './crypto/provider.js';
import { DecryptError, NonceExhaustedError } from './errors.js';

/** One direction of a Noise transport session: a key and a 64-bit nonce counter. */
export interface CipherState {
  /** The nonce the next encrypt/decrypt will use. */
  readonly nonce: bigint;
  /**
   * The spec's SetNonce, for transports that deliver out of order (and for
   * tests). Moving a sending state's nonce backwards reuses nonces and breaks
   * confidentiality; ordered transports never need this.
   */
  setNonce(nonce: bigint | number): void;
  /** Encrypts one transport message (plaintext at most 65519 bytes); the nonce advances. */
  encrypt(plaintext: Uint8Array, ad?: Uint8Array): Uint8Array;
  /**
   * `encrypt` writing the message into `out` at `offset` (which must have room for
   * `plaintext.length + 16` bytes); returns the bytes written. Lets a sender build
   * its socket write in place.
   */
  encryptInto(plaintext: Uint8Array, out: Uint8Array, offset: number, ad?: Uint8Array): number;
  /**
   * `encrypt` returning the ciphertext body and the 16-byte tag as two arrays
   * (the message is their concatenation), without copying them together when
   * the provider can return them apart.
   */
  encryptDetached(plaintext: Uint8Array, ad?: Uint8Array): [ciphertext: Uint8Array, tag: Uint8Array];
  /**
   * Encrypts one transport message whose plaintext is the concatenation of
   * `parts` (at most 65519 bytes in all), without joining them where the
   * provider can; returns the message in pieces, the tag last.
   */
  encryptParts(parts: readonly Uint8Array[], ad?: Uint8Array): Uint8Array[];
  /** Decrypts one transport message; on failure it throws and the nonce does not advance. */
  decrypt(ciphertext: Uint8Array, ad?: Uint8Array): Uint8Array;
}

const U32 = 0x1_0000_0000;
const MAX_U32 = 0xffff_ffff;
const MAX_NONCE = (1n << 64n) - 1n;

// 4 zero bytes then the counter little-endian (spec section 12.3), rewritten before each use.
// One for every cipher state: it is consumed synchronously, and an Aead must not keep it.
const nonceBytes = new Uint8Array(12);

/** The spec's CipherState with a key (the key-less case is handled by SymmetricState). */
export class KeyedCipherState implements CipherState {
  readonly #aead: Aead;
  // Two u32 halves: bigint arithmetic on every message would cost more than the AEAD for small ones.
  #lo = 0;
  #hi = 0;

  constructor(aead: Aead, lo = 0, hi = 0) {
    this.#aead = aead;
    this.#lo = lo;
    this.#hi = hi;
  }

  get nonce(): bigint {
    return (BigInt(this.#hi) << 32n) | BigInt(this.#lo);
  }

  setNonce(nonce: bigint | number): void {
    let n: bigint;
    if (typeof nonce === 'bigint') n = nonce;
    else if (typeof nonce === 'number' && Number.isSafeInteger(nonce)) n = BigInt(nonce);
    else throw new InvalidArgumentError(`nonce must be a bigint or a safe integer, got ${String(nonce)}`);
    if (n < 0n || n > MAX_NONCE) throw new InvalidArgumentError(`nonce must be in 0..2^64-1, got ${n}`);
    this.#hi = Number(n >> 32n);
    this.#lo = Number(n & 0xffff_ffffn);
  }

  encrypt(plaintext: Uint8Array, ad: Uint8Array = EMPTY): Uint8Array {
    assertBytes(plaintext, 'plaintext');
    assertBytes(ad, 'associated data');
    checkPlaintextLength(plaintext.length);
    const ciphertext = this.#aead.seal(this.#nextNonce(), ad, plaintext);
    this.#advance();
    return ciphertext;
  }

  encryptInto(plaintext: Uint8Array, out: Uint8Array, offset: number, ad: Uint8Array = EMPTY): number {
    assertBytes(plaintext, 'plaintext');
    assertBytes(out, 'output');
    assertBytes(ad, 'associated data');
    checkPlaintextLength(plaintext.length);
    const length = plaintext.length + TAGLEN;
    if (!Number.isInteger(offset) || offset < 0 || offset + length > out.length) {
      throw new InvalidArgumentError(`no room for ${length} bytes at offset ${String(offset)} of ${out.length}`);
    }
    const dst = out.subarray(offset, offset + length);
    const nonce = this.#nextNonce();
    if (this.#aead.sealInto) this.#aead.sealInto(nonce, ad, plaintext, dst);
    else dst.set(this.#aead.seal(nonce, ad, plaintext));
    this.#advance();
    return length;
  }

  encryptDetached(plaintext: Uint8Array, ad: Uint8Array = EMPTY): [Uint8Array, Uint8Array] {
    assertBytes(plaintext, 'plaintext');
    assertBytes(ad, 'associated data');
    checkPlaintextLength(plaintext.length);
    const parts = sealDetachedWith(this.#aead, this.#nextNonce(), ad, plaintext);
    this.#advance();
    return parts;
  }

  encryptParts(parts: readonly Uint8Array[], ad: Uint8Array = EMPTY): Uint8Array[] {
    assertBytes(ad, 'associated data');
    let length = 0;
    for (const part of parts) {
      assertBytes(part, 'plaintext');
      length += part.length;
    }
    checkPlaintextLength(length);
    const pieces = sealPartsWith(this.#aead, this.#nextNonce(), ad, parts);
    this.#advance();
    return pieces;
  }

  decrypt(ciphertext: Uint8Array, ad: Uint8Array = EMPTY): Uint8Array {
    assertBytes(ciphertext, 'ciphertext');
    assertBytes(ad, 'associated data');
    if (ciphertext.length > MAX_MESSAGE_LENGTH) {
      throw new MessageTooLargeError(
        `message of ${ciphertext.length} bytes exceeds the Noise limit of ${MAX_MESSAGE_LENGTH} bytes`,
      );
    }
    if (ciphertext.length < TAGLEN) {
      throw new DecryptError(`ciphertext of ${ciphertext.length} bytes is shorter than the ${TAGLEN}-byte tag`);
    }
    const plaintext = this.#aead.open(this.#nextNonce(), ad, ciphertext);
    if (plaintext === null) throw new DecryptError();
    this.#advance();
    return plaintext;
  }

  /** A copy with the same key and nonce, so a handshake step can run on it and be thrown away. */
  clone(): KeyedCipherState {
    return new KeyedCipherState(this.#aead, this.#lo, this.#hi);
  }

  #nextNonce(): Uint8Array {
    const lo = this.#lo;
    const hi = this.#hi;
    if (lo === MAX_U32 && hi === MAX_U32) throw new NonceExhaustedError();
    const b = nonceBytes;
    b[4] = lo & 0xff;
    b[5] = (lo >>> 8) & 0xff;
    b[6] = (lo >>> 16) & 0xff;
    b[7] = lo >>> 24;
    b[8] = hi & 0xff;
    b[9] = (hi >>> 8) & 0xff;
    b[10] = (hi >>> 16) & 0xff;
    b[11] = hi >>> 24;
    return b;
  }

  #advance(): void {
    if (++this.#lo === U32) {
      this.#lo = 0;
      this.#hi++;
    }
  }
}

function checkPlaintextLength(length: number): void {
  if (length > MAX_PLAINTEXT_LENGTH) {
    throw new MessageTooLargeError(
      `plaintext of ${length} bytes exceeds the Noise limit of ${MAX_PLAINTEXT_LENGTH} bytes`,
    );
  }
}
