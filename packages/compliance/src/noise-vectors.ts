// The published Noise test vectors and their replay, for every crypto provider
// (the noise package's own and any other): the vectors are read from files at
// test time, the replay checks every ciphertext byte for byte.
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** One message of a vector, with the party that sends it. */
export interface NoiseVectorMessage {
  readonly sender: 'initiator' | 'responder';
  readonly payload: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** A vector from any of the three sources, normalised. */
export interface NoiseVector {
  readonly label: string;
  readonly initPrologue: Uint8Array;
  readonly respPrologue: Uint8Array;
  readonly initStatic: Uint8Array;
  readonly respStatic: Uint8Array;
  readonly initEphemeral: Uint8Array;
  readonly respEphemeral: Uint8Array;
  /** Three handshake messages, then transport messages. */
  readonly messages: readonly NoiseVectorMessage[];
  readonly handshakeHash: Uint8Array | undefined;
}

/** What the replay needs of a crypto provider: a `CryptoProvider` of `@peernet/noise` fits. */
export interface VectorCrypto {
  x25519(privateKey: Uint8Array): { readonly publicKey: Uint8Array };
}

interface VectorCiphers {
  send: { encrypt(plaintext: Uint8Array): Uint8Array };
  receive: { decrypt(ciphertext: Uint8Array): Uint8Array };
}

interface VectorHandshake {
  writeMessage(payload?: Uint8Array): Uint8Array;
  readMessage(message: Uint8Array): Uint8Array;
  split(): VectorCiphers;
  readonly isComplete: boolean;
  readonly handshakeHash: Uint8Array;
  readonly remoteStaticKey: Uint8Array | undefined;
}

/** The handshake factory and the providers of one replay: `createHandshake` of `@peernet/noise` fits. */
export interface ReplayOptions<C extends VectorCrypto> {
  createHandshake(options: {
    initiator: boolean;
    prologue: Uint8Array;
    staticKeyPair: { publicKey: Uint8Array; privateKey: Uint8Array };
    ephemeralKeyPair: { publicKey: Uint8Array; privateKey: Uint8Array };
    crypto: C;
  }): VectorHandshake;
  /** The initiator's provider. */
  initiator: C;
  /** The responder's provider. */
  responder: C;
}

const hex = (text: string | undefined): Uint8Array => Uint8Array.from(Buffer.from(text ?? '', 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function defaultVectorDir(): string {
  const shared = process.env.PEERNET_SHARED_DIR;
  if (shared === undefined) throw new Error('PEERNET_SHARED_DIR is not set: give loadNoiseVectors the vector folder');
  return path.join(shared, 'test-vectors/noise');
}

/** A key pair from a private key, its public half derived by `crypto`. */
export function vectorKeyPair(crypto: VectorCrypto, privateKey: Uint8Array): { publicKey: Uint8Array; privateKey: Uint8Array } {
  return { privateKey, publicKey: crypto.x25519(privateKey).publicKey };
}

/**
 * Replays `vector` between an initiator and a responder on the given
 * providers: every handshake and transport ciphertext must equal the
 * vector's byte for byte, every payload must come back, and the handshake
 * hashes and remote static keys must match. Throws an `AssertionError`
 * naming the message that differs.
 */
export function replayNoiseVector<C extends VectorCrypto>(vector: NoiseVector, options: ReplayOptions<C>): void {
  const party = (initiator: boolean): VectorHandshake => {
    const crypto = initiator ? options.initiator : options.responder;
    return options.createHandshake({
      initiator,
      prologue: initiator ? vector.initPrologue : vector.respPrologue,
      staticKeyPair: vectorKeyPair(crypto, initiator ? vector.initStatic : vector.respStatic),
      ephemeralKeyPair: vectorKeyPair(crypto, initiator ? vector.initEphemeral : vector.respEphemeral),
      crypto,
    });
  };
  const parties = { initiator: party(true), responder: party(false) };
  const ciphers: Partial<Record<'initiator' | 'responder', VectorCiphers>> = {};
  vector.messages.forEach((message, index) => {
    const receiver = message.sender === 'initiator' ? 'responder' : 'initiator';
    const what = `${vector.label} message ${index}`;
    let ciphertext: Uint8Array;
    let payload: Uint8Array;
    if (index < 3) {
      ciphertext = parties[message.sender].writeMessage(message.payload);
      assert.equal(toHex(ciphertext), toHex(message.ciphertext), `${what}: ciphertext`);
      payload = parties[receiver].readMessage(ciphertext);
      if (index === 2) {
        ciphers.initiator = parties.initiator.split();
        ciphers.responder = parties.responder.split();
      }
    } else {
      ciphertext = (ciphers[message.sender] as VectorCiphers).send.encrypt(message.payload);
      assert.equal(toHex(ciphertext), toHex(message.ciphertext), `${what}: ciphertext`);
      payload = (ciphers[receiver] as VectorCiphers).receive.decrypt(ciphertext);
    }
    assert.equal(toHex(payload), toHex(message.payload), `${what}: payload`);
  });
  const { initiator, responder } = parties;
  assert.ok(initiator.isComplete && responder.isComplete, `${vector.label}: handshake not complete`);
  assert.equal(toHex(initiator.handshakeHash), toHex(responder.handshakeHash), `${vector.label}: handshake hashes differ`);
  if (vector.handshakeHash !== undefined) {
    assert.equal(toHex(initiator.handshakeHash), toHex(vector.handshakeHash), `${vector.label}: handshake hash`);
  }
  assert.equal(toHex(initiator.remoteStaticKey as Uint8Array), toHex(vectorKeyPair(options.responder, vector.respStatic).publicKey));
  assert.equal(toHex(responder.remoteStaticKey as Uint8Array), toHex(vectorKeyPair(options.initiator, vector.initStatic).publicKey));
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

/**
 * Reads every Noise_XX_25519_ChaChaPoly_SHA256 vector file (cacophony,
 * noise-c and flynn/noise formats) in `dir`: by default the `test-vectors/noise`
 * folder of `PEERNET_SHARED_DIR`, which the jest preset sets.
 */
export function loadNoiseVectors(dir = defaultVectorDir()): NoiseVector[] {
  const vectors: NoiseVector[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const list = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Raw[];
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
        const messages: NoiseVectorMessage[] = [];
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
