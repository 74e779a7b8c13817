import { PeerNetError, type PeerNetErrorOptions } from '@peernet/interface';

/**
 * A Noise protocol failure: a call out of turn, a truncated message, a bad
 * Diffie-Hellman result. The handshake state is unchanged when it is thrown.
 */
export class NoiseError extends PeerNetError {
  constructor(message: string, options?: PeerNetErrorOptions) {
    super('noise_error', message, options);
  }
}

/** Authenticated decryption failed: wrong key, wrong nonce, or altered bytes. */
export class DecryptError extends PeerNetError {
  constructor(message = 'decryption failed: message is not authentic', options?: PeerNetErrorOptions) {
    super('decrypt_failed', message, options);
  }
}

/** The cipher state reached nonce 2^64-1, which the Noise spec reserves; the session must end. */
export class NonceExhaustedError extends PeerNetError {
  constructor(message = 'nonce exhausted: the cipher state reached 2^64-1', options?: PeerNetErrorOptions) {
    super('nonce_exhausted', message, options);
  }
}
