// Fuzz target of the UDP announcement parser: what anyone on the LAN can send
// to port 4040. test/properties.test.ts runs it a few hundred times;
// `pnpm fuzz` runs it for millions of inputs (tooling/fuzz).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { identityFromSeed } from '@peernet/identity';
import type { FuzzTarget } from '../../../tooling/fuzz/target.js';
import { PACKET_BYTES, ReplayTable, decodeAnnouncement, encodeAnnouncement, type DropReason } from '../src/index.js';

const NOW = 1_700_000_000_000;
const sender = identityFromSeed(new Uint8Array(32).fill(7));
const receiver = identityFromSeed(new Uint8Array(32).fill(9));
const genuine = [
  encodeAnnouncement({ identity: sender, port: 4100, now: NOW }),
  encodeAnnouncement({ identity: sender, port: 1, goodbye: true, now: NOW - 29_999 }),
  encodeAnnouncement({ identity: sender, port: 65535, now: NOW + 30_000 }),
];
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const genuineHex = new Set(genuine.map(hex));

const REASONS = new Set<DropReason>([
  'malformed', 'badMagic', 'badVersion', 'badFlags', 'badPort', 'stale', 'own', 'replayed', 'rateLimited', 'badSignature',
]);

/** A header that passes the cheap checks, so the bytes behind it reach the signature check. */
function withValidHeader(bytes: Uint8Array, time: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out.set([0x50, 0x4e, 0x45, 0x54, 2, out[5]! & 1], 0);
  if (out[6] === 0 && out[7] === 0) out[7] = 1;
  const view = new DataView(out.buffer);
  view.setUint32(40, Math.floor(time / 2 ** 32));
  view.setUint32(44, time % 2 ** 32);
  return out;
}

const edit = fc.record({ at: fc.nat({ max: PACKET_BYTES - 1 }), value: fc.nat({ max: 255 }), flip: fc.boolean() });

const packet = fc.oneof(
  // Noise of any size, and of the right size.
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  { weight: 3, arbitrary: fc.uint8Array({ minLength: PACKET_BYTES, maxLength: PACKET_BYTES }) },
  // Noise behind a valid header: random keys and signatures reach verification.
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.uint8Array({ minLength: PACKET_BYTES, maxLength: PACKET_BYTES }), fc.integer({ min: NOW - 31_000, max: NOW + 31_000 }))
      .map(([bytes, time]) => withValidHeader(bytes, time)),
  },
  // Genuine packets with a few bytes changed (each costs a signature check, so fewer of them).
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom(...genuine), fc.array(edit, { minLength: 1, maxLength: 3 })).map(([bytes, edits]) => {
      const out = Uint8Array.from(bytes);
      for (const e of edits) out[e.at] = e.flip ? out[e.at]! ^ (1 << (e.value & 7)) : e.value;
      return out;
    }),
  },
  // Genuine packets, whole, truncated or extended, at a non-zero offset of a larger buffer.
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom(...genuine), fc.integer({ min: -2, max: 2 }), fc.nat({ max: 16 })).map(([bytes, delta, offset]) => {
      const backing = new Uint8Array(offset + PACKET_BYTES + 2).fill(0xee);
      backing.set(bytes, offset);
      return backing.subarray(offset, offset + PACKET_BYTES + delta);
    }),
  },
);

/**
 * decodeAnnouncement never throws on network input, returns one of its drop
 * reasons for anything but a genuine packet (a changed byte anywhere is
 * either caught by a cheap check or by the signature), and with a replay
 * table accepts a packet once only.
 */
const announcement = fc.property(packet, fc.boolean(), (bytes, withReplays) => {
  const replays = withReplays ? new ReplayTable() : undefined;
  const options = { now: NOW, ownId: receiver.id, ...(replays === undefined ? {} : { replays }) };
  const result = decodeAnnouncement(bytes, options);
  if (!result.ok) {
    assert.ok(REASONS.has(result.reason), `unknown drop reason ${String(result.reason)}`);
    return;
  }
  assert.ok(genuineHex.has(hex(bytes)), 'a packet that no one signed was accepted');
  assert.ok(result.announcement.id.equals(sender.id));
  assert.ok(result.announcement.port >= 1 && result.announcement.port <= 65535);
  assert.ok(Math.abs(result.announcement.timestamp - NOW) <= 30_000);
  if (replays !== undefined) {
    const again = decodeAnnouncement(bytes, options);
    assert.deepEqual(again, { ok: false, reason: 'replayed' });
  }
});

/** The UDP discovery targets, by name. */
export const targets: FuzzTarget[] = [
  {
    name: 'discovery-udp.announcement',
    summary: 'decodeAnnouncement on random, near-valid and mutated signed packets',
    ciRuns: 400,
    property: announcement,
  },
];
