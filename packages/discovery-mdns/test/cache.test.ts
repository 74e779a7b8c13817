import dnsPacket, { type Packet } from 'dns-packet';
import { identityFromSeed } from '@peernet/identity';
import type { PeerId } from '@peernet/interface';
import { MAX_ADDRESSES_PER_HOST, PeerCache } from '../src/cache.js';
import { SERVICE_TYPE, defaultHostLabel, instanceNameOf } from '../src/names.js';
import { type ServiceRecord, parseResponse } from '../src/parse.js';
import { type ServiceRecords, announcement, serviceRecords } from '../src/records.js';

const self = identityFromSeed(new Uint8Array(32).fill(1)).id;
const peerOf = (n: number): PeerId => identityFromSeed(new Uint8Array(32).fill(n)).id;
const peer = peerOf(2);
const key = peer.toString();
const hostOf = (id: PeerId): string => `${defaultHostLabel(id)}.local`;

function recordsOf(id: PeerId, { port = 4040, address = '10.0.0.2', ttl = 120 } = {}): ServiceRecords {
  return serviceRecords({ id, instance: instanceNameOf(id), host: hostOf(id), port, ttl }, address);
}

function parsed(packet: Packet): ServiceRecord[] {
  const bytes = dnsPacket.encode({ type: 'response', ...packet });
  return parseResponse(dnsPacket.decode(bytes), bytes.length, { self, selfHost: hostOf(self) });
}

const announce = (id: PeerId, options?: Parameters<typeof recordsOf>[1]): ServiceRecord[] =>
  parsed(announcement(recordsOf(id, options)));
const only = (kinds: Array<'ptr' | 'srv' | 'txt' | 'a'>, id: PeerId, options?: Parameters<typeof recordsOf>[1]): ServiceRecord[] => {
  const r = recordsOf(id, options);
  return parsed({ answers: kinds.map((kind) => r[kind]) });
};

// Jitter off: refreshes fall exactly at 80, 85, 90 and 95 % of the TTL.
const newCache = (maxPeers?: number): PeerCache => new PeerCache({ random: () => 0, maxPeers });

describe('PeerCache', () => {
  it('resolves a peer from one announcement and reports it changed', () => {
    const cache = newCache();
    const update = cache.ingest(announce(peer), 0);
    expect([...update.changed]).toEqual([key]);
    expect(update.questions).toEqual([]);
    expect(cache.resolved(key)).toEqual({ id: peer, port: 4040, hosts: ['10.0.0.2'] });
  });

  it('assembles a peer from records in separate packets, asking for what is missing', () => {
    const cache = newCache();
    const first = cache.ingest(only(['ptr'], peer), 0);
    expect(cache.resolved(key)).toBeUndefined();
    expect(first.questions).toEqual([
      { name: instanceNameOf(peer), type: 'SRV', class: 'IN' },
      { name: instanceNameOf(peer), type: 'TXT', class: 'IN' },
    ]);
    const second = cache.ingest(only(['srv', 'txt'], peer), 10);
    expect(cache.resolved(key)).toBeUndefined();
    expect(second.questions).toEqual([{ name: hostOf(peer), type: 'A', class: 'IN' }]);
    cache.ingest(only(['a'], peer), 20);
    expect(cache.resolved(key)).toEqual({ id: peer, port: 4040, hosts: ['10.0.0.2'] });
  });

  it('does not create peers from SRV, TXT or A records without a PTR', () => {
    const cache = newCache();
    const update = cache.ingest(only(['srv', 'txt', 'a'], peer), 0);
    expect(cache.size).toBe(0);
    expect(cache.hostCount).toBe(0);
    expect(update.changed.size).toBe(0);
  });

  it('ignores A records for hosts no SRV points at', () => {
    const cache = newCache();
    cache.ingest(announce(peer), 0);
    cache.ingest(parsed({ answers: [{ name: 'stranger.local', type: 'A', class: 'IN', ttl: 120, data: '10.0.0.9' }] }), 1);
    expect(cache.hostCount).toBe(1);
  });

  it('a goodbye PTR (TTL 0) removes the peer at once', () => {
    const cache = newCache();
    cache.ingest(announce(peer), 0);
    const update = cache.ingest(parsed(announcement(recordsOf(peer, { ttl: 0 }))), 100);
    expect([...update.changed]).toEqual([key]);
    expect(cache.resolved(key)).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(cache.hostCount).toBe(0);
  });

  it('a goodbye of the SRV, TXT or A alone unresolves the peer', () => {
    for (const kind of ['srv', 'txt', 'a'] as const) {
      const cache = newCache();
      cache.ingest(announce(peer), 0);
      cache.ingest(only([kind], peer, { ttl: 0 }), 100);
      expect(cache.resolved(key)).toBeUndefined();
    }
  });

  it('a new SRV replaces the old one (new port)', () => {
    const cache = newCache();
    cache.ingest(announce(peer), 0);
    const update = cache.ingest(announce(peer, { port: 5050 }), 5000);
    expect(update.changed.has(key)).toBe(true);
    expect(cache.resolved(key)?.port).toBe(5050);
  });

  it('cache-flush A records replace addresses older than one second, and keep those of the last second (RFC 6762 §10.2)', () => {
    const cache = newCache();
    cache.ingest(announce(peer, { address: '10.0.0.2' }), 0);
    cache.ingest(only(['a'], peer, { address: '10.0.0.3' }), 500);
    expect(cache.resolved(key)?.hosts).toEqual(['10.0.0.2', '10.0.0.3']);
    cache.ingest(only(['a'], peer, { address: '10.0.0.4' }), 1400);
    expect(cache.resolved(key)?.hosts).toEqual(['10.0.0.3', '10.0.0.4']);
  });

  it('shared A records (no flush bit) add up, to at most 16 per host', () => {
    const cache = newCache();
    cache.ingest(announce(peer), 0);
    for (let i = 10; i < 40; i++) {
      const a = { ...recordsOf(peer, { address: `10.0.1.${i}` }).a, flush: false };
      cache.ingest(parsed({ answers: [a] }), 5000 + i);
    }
    expect(cache.resolved(key)?.hosts).toHaveLength(MAX_ADDRESSES_PER_HOST);
  });

  it('expires records at their TTL, sending refresh queries at 80, 85, 90 and 95 % first (RFC 6762 §5.2)', () => {
    const cache = newCache();
    cache.ingest(announce(peer, { ttl: 10 }), 0);
    expect(cache.nextDeadline()).toBe(8000);
    const asked: string[] = [];
    let lostAt: number | undefined;
    for (let t = 0; t <= 11_000; t += 250) {
      const update = cache.expire(t);
      for (const q of update.questions) asked.push(`${t} ${q.type} ${q.name === SERVICE_TYPE ? 'service' : q.name}`);
      if (update.changed.has(key) && lostAt === undefined && cache.resolved(key) === undefined) lostAt = t;
    }
    const at = (t: number): string[] => asked.filter((a) => a.startsWith(`${t} `)).map((a) => a.slice(String(t).length + 1));
    for (const t of [8000, 8500, 9000, 9500]) {
      expect(at(t)).toEqual(['PTR service', `SRV ${instanceNameOf(peer)}`, `TXT ${instanceNameOf(peer)}`, `A ${hostOf(peer)}`]);
    }
    expect(asked).toHaveLength(16);
    expect(lostAt).toBe(10_000);
    expect(cache.size).toBe(0);
    expect(cache.nextDeadline()).toBeUndefined();
  });

  it('a refreshed record starts its TTL over', () => {
    const cache = newCache();
    cache.ingest(announce(peer, { ttl: 10 }), 0);
    cache.expire(8000);
    cache.ingest(announce(peer, { ttl: 10 }), 8100);
    expect(cache.expire(10_000).changed.size).toBe(0);
    expect(cache.resolved(key)).toBeDefined();
    expect(cache.nextDeadline()).toBe(16_100);
  });

  it('refresh jitter stays within 2 % of the TTL', () => {
    const cache = new PeerCache({ random: () => 0.999 });
    cache.ingest(announce(peer, { ttl: 100 }), 0);
    const deadline = cache.nextDeadline() as number;
    expect(deadline).toBeGreaterThan(80_000);
    expect(deadline).toBeLessThan(82_000);
  });

  it('lists PTRs with more than half their TTL left as known answers', () => {
    const cache = newCache();
    cache.ingest(announce(peer, { ttl: 10 }), 0);
    cache.ingest(announce(peerOf(3), { ttl: 10 }), 4000);
    expect(cache.knownAnswers(5500, 64).map((a) => (a as { data: unknown }).data)).toEqual([instanceNameOf(peerOf(3))]);
    expect(cache.knownAnswers(4500, 64)).toEqual([
      { name: SERVICE_TYPE, type: 'PTR', class: 'IN', ttl: 5, data: instanceNameOf(peer) },
      { name: SERVICE_TYPE, type: 'PTR', class: 'IN', ttl: 9, data: instanceNameOf(peerOf(3)) },
    ]);
    expect(cache.knownAnswers(4500, 1)).toHaveLength(1);
  });

  it('caps the instances; a newcomer evicts the oldest unresolved one, never a resolved peer', () => {
    const cache = newCache(3);
    cache.ingest(announce(peerOf(10)), 0);
    cache.ingest(only(['ptr'], peerOf(11)), 1);
    cache.ingest(announce(peerOf(12)), 2);
    cache.ingest(only(['ptr'], peerOf(13)), 3);
    expect(cache.size).toBe(3);
    expect(cache.keys().sort()).toEqual([peerOf(10), peerOf(12), peerOf(13)].map(String).sort());
    // Only resolved peers left besides 13; complete 13, then a newcomer has no room.
    cache.ingest(announce(peerOf(13)), 4);
    const update = cache.ingest(announce(peerOf(14)), 5);
    expect(cache.size).toBe(3);
    expect(cache.resolved(peerOf(14).toString())).toBeUndefined();
    expect(update.changed.size).toBe(0);
  });

  it('stays bounded under a flood of distinct forged peers', () => {
    const cache = newCache(50);
    for (let n = 0; n < 500; n++) {
      const seed = new Uint8Array(32);
      seed[0] = n & 0xff;
      seed[1] = n >> 8;
      seed[2] = 9;
      const id = identityFromSeed(seed).id;
      cache.ingest(announce(id, { address: `10.0.${n >> 8}.${n & 0xff || 1}` }), n);
    }
    expect(cache.size).toBe(50);
    expect(cache.hostCount).toBe(50);
  });

  it('clear() forgets everything', () => {
    const cache = newCache();
    cache.ingest(announce(peer), 0);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.hostCount).toBe(0);
    expect(cache.nextDeadline()).toBeUndefined();
  });
});

describe('PeerCache under a flood of forged answers for one peer', () => {
  it('50,000 answers with fresh ports, host names and addresses keep one instance, one SRV and at most 16 addresses', () => {
    const cache = newCache();
    cache.ingest(announce(peer, { address: '10.0.0.2', port: 7000 }), 0, '10.0.0.2');
    expect(cache.resolved(key)).toEqual({ id: peer, port: 7000, hosts: ['10.0.0.2'], from: '10.0.0.2' });
    let largest = 0;
    for (let i = 0; i < 50_000; i++) {
      // Half name a fresh host of their own, half add addresses under the real host name.
      const host = i % 2 === 0 ? `forged-${i}.local` : hostOf(peer);
      const address = `10.0.${(i >> 8) & 255}.${(i & 255) || 1}`;
      const records = serviceRecords({ id: peer, instance: instanceNameOf(peer), host, port: 10_000 + (i % 50_000), ttl: 4500 }, address);
      cache.ingest(parsed(announcement(records)), 1 + i / 10, '10.0.0.66');
      largest = Math.max(largest, cache.resolved(key)?.hosts.length ?? 0);
    }
    expect(cache.size).toBe(1);
    expect(cache.hostCount).toBeLessThanOrEqual(1);
    expect(largest).toBeLessThanOrEqual(MAX_ADDRESSES_PER_HOST);
    expect(cache.resolved(key)).toMatchObject({ port: 10_000 + 49_999, from: '10.0.0.66' });
    // The real peer's next announcement takes its place back, with its own sender.
    cache.ingest(announce(peer, { address: '10.0.0.2', port: 7001 }), 10_000, '10.0.0.2');
    expect(cache.resolved(key)).toMatchObject({ port: 7001, from: '10.0.0.2' });
  });
});
