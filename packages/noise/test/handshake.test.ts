import fc from 'fast-check';
import {
  createHandshake,
  defaultCrypto,
  generateKeyPair,
  MAX_MESSAGE_LENGTH,
  nodeCrypto,
  PROTOCOL_NAME,
  pureJsCrypto,
  type CryptoProvider,
  type Handshake,
} from '../src/index.js';
import { caught, keyPairFrom, loadVectors, offsetView, toHex, utf8 } from './helpers.js';

const cacophony = loadVectors().find((v) => v.label.startsWith('cacophony'))!;
const providers: [string, CryptoProvider][] = [
  ['pure-js', pureJsCrypto],
  ['node', nodeCrypto],
];

/** The cacophony vector's two parties, fresh; its messages are the expected bytes. */
function vectorParties(crypto: CryptoProvider): { initiator: Handshake; responder: Handshake } {
  const v = cacophony;
  return {
    initiator: createHandshake({
      initiator: true,
      prologue: v.initPrologue,
      staticKeyPair: keyPairFrom(crypto, v.initStatic),
      ephemeralKeyPair: keyPairFrom(crypto, v.initEphemeral),
      crypto,
    }),
    responder: createHandshake({
      initiator: false,
      prologue: v.respPrologue,
      staticKeyPair: keyPairFrom(crypto, v.respStatic),
      ephemeralKeyPair: keyPairFrom(crypto, v.respEphemeral),
      crypto,
    }),
  };
}
const [M1, M2, M3] = cacophony.messages.map((m) => m.ciphertext) as [Uint8Array, Uint8Array, Uint8Array];
const [P1, P2, P3] = cacophony.messages.map((m) => m.payload) as [Uint8Array, Uint8Array, Uint8Array];

/**
 * Finishes a vector handshake in which `exchanged` messages were written and
 * read, and the next one was already written if `pendingWritten`; checks every
 * byte, the hash and the first transport message against the vector.
 */
function finishAndCheck(initiator: Handshake, responder: Handshake, exchanged: number, pendingWritten: boolean): void {
  const expected = [M1, M2, M3];
  const payloads = [P1, P2, P3];
  for (let n = exchanged; n < 3; n++) {
    const [writer, reader] = n % 2 === 0 ? [initiator, responder] : [responder, initiator];
    const message = n === exchanged && pendingWritten ? expected[n]! : writer.writeMessage(payloads[n]);
    expect(toHex(message)).toBe(toHex(expected[n]!));
    expect(toHex(reader.readMessage(message))).toBe(toHex(payloads[n]!));
  }
  expect(toHex(initiator.handshakeHash)).toBe(toHex(cacophony.handshakeHash!));
  expect(toHex(responder.handshakeHash)).toBe(toHex(cacophony.handshakeHash!));
  const i = initiator.split();
  const r = responder.split();
  expect(toHex(r.send.encrypt(cacophony.messages[3]!.payload))).toBe(toHex(cacophony.messages[3]!.ciphertext));
  expect(toHex(i.receive.decrypt(cacophony.messages[3]!.ciphertext))).toBe(toHex(cacophony.messages[3]!.payload));
}

/** A complete handshake with fresh keys; returns both sides' transport ciphers. */
function handshake(initiatorCrypto: CryptoProvider, responderCrypto: CryptoProvider, prologue = utf8('peernet/1')) {
  const iKeys = generateKeyPair(initiatorCrypto);
  const rKeys = generateKeyPair(responderCrypto);
  const initiator = createHandshake({ initiator: true, prologue, staticKeyPair: iKeys, crypto: initiatorCrypto });
  const responder = createHandshake({ initiator: false, prologue, staticKeyPair: rKeys, crypto: responderCrypto });
  expect(responder.readMessage(initiator.writeMessage())).toEqual(new Uint8Array(0));
  expect(initiator.readMessage(responder.writeMessage(utf8('responder payload')))).toEqual(utf8('responder payload'));
  expect(responder.readMessage(initiator.writeMessage(utf8('initiator payload')))).toEqual(utf8('initiator payload'));
  expect(initiator.remoteStaticKey).toEqual(rKeys.publicKey);
  expect(responder.remoteStaticKey).toEqual(iKeys.publicKey);
  expect(initiator.handshakeHash).toEqual(responder.handshakeHash);
  return { initiator, responder, i: initiator.split(), r: responder.split() };
}

describe('handshake', () => {
  it('has the exact protocol name, 32 bytes long', () => {
    expect(PROTOCOL_NAME).toBe('Noise_XX_25519_ChaChaPoly_SHA256');
    expect(utf8(PROTOCOL_NAME)).toHaveLength(32);
    expect(MAX_MESSAGE_LENGTH).toBe(65535);
  });

  describe.each([
    ['pure-js -> node', pureJsCrypto, nodeCrypto],
    ['node -> pure-js', nodeCrypto, pureJsCrypto],
    ['default -> default', defaultCrypto, defaultCrypto],
  ])('between providers (%s)', (_name, a, b) => {
    it('completes and carries transport messages both ways, in order', () => {
      const { i, r } = handshake(a, b);
      for (const size of [0, 1, 255, 256, 4096, 65519]) {
        const data = Uint8Array.from({ length: size }, (_, k) => (k * 31 + size) & 0xff);
        expect(r.receive.decrypt(i.send.encrypt(data))).toEqual(data);
        expect(i.receive.decrypt(r.send.encrypt(data))).toEqual(data);
      }
      expect(i.send.nonce).toBe(6n);
      expect(r.receive.nonce).toBe(6n);
    });
  });

  describe.each(providers)('errors (%s)', (_name, crypto) => {
    it('refuses calls out of turn, with the state unchanged', () => {
      const { initiator, responder } = vectorParties(crypto);
      expect(caught(() => initiator.readMessage(M2))).toMatchObject({ code: 'noise_error', message: expect.stringMatching(/out of turn/) });
      expect(caught(() => responder.writeMessage(P2))).toMatchObject({ code: 'noise_error' });
      expect(toHex(initiator.writeMessage(P1))).toBe(toHex(M1));
      expect(caught(() => initiator.writeMessage(P3)).code).toBe('noise_error');
      expect(toHex(responder.readMessage(M1))).toBe(toHex(P1));
      expect(caught(() => responder.readMessage(M3)).code).toBe('noise_error');
      expect(toHex(responder.writeMessage(P2))).toBe(toHex(M2));
      expect(toHex(initiator.readMessage(M2))).toBe(toHex(P2));
      expect(toHex(initiator.writeMessage(P3))).toBe(toHex(M3));
      expect(toHex(responder.readMessage(M3))).toBe(toHex(P3));
    });

    it('refuses use after completion, split before completion, and a second split', () => {
      const { initiator, responder } = vectorParties(crypto);
      expect(caught(() => initiator.split())).toMatchObject({ code: 'noise_error', message: expect.stringMatching(/before the handshake is complete/) });
      expect(caught(() => initiator.handshakeHash).code).toBe('noise_error');
      expect(initiator.remoteStaticKey).toBeUndefined();
      responder.readMessage(initiator.writeMessage(P1));
      initiator.readMessage(responder.writeMessage(P2));
      expect(initiator.remoteStaticKey).toBeDefined();
      expect(responder.remoteStaticKey).toBeUndefined();
      expect(caught(() => responder.split()).code).toBe('noise_error');
      responder.readMessage(initiator.writeMessage(P3));
      expect(initiator.isComplete && responder.isComplete).toBe(true);
      expect(caught(() => initiator.writeMessage(P1))).toMatchObject({ code: 'noise_error', message: expect.stringMatching(/after the handshake completed/) });
      expect(caught(() => initiator.readMessage(M2)).code).toBe('noise_error');
      expect(caught(() => responder.readMessage(M3)).code).toBe('noise_error');
      initiator.split();
      expect(caught(() => initiator.split())).toMatchObject({ code: 'noise_error', message: expect.stringMatching(/already/) });
      expect(toHex(initiator.handshakeHash)).toBe(toHex(cacophony.handshakeHash!));
    });

    it('rejects every truncation of message 2, then completes with the real one', () => {
      const { initiator: i, responder: r } = vectorParties(crypto);
      r.readMessage(i.writeMessage(P1));
      r.writeMessage(P2);
      for (let length = 0; length < M2.length; length++) {
        const error = caught(() => i.readMessage(M2.subarray(0, length)));
        // e (32) + encrypted s (48) + payload tag (16): shorter is a framing error, longer an auth failure.
        expect(error.code).toBe(length < 96 ? 'noise_error' : 'decrypt_failed');
        if (length < 96) expect(error.message).toMatch(/truncated/);
      }
      expect(caught(() => i.readMessage(Uint8Array.of(...M2, 0))).code).toBe('decrypt_failed');
      expect(caught(() => i.readMessage(new Uint8Array(0))).code).toBe('noise_error');
      finishAndCheck(i, r, 1, true);
    });

    it('rejects every truncation and an extension of message 3, then completes with the real one', () => {
      const { initiator: i, responder: r } = vectorParties(crypto);
      r.readMessage(i.writeMessage(P1));
      i.readMessage(r.writeMessage(P2));
      i.writeMessage(P3);
      for (let length = 0; length < M3.length; length++) {
        expect(caught(() => r.readMessage(M3.subarray(0, length))).code).toBe(length < 64 ? 'noise_error' : 'decrypt_failed');
      }
      expect(caught(() => r.readMessage(Uint8Array.of(...M3, 1, 2, 3))).code).toBe('decrypt_failed');
      expect(r.remoteStaticKey).toBeUndefined();
      finishAndCheck(i, r, 2, true);
    });

    it('rejects a truncated message 1 (its payload is unauthenticated by design)', () => {
      const { initiator: i, responder: r } = vectorParties(crypto);
      i.writeMessage(P1);
      for (let length = 0; length < 32; length++) expect(caught(() => r.readMessage(M1.subarray(0, length))).code).toBe('noise_error');
      finishAndCheck(i, r, 0, true);
    });

    it('fails on a different prologue, naming the likely cause', () => {
      const { initiator } = vectorParties(crypto);
      const responder = createHandshake({
        initiator: false,
        prologue: utf8('something else'),
        staticKeyPair: keyPairFrom(crypto, cacophony.respStatic),
        crypto,
      });
      responder.readMessage(initiator.writeMessage());
      const m2 = responder.writeMessage();
      const error = caught(() => initiator.readMessage(m2));
      expect(error).toMatchObject({ code: 'decrypt_failed', name: 'DecryptError' });
      expect(error.message).toMatch(/prologue/);
    });

    it('refuses messages above 65535 bytes in and out', () => {
      const { initiator, responder } = vectorParties(crypto);
      expect(caught(() => initiator.writeMessage(new Uint8Array(MAX_MESSAGE_LENGTH - 32 + 1))).code).toBe('message_too_large');
      expect(caught(() => responder.readMessage(new Uint8Array(MAX_MESSAGE_LENGTH + 1))).code).toBe('message_too_large');
      const big = initiator.writeMessage(new Uint8Array(MAX_MESSAGE_LENGTH - 32));
      expect(big).toHaveLength(MAX_MESSAGE_LENGTH);
      expect(responder.readMessage(big)).toHaveLength(MAX_MESSAGE_LENGTH - 32);
      expect(caught(() => responder.writeMessage(new Uint8Array(MAX_MESSAGE_LENGTH - 96 + 1))).code).toBe('message_too_large');
      const m2 = responder.writeMessage(new Uint8Array(MAX_MESSAGE_LENGTH - 96));
      expect(m2).toHaveLength(MAX_MESSAGE_LENGTH);
      expect(initiator.readMessage(m2)).toHaveLength(MAX_MESSAGE_LENGTH - 96);
      expect(caught(() => initiator.writeMessage(new Uint8Array(MAX_MESSAGE_LENGTH - 64 + 1))).code).toBe('message_too_large');
      expect(initiator.writeMessage(new Uint8Array(MAX_MESSAGE_LENGTH - 64))).toHaveLength(MAX_MESSAGE_LENGTH);
    });

    it('rejects a low-order ephemeral key with a typed error and stays usable', () => {
      const { initiator: i, responder: r } = vectorParties(crypto);
      r.readMessage(i.writeMessage(P1));
      r.writeMessage(P2);
      // Message 2 whose ephemeral key is the all-zero point: ee yields the all-zero secret.
      const forged = Uint8Array.from(M2);
      forged.fill(0, 0, 32);
      expect(caught(() => i.readMessage(forged))).toMatchObject({ code: 'noise_error', message: expect.stringMatching(/low-order/) });
      // A responder that accepted a zero ephemeral in message 1 cannot write message 2.
      const victim = createHandshake({
        initiator: false,
        prologue: cacophony.respPrologue,
        staticKeyPair: keyPairFrom(crypto, cacophony.respStatic),
        crypto,
      });
      victim.readMessage(new Uint8Array(32));
      expect(caught(() => victim.writeMessage()).code).toBe('noise_error');
      finishAndCheck(i, r, 1, true);
    });

    it('validates options and arguments', () => {
      const good = keyPairFrom(crypto, cacophony.initStatic);
      const make = (options: Record<string, unknown>) => () =>
        createHandshake({ initiator: true, prologue: new Uint8Array(0), staticKeyPair: good, crypto, ...options } as never);
      expect(caught(make({ initiator: 'yes' })).code).toBe('invalid_argument');
      expect(caught(make({ prologue: 'peernet/1' })).code).toBe('invalid_argument');
      expect(caught(make({ staticKeyPair: undefined })).code).toBe('invalid_argument');
      expect(caught(make({ staticKeyPair: { ...good, privateKey: good.privateKey.subarray(1) } })).message).toMatch(
        /staticKeyPair.privateKey must be 32 bytes, got 31/,
      );
      expect(caught(make({ staticKeyPair: { ...good, publicKey: new Uint8Array(33) } })).code).toBe('invalid_argument');
      expect(caught(make({ staticKeyPair: { ...good, publicKey: new Uint8Array(32) } })).message).toMatch(/is not the public key/);
      const other = generateKeyPair(crypto);
      const mismatched = { privateKey: Uint8Array.from(good.privateKey), publicKey: other.publicKey };
      expect(caught(make({ staticKeyPair: mismatched })).message).toMatch(/staticKeyPair.publicKey is not the public key/);
      expect(caught(make({ ephemeralKeyPair: { publicKey: good.publicKey, privateKey: [1, 2] } })).message).toMatch(/must be a Uint8Array/);
      expect(caught(() => createHandshake(null as never)).code).toBe('invalid_argument');
      const handshake = make({})();
      expect(caught(() => handshake.writeMessage('hello' as never)).code).toBe('invalid_argument');
      handshake.writeMessage();
      expect(caught(() => handshake.readMessage(undefined as never)).code).toBe('invalid_argument');
    });

    it('accepts subarray inputs with a non-zero byteOffset everywhere', () => {
      const v = cacophony;
      const kp = (priv: Uint8Array) => {
        const pair = keyPairFrom(crypto, priv);
        return { privateKey: offsetView(pair.privateKey, 3), publicKey: offsetView(pair.publicKey, 9) };
      };
      const initiator = createHandshake({
        initiator: true,
        prologue: offsetView(v.initPrologue),
        staticKeyPair: kp(v.initStatic),
        ephemeralKeyPair: kp(v.initEphemeral),
        crypto,
      });
      const responder = createHandshake({
        initiator: false,
        prologue: offsetView(v.respPrologue, 1),
        staticKeyPair: kp(v.respStatic),
        ephemeralKeyPair: kp(v.respEphemeral),
        crypto,
      });
      const steps: [Handshake, Handshake, Uint8Array, Uint8Array][] = [
        [initiator, responder, P1, M1],
        [responder, initiator, P2, M2],
        [initiator, responder, P3, M3],
      ];
      for (const [writer, reader, payload, expected] of steps) {
        const message = writer.writeMessage(offsetView(payload, 5));
        expect(toHex(message)).toBe(toHex(expected));
        expect(toHex(reader.readMessage(offsetView(message, 11)))).toBe(toHex(payload));
      }
      expect(toHex(initiator.handshakeHash)).toBe(toHex(v.handshakeHash!));
      const i = initiator.split();
      const r = responder.split();
      const t = v.messages[3]!;
      expect(toHex(r.send.encrypt(offsetView(t.payload, 13), offsetView(new Uint8Array(0), 2)))).toBe(toHex(t.ciphertext));
      expect(toHex(i.receive.decrypt(offsetView(t.ciphertext, 17)))).toBe(toHex(t.payload));
    });

    it('returns payloads and keys that do not alias its inputs or its state', () => {
      const { initiator, responder } = vectorParties(crypto);
      const m1 = initiator.writeMessage(P1);
      const p1 = responder.readMessage(m1);
      m1.fill(0);
      expect(toHex(p1)).toBe(toHex(P1));
      initiator.readMessage(responder.writeMessage(P2));
      initiator.remoteStaticKey!.fill(0);
      expect(initiator.remoteStaticKey).toEqual(keyPairFrom(crypto, cacophony.respStatic).publicKey);
      responder.readMessage(initiator.writeMessage(P3));
      initiator.handshakeHash.fill(0);
      expect(toHex(initiator.handshakeHash)).toBe(toHex(cacophony.handshakeHash!));
    });
  });

  describe.each(providers)('properties (%s)', (_name, crypto) => {
    const runs = crypto === pureJsCrypto ? 12 : 40;

    it('round-trips random payloads through the handshake and transport', () => {
      const payload = fc.uint8Array({ maxLength: 2000 });
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), payload, payload, payload, fc.array(payload, { maxLength: 4 }), (prologue, p1, p2, p3, transport) => {
          const a = generateKeyPair(crypto);
          const b = generateKeyPair(crypto);
          const initiator = createHandshake({ initiator: true, prologue, staticKeyPair: a, crypto });
          const responder = createHandshake({ initiator: false, prologue, staticKeyPair: b, crypto });
          expect(responder.readMessage(initiator.writeMessage(p1))).toEqual(p1);
          expect(initiator.readMessage(responder.writeMessage(p2))).toEqual(p2);
          expect(responder.readMessage(initiator.writeMessage(p3))).toEqual(p3);
          const i = initiator.split();
          const r = responder.split();
          for (const data of transport) {
            expect(r.receive.decrypt(i.send.encrypt(data))).toEqual(data);
            expect(i.receive.decrypt(r.send.encrypt(data))).toEqual(data);
          }
        }),
        { numRuns: runs },
      );
    });

    const mutation = (length: number) =>
      fc.oneof(
        fc.record({ kind: fc.constant('flip' as const), index: fc.nat({ max: length - 1 }), bit: fc.nat({ max: 7 }) }),
        fc.record({ kind: fc.constant('cut' as const), index: fc.nat({ max: length - 1 }), bit: fc.constant(0) }),
        fc.record({ kind: fc.constant('append' as const), index: fc.nat({ max: 40 }), bit: fc.constant(1) }),
      );
    const mutate = (message: Uint8Array, m: { kind: 'flip' | 'cut' | 'append'; index: number; bit: number }) => {
      if (m.kind === 'cut') return message.slice(0, m.index);
      if (m.kind === 'append') return Uint8Array.of(...message, ...new Uint8Array(m.index + 1));
      const out = Uint8Array.from(message);
      out[m.index]! ^= 1 << m.bit;
      return out;
    };

    it('rejects every mutation of message 2 and stays able to complete', () => {
      const { initiator: i, responder: r } = vectorParties(crypto);
      r.readMessage(i.writeMessage(P1));
      r.writeMessage(P2);
      fc.assert(
        fc.property(mutation(M2.length), (m) => {
          const error = caught(() => i.readMessage(mutate(M2, m)));
          expect(['noise_error', 'decrypt_failed']).toContain(error.code);
        }),
        { numRuns: runs * 3 },
      );
      finishAndCheck(i, r, 1, true);
    });

    it('rejects every mutation of message 3 and stays able to complete', () => {
      const { initiator: i, responder: r } = vectorParties(crypto);
      r.readMessage(i.writeMessage(P1));
      i.readMessage(r.writeMessage(P2));
      i.writeMessage(P3);
      fc.assert(
        fc.property(mutation(M3.length), (m) => {
          const error = caught(() => r.readMessage(mutate(M3, m)));
          expect(['noise_error', 'decrypt_failed']).toContain(error.code);
        }),
        { numRuns: runs * 3 },
      );
      expect(r.remoteStaticKey).toBeUndefined();
      finishAndCheck(i, r, 2, true);
    });
  });
});
