// Fuzz targets of the mDNS record handling: what anyone on the link can
// multicast to 5353, from the bytes (decoded by dns-packet, as multicast-dns
// does) through validation into the peer cache, and the queries our
// responder answers. test/properties.test.ts runs each a few hundred times;
// `pnpm fuzz` runs them for millions of inputs (tooling/fuzz).
import assert from 'node:assert/strict';
import { isIPv4 } from 'node:net';
import dnsPacket, { type Answer, type Packet } from 'dns-packet';
import fc from 'fast-check';
import { identityFromSeed } from '@peernet/identity';
import type { FuzzTarget } from '../../../tooling/fuzz/target.js';
import { MAX_ADDRESSES_PER_HOST, PeerCache } from '../src/cache.js';
import { SERVICE_ENUMERATION, SERVICE_TYPE, defaultHostLabel, instanceNameOf } from '../src/names.js';
import { MAX_PACKET_BYTES, MAX_TTL, parseResponse } from '../src/parse.js';
import { Responder, serviceRecords } from '../src/records.js';

const ids = [1, 2, 3, 4].map((n) => identityFromSeed(new Uint8Array(32).fill(n)).id);
const self = ids[0]!;
const selfHost = `${defaultHostLabel(self)}.local`;
const hostOf = (i: number) => `${defaultHostLabel(ids[i]!)}.local`;
const serviceOf = (i: number, port = 4040) => ({ id: ids[i]!, instance: instanceNameOf(ids[i]!), host: hostOf(i), port, ttl: 120 });
const ours = serviceRecords(serviceOf(0), '10.0.0.1');
const NOW = 1_000_000;

function encode(packet: Packet): Uint8Array | undefined {
  try {
    return dnsPacket.encode(packet);
  } catch {
    return undefined; // the generator made something dns-packet cannot write: not an input
  }
}

/** What multicast-dns hands over for the bytes: the decoded packet, or nothing (it drops what fails to decode). */
function received(bytes: Uint8Array): Packet | undefined {
  try {
    return dnsPacket.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------ inputs

const caseOf = (name: string, mask: number) =>
  [...name].map((c, i) => ((mask >> i % 30) & 1 ? c.toUpperCase() : c)).join('');
const name = fc.oneof(
  fc.constantFrom(
    SERVICE_TYPE, SERVICE_ENUMERATION, selfHost, instanceNameOf(self), 'x.local', '.local', 'local', '',
    `${ids[1]!.toHex()}._peernet._tcp.local`, `${ids[1]!.toString().slice(0, 51)}b._peernet._tcp.local`,
    `${ids[1]!.toString()}._peernet._tcp.local.evil`, `${'a'.repeat(63)}.local`,
  ),
  fc.tuple(fc.integer({ min: 1, max: 3 }), fc.nat()).map(([i, mask]) => caseOf(instanceNameOf(ids[i]!), mask)),
  fc.tuple(fc.integer({ min: 1, max: 3 }), fc.nat()).map(([i, mask]) => caseOf(hostOf(i), mask)),
  fc
    .tuple(fc.constantFrom('a', 'pn-x', '_x', 'foo-bar', '0', 'x'.repeat(63), 'x'.repeat(64)), fc.constantFrom('local', '_tcp.local', 'com', '', 'local.'))
    .map(([label, rest]) => `${label}.${rest}`),
);
const ttl = fc.oneof(fc.constantFrom(0, 1, 120, 4500, 4501, 2 ** 31 - 1, 2 ** 32 - 1), fc.nat({ max: 2 ** 32 - 1 }));
const address = fc.oneof(
  fc.constantFrom('0.0.0.0', '10.0.0.1', '10.0.0.2', '127.0.0.1', '224.0.0.251', '255.255.255.255', '169.254.1.1'),
  fc.ipV4(),
);
const txt = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 3 }), fc.array(fc.constantFrom('v=1', 'v=2', 'V=1', 'id=', '=', 'x', ''), { maxLength: 3 })).map(
    ([i, extra]) => [...extra, 'v=1', `id=${ids[i]!.toString()}`],
  ),
  fc.array(fc.oneof(fc.string({ maxLength: 20 }), fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b))), { maxLength: 5 }),
);
const record: fc.Arbitrary<Answer> = fc.oneof(
  fc.record({ name, type: fc.constant('PTR' as const), ttl, data: name }),
  fc.record({
    name,
    type: fc.constant('SRV' as const),
    ttl,
    flush: fc.boolean(),
    data: fc.record({ port: fc.oneof(fc.constantFrom(0, 1, 4040, 65535), fc.nat({ max: 65535 })), target: name }),
  }),
  fc.record({ name, type: fc.constant('TXT' as const), ttl, flush: fc.boolean(), data: txt }),
  fc.record({ name, type: fc.constant('A' as const), ttl, flush: fc.boolean(), data: address }),
  fc.record({ name, type: fc.constant('AAAA' as const), ttl, data: fc.ipV6() }),
) as fc.Arbitrary<Answer>;

/** Complete announcements of the other nodes, so inputs reach the resolved state of the cache. */
const announcementOf = fc.tuple(fc.integer({ min: 1, max: 3 }), address, fc.constantFrom(0, 1, 120)).map(([i, a, t]) => {
  const r = serviceRecords(serviceOf(i), a, t);
  return [r.ptr, r.srv, r.txt, r.a] as Answer[];
});

const responsePacket = fc
  .tuple(fc.array(fc.oneof(record, announcementOf.map((r) => r[0]!)), { maxLength: 6 }), fc.array(record, { maxLength: 3 }), fc.option(announcementOf))
  .map(([answers, additionals, whole]) => encode({ type: 'response', flags: dnsPacket.AUTHORITATIVE_ANSWER, answers: [...(whole ?? []), ...answers], additionals }))
  .filter((bytes): bytes is Uint8Array => bytes !== undefined);

function mutate(bytes: Uint8Array, edits: readonly { at: number; value: number; kind: number }[]): Uint8Array {
  let out = Array.from(bytes);
  for (const e of edits) {
    const i = out.length === 0 ? 0 : e.at % out.length;
    if (e.kind === 0) out[i] = e.value;
    else if (e.kind === 1) out[i] = (out[i] ?? 0) ^ (1 << (e.value & 7));
    else if (e.kind === 2) out = out.slice(0, i);
    else out.splice(i, 0, e.value, 0xc0);
  }
  return Uint8Array.from(out);
}
const edit = fc.record({ at: fc.nat(), value: fc.nat({ max: 255 }), kind: fc.nat({ max: 3 }) });

/** Raw datagrams: noise, well-formed packets of any records, and those with a few bytes changed (compression pointers included). */
function datagram(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 600 }) },
    { weight: 3, arbitrary: valid },
    { weight: 3, arbitrary: fc.tuple(valid, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([b, e]) => mutate(b, e)) },
  );
}

// ------------------------------------------------------------------ response handling

/**
 * Datagrams from hostile neighbours, one after another into one cache:
 * validation never throws and passes only well-formed records about other
 * peers; the cache stays within its caps, resolves only peers it can dial,
 * and forgets everything once every TTL has run out.
 */
const responses = fc.property(
  fc.array(fc.tuple(datagram(responsePacket), fc.nat({ max: 200_000 })), { minLength: 1, maxLength: 4 }),
  (datagrams) => {
    const cache = new PeerCache({ maxPeers: 2, random: () => 0.5 });
    let now = NOW;
    for (const [bytes, later] of datagrams) {
      now += later;
      const packet = received(bytes);
      if (packet === undefined) continue;
      const records = parseResponse(packet, bytes.length, { self, selfHost });
      if (bytes.length > MAX_PACKET_BYTES) assert.deepEqual(records, []);
      for (const r of records) {
        assert.ok(r.ttl >= 0 && r.ttl <= MAX_TTL && Number.isInteger(r.ttl));
        if (r.kind === 'a') {
          assert.ok(isIPv4(r.address) && r.host.endsWith('.local') && r.host !== selfHost);
        } else {
          assert.ok(!r.id.equals(self), 'a record about ourselves was accepted');
          assert.equal(r.id.toString().length, 52);
        }
        if (r.kind === 'srv') assert.ok(r.port >= 1 && r.port <= 65535 && r.target.endsWith('.local'));
      }
      cache.expire(now);
      const update = cache.ingest(records, now);
      assert.ok(Array.isArray(update.questions));
      assert.ok(cache.size <= 2, `cache holds ${cache.size} instances`);
      for (const key of cache.keys()) {
        const peer = cache.resolved(key);
        if (peer === undefined) continue;
        assert.ok(peer.port >= 1 && peer.port <= 65535);
        assert.ok(peer.hosts.length >= 1 && peer.hosts.length <= MAX_ADDRESSES_PER_HOST);
        for (const host of peer.hosts) assert.ok(isIPv4(host) && Number(host.split('.')[0]) < 224 && !host.startsWith('0.'));
      }
      const deadline = cache.nextDeadline();
      assert.ok(deadline === undefined || Number.isFinite(deadline));
    }
    cache.expire(now + (MAX_TTL + 1) * 1000);
    assert.equal(cache.size, 0, 'something outlived every TTL');
    assert.equal(cache.hostCount, 0);
  },
);

/** Decoded packets of any shape at all (what a different decoder, or a future dns-packet, might hand over). */
const anyShape = fc.property(
  fc.record({
    type: fc.oneof(fc.constant('response'), fc.anything()),
    answers: fc.oneof(
      fc.array(fc.oneof(record, fc.anything(), fc.record({ name, type: fc.constantFrom('PTR', 'SRV', 'TXT', 'A'), class: fc.constant('IN'), ttl: fc.anything(), data: fc.anything() })), { maxLength: 6 }),
      fc.anything(),
    ),
    additionals: fc.anything(),
    opcode: fc.option(fc.constantFrom('QUERY', 'IQUERY')),
    rcode: fc.option(fc.constantFrom('NOERROR', 'SERVFAIL')),
  }),
  fc.oneof(fc.nat({ max: 10_000 }), fc.constantFrom(Number.NaN, -1)),
  (packet, size) => {
    const records = parseResponse(packet, size, { self, selfHost });
    new PeerCache({ maxPeers: 2 }).ingest(records, NOW);
  },
);

// ------------------------------------------------------------------ query handling

const question = fc.record({
  name: fc.oneof(name, fc.constantFrom(SERVICE_TYPE, SERVICE_ENUMERATION, ours.srv.name, ours.a.name).map((n) => caseOf(n, 0x5555))),
  type: fc.constantFrom('PTR', 'SRV', 'TXT', 'A', 'ANY', 'AAAA', 'NSEC'),
  class: fc.constantFrom('IN', 'ANY', 'CH'),
});
const knownAnswer = fc.oneof(
  record,
  // A deep copy: dns-packet's encoder turns TXT strings into Buffers in place.
  fc.tuple(fc.constantFrom(ours.ptr, ours.srv, ours.txt, ours.a, ours.enumeration), ttl).map(([r, t]) => ({ ...structuredClone(r), ttl: t }) as Answer),
);
const queryPacket = fc
  .tuple(fc.array(question, { minLength: 1, maxLength: 6 }), fc.array(knownAnswer, { maxLength: 6 }), fc.boolean())
  .map(([questions, answers, qu]) =>
    encode({
      type: 'query',
      questions: questions.map((q) => ({ ...q, class: q.class as 'IN', ...(qu ? { unicastResponse: true } : {}) })) as Packet['questions'],
      answers,
    }),
  )
  .filter((bytes): bytes is Uint8Array => bytes !== undefined);
const ourRecords = new Set<Answer>([ours.ptr, ours.srv, ours.txt, ours.a, ours.enumeration]);

/**
 * The responder on hostile queries: never throws, answers only with our own
 * records, each at most once, and says nothing again within a second
 * (a querier cannot turn it into an amplifier).
 */
const queries = fc.property(datagram(queryPacket), (bytes) => {
  const packet = received(bytes);
  if (packet === undefined) return;
  const responder = new Responder();
  const response = responder.respond(packet, ours, NOW);
  if (response === undefined) return;
  const all = [...(response.answers ?? []), ...(response.additionals ?? [])];
  assert.ok(all.length >= 1 && all.length <= 5);
  for (const r of all) assert.ok(ourRecords.has(r), 'answered with a record that is not ours');
  assert.equal(new Set(all).size, all.length, 'a record answered twice');
  assert.equal(responder.respond(packet, ours, NOW + 999), undefined, 'answered the same query again within a second');
});

/** The mDNS targets, by name. */
export const targets: FuzzTarget[] = [
  {
    name: 'discovery-mdns.response',
    summary: 'datagrams -> dns-packet -> parseResponse -> PeerCache, several per run',
    ciRuns: 200,
    property: responses,
  },
  {
    name: 'discovery-mdns.any-shape',
    summary: 'parseResponse and PeerCache on decoded packets of any shape',
    ciRuns: 300,
    property: anyShape,
  },
  {
    name: 'discovery-mdns.query',
    summary: 'datagrams -> dns-packet -> Responder.respond',
    ciRuns: 300,
    property: queries,
  },
];
