// Portable provider: no node:* imports, so it runs in browsers, Deno, Bun and workers.
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 as nobleX25519 } from '@noble/curves/ed25519.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ChaCha20Poly1305 } from '@stablelib/chacha20poly1305';
import { assertBytes } from '../bytes.js';
import { TAGLEN } from '../constants.js';
import { checkSharedSecret, lowOrderError, PreparedKeyCache } from './provider.js';
import type { Aead, CryptoProvider, KeyPair, X25519PrivateKey } from './provider.js';

/**
 * Below this plaintext/ciphertext size stablelib is used, at and above it
 * noble: stablelib's per-message cost is lower, noble's per-byte cost is
 * lower (see bench/providers.mjs and the README's numbers).
 */
export const PURE_AEAD_CROSSOVER = 2048;

/** The pure-JS Aead. Internal to the package: the default provider builds on it. */
export class PureAead implements Aead {
  readonly #key: Uint8Array;
  #stablelib: ChaCha20Poly1305 | undefined;

  /** Keeps a copy of `key`, or `key` itself when `owned` (the caller made it for us and never changes it). */
  constructor(key: Uint8Array, owned = false) {
    this.#key = owned ? key : Uint8Array.from(key);
  }

  seal(nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    assertBytes(nonce, 'nonce', 12);
    assertBytes(ad, 'associated data');
    assertBytes(plaintext, 'plaintext');
    if (plaintext.length < PURE_AEAD_CROSSOVER) return this.#small().seal(nonce, plaintext, ad);
    return chacha20poly1305(this.#key, nonce, ad).encrypt(plaintext);
  }

  sealInto(nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void {
    assertBytes(nonce, 'nonce', 12);
    assertBytes(ad, 'associated data');
    assertBytes(plaintext, 'plaintext');
    assertBytes(out, 'output', plaintext.length + TAGLEN);
    if (plaintext.length < PURE_AEAD_CROSSOVER) this.#small().seal(nonce, plaintext, ad, out);
    else chacha20poly1305(this.#key, nonce, ad).encrypt(plaintext, out);
  }

  open(nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | null {
    assertBytes(nonce, 'nonce', 12);
    assertBytes(ad, 'associated data');
    assertBytes(ciphertext, 'ciphertext');
    if (ciphertext.length < TAGLEN) return null;
    if (ciphertext.length < PURE_AEAD_CROSSOVER) return this.#small().open(nonce, ciphertext, ad);
    try {
      return chacha20poly1305(this.#key, nonce, ad).decrypt(ciphertext);
    } catch {
      // noble signals a bad tag by throwing; the Aead contract is null.
      return null;
    }
  }

  // Created on first use: a key that only ever sees large messages never pays for it.
  #small(): ChaCha20Poly1305 {
    return (this.#stablelib ??= new ChaCha20Poly1305(this.#key));
  }
}

function prepare(privateKey: Uint8Array, knownPublicKey?: Uint8Array): X25519PrivateKey {
  const publicKey = knownPublicKey ?? nobleX25519.getPublicKey(privateKey);
  return {
    get publicKey(): Uint8Array {
      return publicKey.slice();
    },
    dh(remote: Uint8Array): Uint8Array {
      assertBytes(remote, 'X25519 public key', 32);
      let shared: Uint8Array;
      try {
        shared = nobleX25519.getSharedSecret(privateKey, remote);
      } catch (error) {
        // With lengths already checked, noble only throws for low-order peer keys.
        throw lowOrderError(error);
      }
      return checkSharedSecret(shared);
    },
  };
}

const keys = new PreparedKeyCache<X25519PrivateKey>();

/** Pure-JS provider: @noble/curves X25519, @noble/hashes SHA-256/HMAC, ChaCha20-Poly1305 from stablelib (small) or noble (large). */
export const pureJsCrypto: CryptoProvider = Object.freeze({
  name: 'pure-js',
  generateKeyPair(): KeyPair {
    const { secretKey, publicKey } = nobleX25519.keygen();
    keys.set(secretKey, prepare(Uint8Array.from(secretKey), publicKey));
    return { publicKey: Uint8Array.from(publicKey), privateKey: secretKey };
  },
  // The public key hint does not help here: deriving it is the whole cost.
  x25519(privateKey: Uint8Array): X25519PrivateKey {
    return keys.get(privateKey, (copy) => prepare(copy));
  },
  sha256(...chunks: Uint8Array[]): Uint8Array {
    const h = sha256.create();
    for (const chunk of chunks) h.update(assertChunk(chunk));
    return h.digest();
  },
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
    assertBytes(key, 'HMAC key');
    assertBytes(data, 'HMAC data');
    return hmac(sha256, key, data);
  },
  aead(key: Uint8Array): Aead {
    assertBytes(key, 'ChaCha20-Poly1305 key', 32);
    return new PureAead(key);
  },
});

function assertChunk(chunk: Uint8Array): Uint8Array {
  assertBytes(chunk, 'hash input');
  return chunk;
}
