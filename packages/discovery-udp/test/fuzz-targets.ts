// Fuzz target of the UDP announcement parser: what anyone on the LAN can send
// to port 4040. test/properties.test.ts runs it a few hundred times;
// `pnpm fuzz` runs it for millions of inputs (tooling/fuzz).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { identityFromSeed } from '@peernet/identity';
import type { FuzzTarget } from '../../../tooling/fuzz/target.js';
import { PACKET_BYTES, ReplayTable, decodeAnnouncement, encodeAnnouncement, type DropReason } from '../src/index.js';
import { AnnouncementReceiver, type ReceiveCounters } from '../src/receiver.js';

const NOW = 1_700_000_000_000;
const sender = identityFromSeed(new Uint8Array(32).fill(7));
const receiverIdentity = identityFromSeed(new Uint8Array(32).fill(9));
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
  const options = { now: NOW, ownId: receiverIdentity.id, ...(replays === undefined ? {} : { replays }) };
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

const friend = identityFromSeed(new Uint8Array(32).fill(11));
const stranger = identityFromSeed(new Uint8Array(32).fill(13));
const signers = [sender, friend, stranger];
// Each signer's announcements a second apart: what the air carries, for anyone to capture and resend.
const aired = signers.flatMap((identity) =>
  Array.from({ length: 3 }, (_, k) => encodeAnnouncement({ identity, port: 4200 + k, now: NOW + k * 1000 })),
);
const airedHex = new Set(aired.map(hex));
const SOURCES = ['10.0.0.2', '10.0.0.3', '10.0.0.9', '192.168.1.1'] as const;
const PER_SOURCE = 16;

const datagram = fc.oneof(
  { weight: 4, arbitrary: fc.nat({ max: aired.length - 1 }).map((i) => aired[i] as Uint8Array) },
  {
    // A forgery: one of the signers' (public) keys, a fresh time, random bytes for the signature.
    weight: 4,
    arbitrary: fc
      .tuple(fc.nat({ max: signers.length - 1 }), fc.integer({ min: -5000, max: 29_000 }), fc.uint8Array({ minLength: 64, maxLength: 64 }))
      .map(([who, offset, signature]) => {
        const out = Uint8Array.from(aired[who * 3] as Uint8Array);
        const time = NOW + offset;
        const view = new DataView(out.buffer);
        view.setUint32(40, Math.floor(time / 2 ** 32));
        view.setUint32(44, time % 2 ** 32);
        out.set(signature, 48);
        return out;
      }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 120 }) },
);
// Bursts (no time between datagrams) use budgets up; pauses refill them.
const advance = fc.oneof(fc.constant(0), fc.nat({ max: 100 }), fc.nat({ max: 2000 }));
const step = fc.record({ bytes: datagram, source: fc.constantFrom(...SOURCES), advance });

function outcomes(c: ReceiveCounters): number {
  return (
    c.accepted + c.foreignSource + c.malformed + c.badMagic + c.badVersion + c.badFlags + c.badPort + c.stale + c.own +
    c.replayed + c.relayed + c.rateLimited + c.badSignature
  );
}

/**
 * The receive policy over a sequence of captured, replayed, relayed and forged
 * datagrams from several sources, with tight budgets: it never throws,
 * accepts only packets someone signed, never accepts from another source a
 * genuine packet it dropped for lack of budget (while the relay guard still
 * holds it), and counts every datagram under exactly one outcome.
 */
const receiving = fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
  const receiver = new AnnouncementReceiver({
    ownId: receiverIdentity.id,
    windowMs: 30_000,
    verifyPerSecond: 2,
    wantedVerifyPerSecond: 4,
    keyVerifyPerSecond: 2,
    homeVerifyPerSecond: 1,
    isWanted: (id) => id.equals(sender.id) || id.equals(friend.id),
    replayCapacity: 64,
    isAllowedSource: (host) => host.startsWith('10.'),
  });
  // Genuine packets dropped for lack of budget: where from, and how many drops that source has had since.
  const dropped = new Map<string, { source: string; later: number }>();
  let now = NOW;
  for (const { bytes, source, advance } of steps) {
    now += advance;
    const result = receiver.receive(bytes, source, now);
    const key = hex(bytes);
    if (result.ok) {
      assert.ok(airedHex.has(key), 'a packet that no one signed was accepted');
      const first = dropped.get(key);
      if (first !== undefined && first.later < PER_SOURCE) {
        assert.equal(source, first.source, 'a genuine packet dropped unverified was accepted from another source');
      }
    } else if (result.reason === 'rateLimited') {
      for (const entry of dropped.values()) if (entry.source === source) entry.later++;
      if (airedHex.has(key) && !dropped.has(key)) dropped.set(key, { source, later: 0 });
    }
  }
  const c = receiver.counters;
  assert.equal(outcomes(c), c.received);
  assert.equal(c.received, steps.length);
  assert.equal(c.verified, c.accepted + c.badSignature);
  assert.ok(c.verifiedAtHome <= c.verified);
});

/** The UDP discovery targets, by name. */
export const targets: FuzzTarget[] = [
  {
    name: 'discovery-udp.announcement',
    summary: 'decodeAnnouncement on random, near-valid and mutated signed packets',
    ciRuns: 400,
    property: announcement,
  },
  {
    name: 'discovery-udp.receiver',
    summary: 'the receive policy (budgets, relay guard, replay table) on sequences of captured, relayed and forged datagrams',
    ciRuns: 200,
    property: receiving,
  },
];
