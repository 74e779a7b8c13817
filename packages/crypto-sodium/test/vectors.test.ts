import {
  createHandshake,
  defaultCrypto,
  nodeCrypto,
  pureJsCrypto,
  type CryptoProvider,
  type Handshake,
  type TransportCiphers,
} from '@peernet/noise';
import { sodiumCrypto } from '../src/index.js';
import { keyPairFrom, loadVectors, toHex, type Vector } from './helpers.js';

const vectors = loadVectors();

/** Replays a vector: every ciphertext byte for byte, every payload, the hash, the transport messages. */
function replay(vector: Vector, initiatorCrypto: CryptoProvider, responderCrypto: CryptoProvider): void {
  const initiator = createHandshake({
    initiator: true,
    prologue: vector.initPrologue,
    staticKeyPair: keyPairFrom(initiatorCrypto, vector.initStatic),
    ephemeralKeyPair: keyPairFrom(initiatorCrypto, vector.initEphemeral),
    crypto: initiatorCrypto,
  });
  const responder = createHandshake({
    initiator: false,
    prologue: vector.respPrologue,
    staticKeyPair: keyPairFrom(responderCrypto, vector.respStatic),
    ephemeralKeyPair: keyPairFrom(responderCrypto, vector.respEphemeral),
    crypto: responderCrypto,
  });
  const parties: Record<'initiator' | 'responder', Handshake> = { initiator, responder };
  const ciphers: Partial<Record<'initiator' | 'responder', TransportCiphers>> = {};

  vector.messages.forEach((message, index) => {
    const receiver = message.sender === 'initiator' ? 'responder' : 'initiator';
    let ciphertext: Uint8Array;
    let payload: Uint8Array;
    if (index < 3) {
      ciphertext = parties[message.sender].writeMessage(message.payload);
      expect(toHex(ciphertext)).toBe(toHex(message.ciphertext));
      payload = parties[receiver].readMessage(ciphertext);
      if (index === 2) {
        ciphers.initiator = initiator.split();
        ciphers.responder = responder.split();
      }
    } else {
      ciphertext = ciphers[message.sender]!.send.encrypt(message.payload);
      expect(toHex(ciphertext)).toBe(toHex(message.ciphertext));
      payload = ciphers[receiver]!.receive.decrypt(ciphertext);
    }
    expect(toHex(payload)).toBe(toHex(message.payload));
  });

  expect(initiator.isComplete).toBe(true);
  expect(responder.isComplete).toBe(true);
  expect(toHex(initiator.handshakeHash)).toBe(toHex(responder.handshakeHash));
  if (vector.handshakeHash !== undefined) expect(toHex(initiator.handshakeHash)).toBe(toHex(vector.handshakeHash));
  expect(toHex(initiator.remoteStaticKey!)).toBe(toHex(keyPairFrom(pureJsCrypto, vector.respStatic).publicKey));
  expect(toHex(responder.remoteStaticKey!)).toBe(toHex(keyPairFrom(pureJsCrypto, vector.initStatic).publicKey));
}

describe('Noise test vectors with the sodium provider', () => {
  it('finds all six XX vectors of the three sources, with transport messages', () => {
    expect(vectors.map((v) => v.label)).toEqual([
      'cacophony-XX_25519_ChaChaPoly_SHA256.json#0',
      'flynn-XX_25519_ChaChaPoly_SHA256.json#0',
      'flynn-XX_25519_ChaChaPoly_SHA256.json#1',
      'flynn-XX_25519_ChaChaPoly_SHA256.json#2',
      'flynn-XX_25519_ChaChaPoly_SHA256.json#3',
      'noise-c-XX_25519_ChaChaPoly_SHA256.json#0',
    ]);
    for (const vector of vectors) expect(vector.messages.length).toBeGreaterThanOrEqual(5);
  });

  const pairs: [string, CryptoProvider, CryptoProvider][] = [
    ['sodium', sodiumCrypto, sodiumCrypto],
    ['sodium initiator, pure-js responder', sodiumCrypto, pureJsCrypto],
    ['pure-js initiator, sodium responder', pureJsCrypto, sodiumCrypto],
    ['sodium initiator, node responder', sodiumCrypto, nodeCrypto],
    ['default initiator, sodium responder', defaultCrypto, sodiumCrypto],
  ];
  describe.each(pairs)('%s', (_name, initiatorCrypto, responderCrypto) => {
    it.each(vectors.map((v) => [v.label, v] as const))('replays %s', (_label, vector) => {
      replay(vector, initiatorCrypto, responderCrypto);
    });
  });
});
