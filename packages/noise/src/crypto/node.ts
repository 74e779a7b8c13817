// node:crypto provider. Kept in its own module so that the pure-JS provider never pulls in node:*.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  diffieHellman,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { assertBytes } from '../bytes.js';
import { TAGLEN } from '../constants.js';
import { checkSharedSecret, lowOrderError, PreparedKeyCache } from './provider.js';
import type { Aead, CryptoProvider, KeyPair, X25519PrivateKey } from './provider.js';

// PKCS#8 header that wraps a raw 32-byte X25519 private key (RFC 8410).
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);
const ALGORITHM = 'chacha20-poly1305';

/**
 * Imports a raw private key. JWK is an order of magnitude faster than PKCS#8 DER on Node 20
 * (bench/providers.mjs, "node X25519 import" rows) but needs the public key too, so it is used
 * when the caller supplies one; the public key of the result is derived again by the caller of
 * this function, so a wrong hint cannot go unnoticed.
 */
function importPrivate(privateKey: Uint8Array, publicKeyHint: Uint8Array | undefined): KeyObject {
  if (publicKeyHint !== undefined) {
    assertBytes(publicKeyHint, 'X25519 public key', 32);
    try {
      return createPrivateKey({
        key: { kty: 'OKP', crv: 'X25519', d: base64url(privateKey), x: base64url(publicKeyHint) },
        format: 'jwk',
      });
    } catch {
      // A Node that checks x against d refuses a wrong hint; DER below needs no hint.
    }
  }
  const der = Buffer.allocUnsafe(PKCS8_PREFIX.length + privateKey.length);
  der.set(PKCS8_PREFIX, 0);
  der.set(privateKey, PKCS8_PREFIX.length);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

// JWK rather than SPKI DER: ~10x faster on Node 20. Imports are cached by
// key: a handshake uses the peer's ephemeral key twice, and the same peers'
// static keys come back handshake after handshake. Public keys are not secret.
const PUBLIC_KEY_CACHE_MAX = 256;
const publicKeys = new Map<string, KeyObject>();

function importPublic(publicKey: Uint8Array): KeyObject {
  const id = String.fromCharCode.apply(null, publicKey as unknown as number[]);
  let key = publicKeys.get(id);
  if (key === undefined) {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: base64url(publicKey) }, format: 'jwk' });
    if (publicKeys.size >= PUBLIC_KEY_CACHE_MAX) publicKeys.clear();
    publicKeys.set(id, key);
  }
  return key;
}

function rawPublic(key: KeyObject): Uint8Array {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return fromBase64url(publicKey.export({ format: 'jwk' }).x);
}

function fromBase64url(text: string | undefined): Uint8Array {
  const bytes = plain(Buffer.from(text ?? '', 'base64url'));
  if (bytes.length !== 32) throw new Error(`node:crypto exported an X25519 key of ${bytes.length} bytes`);
  return bytes;
}

/** A plain Uint8Array over a node Buffer: a view when the Buffer owns its memory, else a copy. */
function plain(buffer: Buffer): Uint8Array {
  if (buffer.byteOffset === 0 && buffer.buffer.byteLength === buffer.byteLength) {
    return new Uint8Array(buffer.buffer, 0, buffer.byteLength);
  }
  return Uint8Array.from(buffer);
}

class NodeAead implements Aead {
  readonly #key: KeyObject;

  constructor(key: Uint8Array) {
    this.#key = createSecretKey(key);
  }

  seal(nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const [body, tag] = this.sealDetached(nonce, ad, plaintext);
    const out = new Uint8Array(body.length + TAGLEN);
    out.set(body, 0);
    out.set(tag, body.length);
    return out;
  }

  sealInto(nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void {
    assertBytes(plaintext, 'plaintext');
    assertBytes(out, 'output', plaintext.length + TAGLEN);
    const [body, tag] = this.sealDetached(nonce, ad, plaintext);
    out.set(body, 0);
    out.set(tag, body.length);
  }

  sealDetached(nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): [Uint8Array, Uint8Array] {
    assertBytes(nonce, 'nonce', 12);
    assertBytes(ad, 'associated data');
    assertBytes(plaintext, 'plaintext');
    const cipher = createCipheriv(ALGORITHM, this.#key, nonce, { authTagLength: TAGLEN });
    if (ad.length > 0) cipher.setAAD(ad, { plaintextLength: plaintext.length });
    const body = cipher.update(plaintext);
    cipher.final();
    return [body, cipher.getAuthTag()];
  }

  sealParts(nonce: Uint8Array, ad: Uint8Array, parts: readonly Uint8Array[]): Uint8Array[] {
    assertBytes(nonce, 'nonce', 12);
    assertBytes(ad, 'associated data');
    let length = 0;
    for (const part of parts) {
      assertBytes(part, 'plaintext');
      length += part.length;
    }
    const cipher = createCipheriv(ALGORITHM, this.#key, nonce, { authTagLength: TAGLEN });
    if (ad.length > 0) cipher.setAAD(ad, { plaintextLength: length });
    const out: Uint8Array[] = [];
    for (const part of parts) if (part.length > 0) out.push(cipher.update(part));
    cipher.final();
    out.push(cipher.getAuthTag());
    return out;
  }

  open(nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | null {
    assertBytes(nonce, 'nonce', 12);
    assertBytes(ad, 'associated data');
    assertBytes(ciphertext, 'ciphertext');
    if (ciphertext.length < TAGLEN) return null;
    const bodyLength = ciphertext.length - TAGLEN;
    const decipher = createDecipheriv(ALGORITHM, this.#key, nonce, { authTagLength: TAGLEN });
    decipher.setAuthTag(ciphertext.subarray(bodyLength));
    if (ad.length > 0) decipher.setAAD(ad, { plaintextLength: bodyLength });
    const body = decipher.update(ciphertext.subarray(0, bodyLength));
    try {
      decipher.final();
    } catch {
      // final() throws on a bad tag; the unauthenticated plaintext is dropped.
      body.fill(0);
      return null;
    }
    return plain(body);
  }
}

function prepare(keyObject: KeyObject, knownPublicKey?: Uint8Array): X25519PrivateKey {
  const publicKey = knownPublicKey ?? rawPublic(keyObject);
  return {
    get publicKey(): Uint8Array {
      return publicKey.slice();
    },
    dh(remote: Uint8Array): Uint8Array {
      assertBytes(remote, 'X25519 public key', 32);
      let shared: Buffer;
      try {
        shared = diffieHellman({ privateKey: keyObject, publicKey: importPublic(remote) });
      } catch (error) {
        // OpenSSL refuses to derive the all-zero secret of a low-order point; match the pure provider.
        throw lowOrderError(error);
      }
      return checkSharedSecret(plain(shared));
    },
  };
}

const keys = new PreparedKeyCache<X25519PrivateKey>();

function freshKeyPair(): KeyPair {
  // Ask for JWK output instead of exporting the generated KeyObject: on Node 20, exporting a
  // key made by generateKeyPairSync can deadlock when a GC during the export destroys the
  // generation job, which locks the same key's mutex. Importing {d, x} back is cheap.
  // @types/node 20 lacks the 'jwk' overload that Node 20 implements.
  const { privateKey: jwk } = generateKeyPairSync('x25519', {
    publicKeyEncoding: { format: 'jwk' },
    privateKeyEncoding: { format: 'jwk' },
  } as never) as unknown as { privateKey: JsonWebKey };
  const privateKey = fromBase64url(jwk.d);
  const publicKey = fromBase64url(jwk.x);
  const keyObject = createPrivateKey({ key: jwk, format: 'jwk' });
  keys.set(privateKey, prepare(keyObject, publicKey));
  // The prepared key keeps `publicKey`: the caller gets its own copy.
  return { publicKey: publicKey.slice(), privateKey };
}

/**
 * An ephemeral key: the private half stays the KeyObject the generator made
 * (never exported, so no re-import, which costs about as much as generating);
 * only the public half comes out, as JWK from the generation job itself.
 */
function freshEphemeralKey(): X25519PrivateKey {
  const { publicKey: jwk, privateKey } = generateKeyPairSync('x25519', {
    publicKeyEncoding: { format: 'jwk' },
  } as never) as unknown as { publicKey: JsonWebKey; privateKey: KeyObject };
  return prepare(privateKey, fromBase64url(jwk.x));
}

// Ephemeral keys made ahead, one per event-loop turn while fewer than
// KEY_POOL_SIZE wait: generating one costs about as much as a DH, and a
// handshake needs one on each side at the moment it must answer. Each key is
// handed out once.
const KEY_POOL_SIZE = 4;
const keyPool: X25519PrivateKey[] = [];
let refillScheduled = false;

function refillKeyPool(): void {
  refillScheduled = false;
  if (keyPool.length >= KEY_POOL_SIZE) return;
  keyPool.push(freshEphemeralKey());
  scheduleRefill();
}

function scheduleRefill(): void {
  if (refillScheduled || keyPool.length >= KEY_POOL_SIZE) return;
  refillScheduled = true;
  setImmediate(refillKeyPool);
}

/** node:crypto provider: OpenSSL X25519 (keys held as KeyObjects), SHA-256, HMAC and ChaCha20-Poly1305. */
export const nodeCrypto: CryptoProvider = Object.freeze({
  name: 'node',
  generateKeyPair: freshKeyPair,
  generateEphemeralKey(): X25519PrivateKey {
    const key = keyPool.pop() ?? freshEphemeralKey();
    scheduleRefill();
    return key;
  },
  x25519(privateKey: Uint8Array, publicKey?: Uint8Array): X25519PrivateKey {
    return keys.get(privateKey, (copy) => prepare(importPrivate(copy, publicKey)));
  },
  sha256(...chunks: Uint8Array[]): Uint8Array {
    const h = createHash('sha256');
    for (const chunk of chunks) {
      assertBytes(chunk, 'hash input');
      h.update(chunk);
    }
    return plain(h.digest());
  },
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
    assertBytes(key, 'HMAC key');
    assertBytes(data, 'HMAC data');
    return plain(createHmac('sha256', key).update(data).digest());
  },
  aead(key: Uint8Array): Aead {
    assertBytes(key, 'ChaCha20-Poly1305 key', 32);
    return new NodeAead(key);
  },
});
