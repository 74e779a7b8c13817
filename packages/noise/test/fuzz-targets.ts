// Fuzz targets of the Noise state machine: every message a peer can send it,
// random or a mutation of the genuine one, at every step of the handshake
// and in transport. test/properties.test.ts runs each a few hundred times;
// `pnpm fuzz` runs them for millions of inputs (tooling/fuzz).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MessageTooLargeError } from '@peernet/interface';
import type { FuzzTarget } from '../../../tooling/fuzz/target.js';
import {
  DecryptError,
  NoiseError,
  NonceExhaustedError,
  createHandshake,
  defaultCrypto,
  generateKeyPair,
  type KeyPair,
} from '../src/index.js';

const crypto = defaultCrypto;
const prologue = new TextEncoder().encode('peernet/1');
const keys = {
  initiator: generateKeyPair(crypto),
  responder: generateKeyPair(crypto),
  initiatorE: generateKeyPair(crypto),
  responderE: generateKeyPair(crypto),
};
const P1 = new Uint8Array(0);
const P2 = Uint8Array.from({ length: 34 }, (_, i) => i + 1);
const P3 = Uint8Array.from({ length: 34 }, (_, i) => 100 + i);

// Fixed ephemerals make a handshake deterministic, so a party can be brought
// to any step again, and "the state is unchanged" is checked by the bytes it
// writes next.
const initiatorAt = () =>
  createHandshake({ initiator: true, prologue, staticKeyPair: keys.initiator, ephemeralKeyPair: keys.initiatorE, crypto });
const responderAt = () =>
  createHandshake({ initiator: false, prologue, staticKeyPair: keys.responder, ephemeralKeyPair: keys.responderE, crypto });

function session(responderStatic: KeyPair, responderE: KeyPair, initiatorE: KeyPair) {
  const i = createHandshake({ initiator: true, prologue, staticKeyPair: keys.initiator, ephemeralKeyPair: initiatorE, crypto });
  const r = createHandshake({ initiator: false, prologue, staticKeyPair: responderStatic, ephemeralKeyPair: responderE, crypto });
  const m1 = i.writeMessage(P1);
  r.readMessage(m1);
  const m2 = r.writeMessage(P2);
  i.readMessage(m2);
  const m3 = i.writeMessage(P3);
  r.readMessage(m3);
  return { m1, m2, m3, i: i.split(), r: r.split() };
}
const genuine = session(keys.responder, keys.responderE, keys.initiatorE);
// The messages of another session between the same two peers: valid Noise, other ephemeral keys.
const other = session(keys.responder, generateKeyPair(crypto), generateKeyPair(crypto));
const messages = [genuine.m1, genuine.m2, genuine.m3];

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: fc.nat({ max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), value: fc.constant(0) }),
  fc.record({ kind: fc.constant('append' as const), at: fc.nat({ max: 64 }), value: fc.nat({ max: 255 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), value: fc.constant(0) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(message: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let out = Array.from(message);
  for (const m of mutations) {
    const i = out.length === 0 ? 0 : m.at % out.length;
    if (m.kind === 'flip') out[i] = (out[i] ?? 0) ^ (1 << m.value);
    else if (m.kind === 'replace') out[i] = m.value;
    else if (m.kind === 'cut') out = out.slice(0, i);
    else if (m.kind === 'delete') out.splice(i, 1);
    else out.push(...new Array<number>(m.at + 1).fill(m.value));
  }
  return Uint8Array.from(out);
}

/** What a peer might send instead of `real`: noise, near-misses of it, and other genuine messages. */
function hostile(real: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }).map((ms) => mutate(real, ms)) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 200 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: real.length, maxLength: real.length }) },
    { weight: 1, arbitrary: fc.constantFrom(genuine.m1, genuine.m2, genuine.m3, other.m1, other.m2, other.m3, new Uint8Array(0)) },
    // Low-order and non-canonical X25519 points in the ephemeral key position.
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(new Uint8Array(32), Uint8Array.of(1, ...new Array<number>(31).fill(0)), new Uint8Array(32).fill(0xff))
        .map((point) => Uint8Array.of(...point, ...real.subarray(32))),
    },
    { weight: 1, arbitrary: fc.constantFrom(65535, 65536).map((n) => new Uint8Array(n)) },
  );
}

function expectTyped(run: () => Uint8Array): Uint8Array | undefined {
  try {
    return run();
  } catch (error) {
    if (error instanceof NoiseError || error instanceof DecryptError || error instanceof MessageTooLargeError) return undefined;
    throw error;
  }
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * A party at step `step` (1: responder reads M1, 2: initiator reads M2,
 * 3: responder reads M3) reads a hostile message: it throws only typed
 * errors; it accepts M2 or M3 only if the bytes are the genuine message (any
 * other acceptance would be a forgery); and after a refusal it still
 * completes the genuine handshake, writing the same bytes as before.
 */
const handshakeStep = fc.property(
  fc.constantFrom(1, 2, 3).chain((step) => fc.tuple(fc.constant(step), hostile(messages[step - 1] as Uint8Array))),
  ([step, message]) => {
    if (step === 1) {
      const r = responderAt();
      const payload = expectTyped(() => r.readMessage(message));
      if (payload !== undefined) {
        // M1 is not authenticated: any 32-byte key followed by a payload is readable by design.
        assert.ok(message.length >= 32);
        assert.deepEqual(payload, message.subarray(32));
        try {
          r.writeMessage(P2);
        } catch (error) {
          // A low-order ephemeral key makes the DH fail: typed, and the state stays usable.
          assert.ok(error instanceof NoiseError, `writeMessage after a hostile M1 threw ${String(error)}`);
        }
        return;
      }
      assert.deepEqual(r.readMessage(genuine.m1), P1);
      assert.deepEqual(r.writeMessage(P2), genuine.m2);
      return;
    }
    if (step === 2) {
      const i = initiatorAt();
      i.writeMessage(P1);
      const payload = expectTyped(() => i.readMessage(message));
      if (payload !== undefined) {
        assert.ok(sameBytes(message, genuine.m2), 'a message 2 that is not the genuine one was accepted');
        return;
      }
      assert.equal(i.remoteStaticKey, undefined);
      assert.deepEqual(i.readMessage(genuine.m2), P2);
      assert.deepEqual(i.writeMessage(P3), genuine.m3);
      return;
    }
    const r = responderAt();
    r.readMessage(genuine.m1);
    r.writeMessage(P2);
    const payload = expectTyped(() => r.readMessage(message));
    if (payload !== undefined) {
      assert.ok(sameBytes(message, genuine.m3), 'a message 3 that is not the genuine one was accepted');
      return;
    }
    assert.equal(r.remoteStaticKey, undefined);
    assert.deepEqual(r.readMessage(genuine.m3), P3);
    assert.ok(r.isComplete);
  },
);

const MAX_NONCE = 2n ** 64n - 1n;
/**
 * Transport: at any nonce, a hostile message fails with a typed error and
 * leaves the nonce where it was, so the genuine message still decrypts; no
 * nonce at or beyond 2^64-1 is ever used.
 */
const transport = fc.property(
  fc.oneof(fc.bigInt({ min: 0n, max: 1000n }), fc.constantFrom(2n ** 32n - 1n, 2n ** 32n, MAX_NONCE - 1n, MAX_NONCE)),
  fc.uint8Array({ maxLength: 100 }),
  fc.boolean(),
  fc.oneof(
    fc.array(mutation, { minLength: 1, maxLength: 3 }).map((ms) => ({ ms, random: undefined })),
    fc.uint8Array({ maxLength: 150 }).map((random) => ({ ms: [] as Mutation[], random })),
  ),
  (nonce, plaintext, fromInitiator, change) => {
    const send = fromInitiator ? genuine.i.send : genuine.r.send;
    const receive = fromInitiator ? genuine.r.receive : genuine.i.receive;
    receive.setNonce(nonce);
    if (nonce === MAX_NONCE) {
      assert.throws(() => receive.decrypt(new Uint8Array(16)), NonceExhaustedError);
      assert.equal(receive.nonce, nonce);
      return;
    }
    send.setNonce(nonce);
    const real = send.encrypt(plaintext);
    const message = change.random ?? mutate(real, change.ms);
    let opened: Uint8Array | undefined;
    try {
      opened = receive.decrypt(message);
    } catch (error) {
      assert.ok(error instanceof DecryptError || error instanceof MessageTooLargeError, `decrypt threw ${String(error)}`);
      assert.equal(receive.nonce, nonce, 'a failed decrypt moved the nonce');
    }
    if (opened !== undefined) {
      assert.ok(sameBytes(message, real), 'a transport message that is not the genuine one was accepted');
      return;
    }
    assert.deepEqual(receive.decrypt(real), plaintext);
    assert.equal(receive.nonce, nonce + 1n);
  },
);

/** The Noise targets, by name. */
export const targets: FuzzTarget[] = [
  {
    name: 'noise.handshake',
    summary: 'readMessage at each of the three steps on random and mutated messages',
    ciRuns: 200,
    property: handshakeStep,
  },
  {
    name: 'noise.transport',
    summary: 'decrypt at any nonce on random and mutated transport messages',
    ciRuns: 500,
    property: transport,
  },
];
