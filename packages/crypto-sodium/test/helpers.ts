// The Noise vector loader of packages/noise/test/helpers.ts, trimmed to what these tests use.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { CryptoProvider, KeyPair } from '@peernet/noise';

export const hex = (text: string | undefined): Uint8Array => Uint8Array.from(Buffer.from(text ?? '', 'hex'));
export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** One message of a vector, with the party that sends it. */
export interface VectorMessage {
  readonly sender: 'initiator' | 'responder';
  readonly payload: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** A vector from any of the three files, normalised. */
export interface Vector {
  readonly label: string;
  readonly initPrologue: Uint8Array;
  readonly respPrologue: Uint8Array;
  readonly initStatic: Uint8Array;
  readonly respStatic: Uint8Array;
  readonly initEphemeral: Uint8Array;
  readonly respEphemeral: Uint8Array;
  /** Three handshake messages, then transport messages. */
  readonly messages: readonly VectorMessage[];
  readonly handshakeHash: Uint8Array | undefined;
}

type Raw = Record<string, unknown>;
const str = (raw: Raw, key: string): string | undefined => {
  const value = raw[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new Error(`vector field ${key} is not a string`);
  return value;
};
const need = (raw: Raw, key: string): string => {
  const value = str(raw, key);
  if (value === undefined) throw new Error(`vector field ${key} is missing`);
  return value;
};

export const VECTOR_DIR = path.join(process.env.PEERNET_SHARED_DIR!, 'test-vectors/noise');

/** Reads every vector file in the shared directory (cacophony, noise-c and flynn formats). */
export function loadVectors(): Vector[] {
  const vectors: Vector[] = [];
  for (const file of readdirSync(VECTOR_DIR).filter((f) => f.endsWith('.json')).sort()) {
    const list = JSON.parse(readFileSync(path.join(VECTOR_DIR, file), 'utf8')) as Raw[];
    list.forEach((raw, index) => {
      const label = `${file}#${index}`;
      const name = str(raw, 'protocol_name') ?? str(raw, 'name') ?? str(raw, 'handshake');
      if (name !== 'Noise_XX_25519_ChaChaPoly_SHA256') throw new Error(`${label}: unexpected protocol ${name}`);
      if (Array.isArray(raw.messages)) {
        // cacophony / noise-c: even index = initiator, odd = responder, transport included.
        vectors.push({
          label,
          initPrologue: hex(str(raw, 'init_prologue')),
          respPrologue: hex(str(raw, 'resp_prologue')),
          initStatic: hex(need(raw, 'init_static')),
          respStatic: hex(need(raw, 'resp_static')),
          initEphemeral: hex(need(raw, 'init_ephemeral')),
          respEphemeral: hex(need(raw, 'resp_ephemeral')),
          messages: (raw.messages as Raw[]).map((m, i) => ({
            sender: i % 2 === 0 ? 'initiator' : 'responder',
            payload: hex(need(m, 'payload')),
            ciphertext: hex(need(m, 'ciphertext')),
          })),
          handshakeHash: raw.handshake_hash === undefined ? undefined : hex(need(raw, 'handshake_hash')),
        });
      } else {
        // flynn: msg_3 on the first split cipher (initiator sends), msg_4 on the second.
        const senders = ['initiator', 'responder', 'initiator', 'initiator', 'responder'] as const;
        const messages: VectorMessage[] = [];
        for (let i = 0; str(raw, `msg_${i}_ciphertext`) !== undefined; i++) {
          messages.push({
            sender: senders[i]!,
            payload: hex(need(raw, `msg_${i}_payload`)),
            ciphertext: hex(need(raw, `msg_${i}_ciphertext`)),
          });
        }
        const prologue = hex(str(raw, 'prologue'));
        vectors.push({
          label,
          initPrologue: prologue,
          respPrologue: prologue,
          initStatic: hex(need(raw, 'init_static')),
          respStatic: hex(need(raw, 'resp_static')),
          initEphemeral: hex(need(raw, 'gen_init_ephemeral')),
          respEphemeral: hex(need(raw, 'gen_resp_ephemeral')),
          messages,
          handshakeHash: undefined,
        });
      }
    });
  }
  return vectors;
}

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
