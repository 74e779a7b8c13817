// The libsodium provider: sodium-native for X25519, random keys, ChaCha20-Poly1305 IETF and
// SHA-256/HMAC (see hash.ts for why the hashes are sodium's too).
import { NoiseError, type Aead, type CryptoProvider, type KeyPair, type X25519PrivateKey } from '@peernet/noise';
import sodium from 'sodium-native';
import { assertBytes, bytesEqual, isAllZero } from '@peernet/interface';
import { hmacSha256, sha256 } from './hash.js';

const TAGLEN = 16;
const NONCELEN = 12;
const KEYLEN = 32;
const DHLEN = 32;

/**
 * The error the providers of `@peernet/noise` raise for a low-order peer key (same class, code
 * and message), so that a session fails alike whichever provider each side uses.
 */
function lowOrderError(cause?: unknown): NoiseError {
  return new NoiseError(
    'X25519 produced an all-zero shared secret: the peer public key is a low-order point',
    cause === undefined ? undefined : { cause },
  );
}

class SodiumAead implements Aead {
  // A private copy: the caller may reuse or wipe the array it passed.
  readonly #key: Uint8Array;

  constructor(key: Uint8Array) {
    this.#key = Uint8Array.from(key);
  }

  // seal, sealInto and open use libsodium's combined calls, which are the detached ones with
  // the tag placed right after the body: they write into (and read from) the whole array, so
  // a message costs no view objects, only the output array where one is returned.

  seal(nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    checkInputs(nonce, ad, plaintext, 'plaintext');
    const out = new Uint8Array(plaintext.length + TAGLEN);
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt(out, plaintext, ad, null, nonce, this.#key);
    return out;
  }

  sealInto(nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void {
    checkInputs(nonce, ad, plaintext, 'plaintext');
    assertBytes(out, 'output', plaintext.length + TAGLEN);
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt(out, plaintext, ad, null, nonce, this.#key);
  }

  sealDetached(nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): [Uint8Array, Uint8Array] {
    checkInputs(nonce, ad, plaintext, 'plaintext');
    const body = new Uint8Array(plaintext.length);
    const tag = new Uint8Array(TAGLEN);
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(body, tag, plaintext, ad, null, nonce, this.#key);
    return [body, tag];
  }

  sealParts(nonce: Uint8Array, ad: Uint8Array, parts: readonly Uint8Array[]): Uint8Array[] {
    assertBytes(nonce, 'nonce', NONCELEN);
    assertBytes(ad, 'associated data');
    let length = 0;
    for (const part of parts) {
      assertBytes(part, 'plaintext');
      length += part.length;
    }
    // libsodium has no incremental ChaCha20-Poly1305 IETF (its init/update/final AEAD is
    // secretstream, another construction), so the parts are joined first: one copy of the
    // plaintext, then encrypted in place into the same array and sealed detached.
    const body = new Uint8Array(length);
    let at = 0;
    for (const part of parts) {
      body.set(part, at);
      at += part.length;
    }
    const tag = new Uint8Array(TAGLEN);
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(body, tag, body, ad, null, nonce, this.#key);
    return length === 0 ? [tag] : [body, tag];
  }

  open(nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | null {
    checkInputs(nonce, ad, ciphertext, 'ciphertext');
    if (ciphertext.length < TAGLEN) return null;
    // A new array every time, never a view of `ciphertext`: callers reuse that buffer.
    const plaintext = new Uint8Array(ciphertext.length - TAGLEN);
    try {
      sodium.crypto_aead_chacha20poly1305_ietf_decrypt(plaintext, null, ciphertext, ad, nonce, this.#key);
    } catch {
      // sodium-native throws on a bad tag (libsodium has already zeroed the output); the
      // Aead contract is null.
      return null;
    }
    return plaintext;
  }
}

function checkInputs(nonce: Uint8Array, ad: Uint8Array, data: Uint8Array, name: string): void {
  assertBytes(nonce, 'nonce', NONCELEN);
  assertBytes(ad, 'associated data');
  assertBytes(data, name);
}

/** The public key of a private key: X25519 of the base point (libsodium clamps the scalar). */
function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  const publicKey = new Uint8Array(DHLEN);
  sodium.crypto_scalarmult_base(publicKey, privateKey);
  return publicKey;
}

function prepare(privateKey: Uint8Array, knownPublicKey?: Uint8Array): X25519PrivateKey {
  const publicKey = knownPublicKey ?? publicKeyOf(privateKey);
  return {
    get publicKey(): Uint8Array {
      return publicKey.slice();
    },
    dh(remote: Uint8Array): Uint8Array {
      assertBytes(remote, 'X25519 public key', DHLEN);
      const shared = new Uint8Array(DHLEN);
      try {
        sodium.crypto_scalarmult(shared, privateKey, remote);
      } catch (error) {
        // libsodium refuses the listed small-order points and any all-zero result (-1); the
        // lengths are checked already, so that is the only failure left.
        throw lowOrderError(error);
      }
      // Last line of defence, as in the other providers.
      if (isAllZero(shared)) throw lowOrderError();
      return shared;
    },
  };
}

/** A fresh random private key, clamped as X25519 clamps a scalar (RFC 7748 section 5). */
function randomPrivateKey(): Uint8Array {
  const privateKey = new Uint8Array(DHLEN);
  sodium.randombytes_buf(privateKey);
  privateKey[0] = (privateKey[0] as number) & 248;
  privateKey[31] = ((privateKey[31] as number) & 127) | 64;
  return privateKey;
}

// Prepared keys by array identity, checked against a private copy of the bytes so that a
// caller who rewrites the array gets a fresh key; static keys come back handshake after
// handshake, and this spares deriving the public key each time.
const prepared = new WeakMap<Uint8Array, { bytes: Uint8Array; key: X25519PrivateKey }>();

function preparedKey(privateKey: Uint8Array): X25519PrivateKey {
  assertBytes(privateKey, 'X25519 private key', DHLEN);
  const hit = prepared.get(privateKey);
  if (hit !== undefined && bytesEqual(hit.bytes, privateKey)) return hit.key;
  const copy = Uint8Array.from(privateKey);
  const key = prepare(copy);
  prepared.set(privateKey, { bytes: Uint8Array.from(privateKey), key });
  return key;
}

/**
 * The libsodium provider (sodium-native): X25519, random keys, ChaCha20-Poly1305 IETF,
 * SHA-256 and HMAC-SHA256. Pass it as `PeerNet.start({ crypto: sodiumCrypto })` or as the
 * `crypto` option of `createHandshake`; it interoperates with every other provider.
 */
export const sodiumCrypto: CryptoProvider = Object.freeze({
  name: 'sodium',
  generateKeyPair(): KeyPair {
    const privateKey = randomPrivateKey();
    const copy = Uint8Array.from(privateKey);
    const publicKey = publicKeyOf(copy);
    prepared.set(privateKey, { bytes: Uint8Array.from(privateKey), key: prepare(copy, publicKey) });
    // The prepared key keeps `publicKey`: the caller gets its own copy.
    return { publicKey: publicKey.slice(), privateKey };
  },
  generateEphemeralKey(): X25519PrivateKey {
    // Nobody sees the private bytes, so nothing to cache or copy.
    return prepare(randomPrivateKey());
  },
  // The public key hint does not help: deriving it is one scalar multiplication, and the
  // result must come from the private key alone.
  x25519(privateKey: Uint8Array): X25519PrivateKey {
    return preparedKey(privateKey);
  },
  sha256(...chunks: Uint8Array[]): Uint8Array {
    return sha256(chunks);
  },
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
    return hmacSha256(key, data);
  },
  aead(key: Uint8Array): Aead {
    assertBytes(key, 'ChaCha20-Poly1305 key', KEYLEN);
    return new SodiumAead(key);
  },
});
