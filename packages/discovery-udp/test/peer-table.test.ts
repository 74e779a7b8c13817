import { generateIdentity } from '@peernet/identity';
import { PeerTable } from '../src/peer-table.js';

const T0 = 1_700_000_000_000;
const a = generateIdentity().id;
const b = generateIdentity().id;
const c = generateIdentity().id;

const table = (options: Partial<ConstructorParameters<typeof PeerTable>[0]> = {}): PeerTable =>
  new PeerTable({ ttlMs: 15_000, maxPeers: 100, maxAddresses: 4, ...options });

describe('PeerTable', () => {
  it('reports a new peer once, not for every repeat of the same announcement', () => {
    const peers = table();
    const first = peers.seen(a, '10.0.0.1', 4000, T0);
    expect(first.peer).toEqual({ id: a, addresses: [{ host: '10.0.0.1', port: 4000 }] });
    for (let i = 1; i <= 10; i++) expect(peers.seen(a, '10.0.0.1', 4000, T0 + i * 5000)).toEqual({});
    expect(peers.size).toBe(1);
  });

  it('reports a new source address, listing the most recently heard first', () => {
    const peers = table();
    peers.seen(a, '10.0.0.1', 4000, T0);
    const second = peers.seen(a, '192.168.1.5', 4000, T0 + 1);
    expect(second.peer?.addresses).toEqual([
      { host: '192.168.1.5', port: 4000 },
      { host: '10.0.0.1', port: 4000 },
    ]);
    expect(peers.seen(a, '10.0.0.1', 4000, T0 + 2)).toEqual({});
  });

  it('reports a port change with only the address it came from', () => {
    const peers = table();
    peers.seen(a, '10.0.0.1', 4000, T0);
    peers.seen(a, '10.0.0.2', 4000, T0);
    expect(peers.seen(a, '10.0.0.2', 4001, T0 + 1).peer).toEqual({ id: a, addresses: [{ host: '10.0.0.2', port: 4001 }] });
  });

  it('remove() forgets a peer once (a goodbye), and a later announcement makes it new again', () => {
    const peers = table();
    peers.seen(a, '10.0.0.1', 4000, T0);
    expect(peers.remove(a)).toBe(true);
    expect(peers.remove(a)).toBe(false);
    expect(peers.seen(a, '10.0.0.1', 4000, T0 + 1).peer).toBeDefined();
  });

  it('expires a peer not heard for longer than the TTL, once', () => {
    const peers = table({ ttlMs: 15_000 });
    peers.seen(a, '10.0.0.1', 4000, T0);
    peers.seen(b, '10.0.0.2', 4000, T0 + 10_000);
    expect(peers.expire(T0 + 15_000)).toEqual({ lost: [], changed: [] });
    expect(peers.expire(T0 + 15_001)).toEqual({ lost: [a], changed: [] });
    expect(peers.expire(T0 + 15_002)).toEqual({ lost: [], changed: [] });
    expect(peers.size).toBe(1);
    // Back after being lost: new again.
    expect(peers.seen(a, '10.0.0.1', 4000, T0 + 20_000).peer).toBeDefined();
  });

  it('expires a stale address but keeps the peer, and reports what is left', () => {
    const peers = table({ ttlMs: 15_000 });
    peers.seen(a, '10.0.0.1', 4000, T0);
    peers.seen(a, '10.0.0.2', 4000, T0 + 1);
    peers.seen(a, '10.0.0.2', 4000, T0 + 10_000);
    expect(peers.expire(T0 + 16_000)).toEqual({
      lost: [],
      changed: [{ id: a, addresses: [{ host: '10.0.0.2', port: 4000 }] }],
    });
  });

  it('evicts the least recently heard peer when full, and says so', () => {
    const peers = table({ maxPeers: 2 });
    peers.seen(a, '10.0.0.1', 4000, T0);
    peers.seen(b, '10.0.0.2', 4000, T0 + 1);
    peers.seen(a, '10.0.0.1', 4000, T0 + 2);
    const result = peers.seen(c, '10.0.0.3', 4000, T0 + 3);
    expect(result.evicted?.equals(b)).toBe(true);
    expect(result.peer?.id.equals(c)).toBe(true);
    expect(peers.size).toBe(2);
  });

  it('keeps at most maxAddresses per peer, dropping the least recently heard', () => {
    const peers = table({ maxAddresses: 2 });
    peers.seen(a, '10.0.0.1', 4000, T0);
    peers.seen(a, '10.0.0.2', 4000, T0 + 1);
    const third = peers.seen(a, '10.0.0.3', 4000, T0 + 2);
    expect(third.peer?.addresses.map((x) => x.host)).toEqual(['10.0.0.3', '10.0.0.2']);
  });

  it('clear() forgets everything without reports', () => {
    const peers = table();
    peers.seen(a, '10.0.0.1', 4000, T0);
    peers.clear();
    expect(peers.size).toBe(0);
    expect(peers.expire(T0 + 10 ** 9)).toEqual({ lost: [], changed: [] });
  });
});
