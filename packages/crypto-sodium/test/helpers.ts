// Small helpers of the provider tests.
import type { CryptoProvider, KeyPair } from '@peernet/noise';

export const hex = (text: string | undefined): Uint8Array => Uint8Array.from(Buffer.from(text ?? '', 'hex'));
export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** A key pair from a private key, its public half derived by `crypto`. */
export function keyPairFrom(crypto: CryptoProvider, privateKey: Uint8Array): KeyPair {
  return { privateKey, publicKey: crypto.x25519(privateKey).publicKey };
}

/** Copies `bytes` into a larger buffer at a non-zero offset and returns the view. */
export function offsetView(bytes: Uint8Array, offset = 7): Uint8Array {
  const buffer = new Uint8Array(bytes.length + offset + 5).fill(0xa5);
  buffer.set(bytes, offset);
  return buffer.subarray(offset, offset + bytes.length);
}

/** Runs `fn`, expecting a throw; returns the error. */
export function caught(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a throw');
}
