import { nodeCrypto } from './node.js';
import { PureAead } from './pure.js';
import { hmacSha256Of, sha256Of } from './sha256.js';
import { assertBytes } from '../bytes.js';
import { sealDetachedWith, sealPartsWith, type Aead, type CryptoProvider, type X25519PrivateKey } from './provider.js';

/**
 * Messages shorter than this go to the pure-JS AEAD, longer ones to node:crypto.
 * Node pays a fixed cost per message (a cipher object, a native call) that
 * stablelib does not: below ~256 bytes the JS path is faster, above it
 * OpenSSL's per-byte speed wins (bench/providers.mjs).
 */
export const NODE_AEAD_MIN_LENGTH = 256;

/**
 * Inputs up to this many bytes are hashed (and MACed) in JavaScript, longer
 * ones by node:crypto. Every Noise handshake hash and HKDF step is shorter;
 * for them node's cost is the hash object it builds per call (1.5–1.9× the JS
 * time at 64 bytes here, more under a handshake's garbage collection).
 */
export const JS_HASH_MAX_BYTES = 128;

class HybridAead implements Aead {
  readonly #js: Aead;
  readonly #key: Uint8Array;
  #nodeAead: Aead | undefined;

  constructor(key: Uint8Array) {
    assertBytes(key, 'ChaCha20-Poly1305 key', 32);
    // One copy of the key for both AEADs: a session holds two of these for as long as it lives.
    this.#key = Uint8Array.from(key);
    this.#js = new PureAead(this.#key, true);
  }

  // Created on the first large message: an idle or chatty-but-small session never holds a KeyObject.
  get #node(): Aead {
    return (this.#nodeAead ??= nodeCrypto.aead(this.#key));
  }

  seal(nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    return (plaintext.length < NODE_AEAD_MIN_LENGTH ? this.#js : this.#node).seal(nonce, ad, plaintext);
  }

  sealInto(nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void {
    const aead = plaintext.length < NODE_AEAD_MIN_LENGTH ? this.#js : this.#node;
    if (aead.sealInto) aead.sealInto(nonce, ad, plaintext, out);
    else out.set(aead.seal(nonce, ad, plaintext));
  }

  sealDetached(nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): [Uint8Array, Uint8Array] {
    return sealDetachedWith(plaintext.length < NODE_AEAD_MIN_LENGTH ? this.#js : this.#node, nonce, ad, plaintext);
  }

  sealParts(nonce: Uint8Array, ad: Uint8Array, parts: readonly Uint8Array[]): Uint8Array[] {
    let length = 0;
    for (const part of parts) length += part.length;
    return sealPartsWith(length < NODE_AEAD_MIN_LENGTH ? this.#js : this.#node, nonce, ad, parts);
  }

  open(nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | null {
    return (ciphertext.length < NODE_AEAD_MIN_LENGTH ? this.#js : this.#node).open(nonce, ad, ciphertext);
  }
}

/**
 * The provider used when none is given: node:crypto for X25519, SHA-256,
 * HMAC and AEAD messages of 256 bytes and more; the pure-JS AEAD below that.
 * Both AEADs compute the same function, so the split is invisible on the wire.
 */
export const defaultCrypto: CryptoProvider = Object.freeze({
  name: 'node+js-small-aead',
  generateKeyPair: () => nodeCrypto.generateKeyPair(),
  generateEphemeralKey: () => (nodeCrypto.generateEphemeralKey as () => X25519PrivateKey)(),
  x25519: (privateKey: Uint8Array, publicKey?: Uint8Array) => nodeCrypto.x25519(privateKey, publicKey),
  sha256(...chunks: Uint8Array[]): Uint8Array {
    let length = 0;
    for (const chunk of chunks) {
      assertBytes(chunk, 'hash input');
      length += chunk.length;
    }
    return length <= JS_HASH_MAX_BYTES ? sha256Of(chunks) : nodeCrypto.sha256(...chunks);
  },
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
    assertBytes(key, 'HMAC key');
    assertBytes(data, 'HMAC data');
    return key.length <= 64 && data.length <= JS_HASH_MAX_BYTES
      ? hmacSha256Of(key, data)
      : nodeCrypto.hmacSha256(key, data);
  },
  aead: (key: Uint8Array): Aead => new HybridAead(key),
});
