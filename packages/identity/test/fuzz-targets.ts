// Fuzz targets of what identity reads from the network: peer ids in text
// form (mDNS labels and TXT strings, command lines) and Ed25519 keys from
// handshake payloads, whose X25519 form is compared with the Noise static
// key. test/properties.test.ts runs each a few hundred times; `pnpm fuzz`
// runs them for millions of inputs (tooling/fuzz).
import assert from 'node:assert/strict';
import { x25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { InvalidPeerIdError, PeerId } from '@peernet/interface';
import type { FuzzTarget } from '../../../tooling/fuzz/target.js';
import { formatPeerId, identityFromSeed, parsePeerId, x25519PublicKeyOf } from '../src/index.js';

const known = identityFromSeed(new Uint8Array(32).fill(5));
const knownForm = known.noiseKeyPair().publicKey;
const knownTwin = (() => {
  const bytes = known.id.bytes;
  bytes[31] = bytes[31]! ^ 0x80;
  return PeerId.fromBytes(bytes);
})();
/** X25519 as a Noise provider's DH behaves: an all-zero result throws. */
export function scalarMult(scalar: Uint8Array, u: Uint8Array): Uint8Array {
  const out = x25519.scalarMult(scalar, u);
  if (out.every((byte) => byte === 0)) throw new Error('all-zero X25519 output');
  return out;
}
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const HEX = '0123456789abcdefABCDEF';

function typed<T>(run: () => T): T | undefined {
  try {
    return run();
  } catch (error) {
    if (error instanceof InvalidPeerIdError) return undefined;
    throw error;
  }
}

const text = fc.oneof(
  fc.string({ maxLength: 70 }),
  fc.string({ unit: fc.constantFrom(...BASE32), minLength: 50, maxLength: 54 }),
  fc.string({ unit: fc.constantFrom(...HEX), minLength: 62, maxLength: 66 }),
  fc.string({ unit: fc.constantFrom(...BASE32, 'A', '=', '1', ' ', 'é', '\u0000'), minLength: 52, maxLength: 52 }),
  fc.constantFrom(known.id.toString(), known.id.toHex(), known.id.toHex().toUpperCase(), `${known.id.toString()} `),
);

/** Text forms: only InvalidPeerIdError, and what parses has exactly one base32 form it came from or maps to. */
const peerIdText = fc.property(text, (input) => {
  const id = typed(() => parsePeerId(input));
  if (id === undefined) return;
  assert.equal(id.bytes.length, 32);
  if (input.length === 52) assert.equal(formatPeerId(id), input, 'a base32 id that is not the canonical form was accepted');
  else assert.equal(id.toHex(), input.toLowerCase());
  assert.ok(parsePeerId(formatPeerId(id)).equals(id));
});

const edit = fc.record({ at: fc.nat({ max: 31 }), value: fc.nat({ max: 255 }), flip: fc.boolean() });
/** Keys as a hostile handshake payload may carry them: random, a real key changed a little, and special points. */
const key = fc.oneof(
  fc.uint8Array({ minLength: 32, maxLength: 32 }),
  fc.array(edit, { minLength: 1, maxLength: 2 }).map((edits) => {
    const out = known.id.bytes;
    for (const e of edits) out[e.at] = e.flip ? out[e.at]! ^ (1 << (e.value & 7)) : e.value;
    return out;
  }),
  fc.constantFrom(
    new Uint8Array(32),
    Uint8Array.of(1, ...new Array<number>(31).fill(0)),
    Uint8Array.of(...new Array<number>(31).fill(0xff), 0x7f),
    Uint8Array.of(0xec, ...new Array<number>(30).fill(0xff), 0x7f),
  ),
  fc.constant(0).map(() => knownTwin.bytes),
);

/**
 * The X25519 form of any 32 bytes: a 32-byte key or InvalidPeerIdError, and
 * the real one for a real key. The map u = (1 + y) / (1 - y) ignores the sign
 * of x, so a key and its negation (the same bytes but the top bit) share one
 * X25519 form; no other key shares it. The negation's secret scalar is the
 * negated secret scalar, so only the owner of a key can use its twin.
 */
const x25519Form = fc.property(key, (bytes) => {
  const id = PeerId.fromBytes(bytes);
  const form = typed(() => x25519PublicKeyOf(id));
  // The check through a supplied X25519 accepts and refuses exactly the same keys.
  assert.deepEqual(typed(() => x25519PublicKeyOf(id, { x25519: scalarMult })), form);
  if (form === undefined) return;
  assert.equal(form.length, 32);
  if (id.equals(known.id) || id.equals(knownTwin)) assert.deepEqual(form, knownForm);
  else assert.notDeepEqual(form, knownForm, 'two peer ids other than a key and its negation map to one Noise key');
});

/** The identity targets, by name. */
export const targets: FuzzTarget[] = [
  {
    name: 'identity.peer-id-text',
    summary: 'parsePeerId on random, near-base32 and near-hex strings',
    ciRuns: 500,
    property: peerIdText,
  },
  {
    name: 'identity.x25519-form',
    summary: 'x25519PublicKeyOf on random, mutated and special Ed25519 keys',
    ciRuns: 200,
    property: x25519Form,
  },
];
