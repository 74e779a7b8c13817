import { defaultCrypto } from './crypto/default.js';
import type { CryptoProvider, KeyPair } from './crypto/provider.js';
import { createXXHandshake, type Handshake, type HandshakeOptions } from './handshake.js';

export { MAX_MESSAGE_LENGTH, MAX_PLAINTEXT_LENGTH, PROTOCOL_NAME } from './constants.js';
export { DecryptError, NoiseError, NonceExhaustedError } from './errors.js';
export type { CipherState } from './cipher-state.js';
export type { Handshake, HandshakeOptions, TransportCiphers } from './handshake.js';
export type { Aead, CryptoProvider, KeyPair, X25519PrivateKey } from './crypto/provider.js';
export { pureJsCrypto } from './crypto/pure.js';
export { nodeCrypto } from './crypto/node.js';
export { defaultCrypto };

/** Starts a Noise_XX_25519_ChaChaPoly_SHA256 handshake as initiator or responder. */
export function createHandshake(options: HandshakeOptions): Handshake {
  return createXXHandshake(options, options?.crypto ?? defaultCrypto);
}

/** Generates a random X25519 key pair (raw 32-byte keys) with `crypto`, `defaultCrypto` by default. */
export function generateKeyPair(crypto: CryptoProvider = defaultCrypto): KeyPair {
  return crypto.generateKeyPair();
}
