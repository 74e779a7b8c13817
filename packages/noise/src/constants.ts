/** The full Noise protocol name; its 32 bytes are also the initial handshake hash. */
export const PROTOCOL_NAME = 'Noise_XX_25519_ChaChaPoly_SHA256';

/** Largest Noise message in bytes, handshake or transport (spec section 3). */
export const MAX_MESSAGE_LENGTH = 65535;

/** X25519 key and shared-secret length. */
export const DHLEN = 32;

/** SHA-256 output length. */
export const HASHLEN = 32;

/** ChaCha20-Poly1305 key length. */
export const KEYLEN = 32;

/** Poly1305 tag length. */
export const TAGLEN = 16;

/** Largest transport plaintext: a full message minus the tag. */
export const MAX_PLAINTEXT_LENGTH = MAX_MESSAGE_LENGTH - TAGLEN;
