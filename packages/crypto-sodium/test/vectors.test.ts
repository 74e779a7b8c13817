import { loadNoiseVectors, replayNoiseVector } from '@peernet/compliance';
import { createHandshake, defaultCrypto, nodeCrypto, pureJsCrypto, type CryptoProvider } from '@peernet/noise';
import { sodiumCrypto } from '../src/index.js';

const vectors = loadNoiseVectors();

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
      replayNoiseVector<CryptoProvider>(vector, { createHandshake, initiator: initiatorCrypto, responder: responderCrypto });
    });
  });
});
