import { assertBytes, bytesEqual, isAllZero } from '../bytes.js';
import { NoiseError } from '../errors.js';

/** A raw X25519 key pair: two 32-byte arrays. */
export interface KeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

/**
 * A ChaCha20-Poly1305 key prepared once and used for many messages.
 * `nonce` is the 12-byte RFC 8439 nonce; implementations must not keep a
 * reference to it (the caller reuses the array).
 */
export interface Aead {
  /** Encrypts `plaintext` and appends the 16-byte tag. */
  seal(nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /**
   * Returns the plaintext, or null if the tag does not verify. The plaintext
   * is a new array, never a view of `ciphertext`: callers reuse that buffer.
   */
  open(nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | null;
  /**
   * Optional: `seal` writing into `out`, which is exactly `plaintext.length + 16`
   * bytes (usually a view into a larger frame buffer), so the sender skips an
   * allocation and a copy per message.
   */
  sealInto?(nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void;
  /**
   * Optional: `seal` returning the ciphertext body and the 16-byte tag as
   * separate arrays, for a sender that writes them out as they are.
   */
  sealDetached?(nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): [ciphertext: Uint8Array, tag: Uint8Array];
  /**
   * Optional: `seal` of the concatenation of `parts`, without concatenating
   * them first; returns the ciphertext in pieces, the 16-byte tag last. Lets
   * a sender seal a header and the application's bytes, by reference, into
   * one message.
   */
  sealParts?(nonce: Uint8Array, ad: Uint8Array, parts: readonly Uint8Array[]): Uint8Array[];
}

/** `aead.sealParts` where the Aead has it, else the parts joined (one copy) and sealed detached. */
export function sealPartsWith(aead: Aead, nonce: Uint8Array, ad: Uint8Array, parts: readonly Uint8Array[]): Uint8Array[] {
  if (aead.sealParts) return aead.sealParts(nonce, ad, parts);
  let length = 0;
  for (const part of parts) length += part.length;
  const joined = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  return sealDetachedWith(aead, nonce, ad, joined);
}

/** `aead.sealDetached` where the Aead has it, else `seal` split into views of ciphertext and tag. */
export function sealDetachedWith(aead: Aead, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): [Uint8Array, Uint8Array] {
  if (aead.sealDetached) return aead.sealDetached(nonce, ad, plaintext);
  const sealed = aead.seal(nonce, ad, plaintext);
  return [sealed.subarray(0, plaintext.length), sealed.subarray(plaintext.length)];
}

/** An X25519 private key prepared once (e.g. imported into a KeyObject) for repeated DH. */
export interface X25519PrivateKey {
  /** The matching 32-byte public key. */
  readonly publicKey: Uint8Array;
  /**
   * X25519 with a peer's 32-byte public key. Throws a `NoiseError` when the
   * result is all zeros (a low-order peer key), as the Noise spec allows.
   */
  dh(publicKey: Uint8Array): Uint8Array;
}

/**
 * The primitives Noise_XX_25519_ChaChaPoly_SHA256 needs. Implementations
 * validate lengths, return fresh arrays the caller may keep, and behave
 * identically (the differential tests hold them to that).
 */
export interface CryptoProvider {
  /** Short name used in benchmarks and error messages. */
  readonly name: string;
  /** A fresh random X25519 key pair. */
  generateKeyPair(): KeyPair;
  /**
   * Optional: a fresh random X25519 private key already prepared for DH, for a
   * handshake's ephemeral key, whose raw private bytes nobody needs. A provider
   * that can make one faster than `x25519(generateKeyPair().privateKey)` (node
   * skips re-importing the key it just generated) implements it; each call
   * returns a key never returned before.
   */
  generateEphemeralKey?(): X25519PrivateKey;
  /**
   * Prepares a 32-byte private key for DH; may return a cached object for the same bytes.
   * `publicKey`, when given, is the public key the caller expects: a provider may use it to
   * import faster, but the returned `publicKey` must be derived from `privateKey` alone, so
   * that the caller can check the pair.
   */
  x25519(privateKey: Uint8Array, publicKey?: Uint8Array): X25519PrivateKey;
  /** SHA-256 of the concatenation of `chunks`. */
  sha256(...chunks: Uint8Array[]): Uint8Array;
  /** HMAC-SHA256. */
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** Prepares a 32-byte ChaCha20-Poly1305 key. */
  aead(key: Uint8Array): Aead;
}

/** The typed low-order error; both providers raise it so that they fail alike. */
export function lowOrderError(cause?: unknown): NoiseError {
  return new NoiseError(
    'X25519 produced an all-zero shared secret: the peer public key is a low-order point',
    cause === undefined ? undefined : { cause },
  );
}

/** Rejects an all-zero DH output (a provider's last line of defence against low-order keys). */
export function checkSharedSecret(shared: Uint8Array): Uint8Array {
  if (isAllZero(shared)) throw lowOrderError();
  return shared;
}

/**
 * Caches prepared private keys by array identity, checked against a private
 * copy of the bytes so that a caller who rewrites the array gets a fresh key.
 * Static keys are reused across many handshakes; this spares a re-import
 * (node) or a public-key derivation (both) each time.
 */
export class PreparedKeyCache<T> {
  readonly #entries = new WeakMap<Uint8Array, { bytes: Uint8Array; value: T }>();

  /** Returns the cached value for `privateKey`, creating it with `prepare` on a miss. */
  get(privateKey: Uint8Array, prepare: (copy: Uint8Array) => T): T {
    assertBytes(privateKey, 'X25519 private key', 32);
    const hit = this.#entries.get(privateKey);
    if (hit !== undefined && bytesEqual(hit.bytes, privateKey)) return hit.value;
    const copy = Uint8Array.from(privateKey);
    const value = prepare(copy);
    this.#entries.set(privateKey, { bytes: copy, value });
    return value;
  }

  /** Seeds the cache for a key the provider just generated. */
  set(privateKey: Uint8Array, value: T): void {
    this.#entries.set(privateKey, { bytes: Uint8Array.from(privateKey), value });
  }
}
