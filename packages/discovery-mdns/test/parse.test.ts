import dnsPacket, { type Answer, type Packet } from 'dns-packet';
import { identityFromSeed } from '@peernet/identity';
import { defaultHostLabel, instanceNameOf } from '../src/names.js';
import { MAX_PACKET_BYTES, MAX_RECORDS, MAX_TTL, type ServiceRecord, parseResponse, usableAddress, validTxt } from '../src/parse.js';
import { announcement, serviceRecords } from '../src/records.js';

const self = identityFromSeed(new Uint8Array(32).fill(1)).id;
const peer = identityFromSeed(new Uint8Array(32).fill(2)).id;
const other = identityFromSeed(new Uint8Array(32).fill(3)).id;
const selfHost = `${defaultHostLabel(self)}.local`;
const peerHost = `${defaultHostLabel(peer)}.local`;
const options = { self, selfHost };

const serviceOf = (id = peer, port = 4040, ttl = 120): Parameters<typeof serviceRecords>[0] => ({
  id,
  instance: instanceNameOf(id),
  host: `${defaultHostLabel(id)}.local`,
  port,
  ttl,
});

/** The packet as it arrives: encoded by dns-packet and decoded again. */
function received(packet: Packet): { packet: Packet; size: number } {
  const bytes = dnsPacket.encode({ type: 'response', flags: dnsPacket.AUTHORITATIVE_ANSWER, ...packet });
  return { packet: dnsPacket.decode(bytes), size: bytes.length };
}

function parse(packet: Packet, parseOptions: Parameters<typeof parseResponse>[2] = options): ServiceRecord[] {
  const { packet: decoded, size } = received(packet);
  return parseResponse(decoded, size, parseOptions);
}

const good = serviceRecords(serviceOf(), '10.0.0.2');

/** The announcement of `peer` with one record replaced. */
function withRecord(kind: 'ptr' | 'srv' | 'txt' | 'a', record: Answer): Packet {
  return announcement({ ...good, [kind]: record });
}

describe('parseResponse', () => {
  it('turns a PeerNet announcement into PTR, SRV, TXT and A records', () => {
    expect(parse(announcement(good))).toEqual([
      { kind: 'ptr', id: peer, instance: instanceNameOf(peer), ttl: 120 },
      { kind: 'srv', id: peer, target: peerHost, port: 4040, ttl: 120, flush: true },
      { kind: 'txt', id: peer, ttl: 120, flush: true },
      { kind: 'a', host: peerHost, address: '10.0.0.2', ttl: 120, flush: true },
    ]);
  });

  it('reads additionals as well as answers (a response to a PTR query)', () => {
    const packet = { answers: [good.ptr], additionals: [good.srv, good.txt, good.a] };
    expect(parse(packet).map((r) => r.kind)).toEqual(['ptr', 'srv', 'txt', 'a']);
  });

  it('keeps a goodbye (TTL 0) as a record with TTL 0', () => {
    const goodbye = announcement(serviceRecords(serviceOf(), '10.0.0.2', 0));
    expect(parse(goodbye).map((r) => r.ttl)).toEqual([0, 0, 0, 0]);
  });

  it(`caps TTLs at ${MAX_TTL} s`, () => {
    const longLived = announcement(serviceRecords(serviceOf(), '10.0.0.2', 2 ** 31));
    expect(parse(longLived).map((r) => r.ttl)).toEqual([MAX_TTL, MAX_TTL, MAX_TTL, MAX_TTL]);
  });

  it('lowercases host names and accepts instance names in any case', () => {
    const shouting = announcement({
      ...good,
      ptr: { ...good.ptr, data: instanceNameOf(peer).toUpperCase() },
      srv: { ...good.srv, name: instanceNameOf(peer).toUpperCase(), data: { port: 4040, target: peerHost.toUpperCase() } },
      a: { ...good.a, name: peerHost.toUpperCase() },
    });
    const records = parse(shouting);
    expect(records.map((r) => r.kind)).toEqual(['ptr', 'srv', 'txt', 'a']);
    expect(records.find((r) => r.kind === 'srv')).toMatchObject({ target: peerHost });
    expect(records.find((r) => r.kind === 'a')).toMatchObject({ host: peerHost });
  });

  it('ignores our own records (by id and by host name)', () => {
    const own = serviceRecords(serviceOf(self), '10.0.0.1');
    expect(parse(announcement(own))).toEqual([]);
    expect(parse(announcement(own), { self: other, selfHost })).toHaveLength(3); // only the A of our host name is dropped
  });

  describe('drops', () => {
    const cases: Array<[string, Packet]> = [
      ['a PTR whose label is not base32', withRecord('ptr', { ...good.ptr, data: `${'1'.repeat(52)}._peernet._tcp.local` })],
      ['a PTR of another service', withRecord('ptr', { ...good.ptr, name: '_http._tcp.local' })],
      ['a PTR into another service', withRecord('ptr', { ...good.ptr, data: `${peer}._http._tcp.local` })],
      ['an SRV of another service', withRecord('srv', { ...good.srv, name: `${peer}._http._tcp.local` })],
      ['an SRV with port 0', withRecord('srv', { ...good.srv, data: { port: 0, target: peerHost } })],
      ['an SRV pointing outside .local', withRecord('srv', { ...good.srv, data: { port: 4040, target: 'evil.example.com' } })],
      ['a TXT whose id= differs from the label', withRecord('txt', { ...good.txt, data: ['v=1', `id=${other}`] })],
      ['a TXT whose id= is the hex form', withRecord('txt', { ...good.txt, data: ['v=1', `id=${peer.toHex()}`] })],
      ['a TXT whose id= is upper case', withRecord('txt', { ...good.txt, data: ['v=1', `id=${peer.toString().toUpperCase()}`] })],
      ['a TXT without v=1', withRecord('txt', { ...good.txt, data: [`id=${peer}`] })],
      ['a TXT with v=2', withRecord('txt', { ...good.txt, data: ['v=2', `id=${peer}`] })],
      ['a TXT without id=', withRecord('txt', { ...good.txt, data: ['v=1'] })],
      ['a TXT whose first v wins and is wrong', withRecord('txt', { ...good.txt, data: ['v=0', 'v=1', `id=${peer}`] })],
      ['an A that is not .local', withRecord('a', { ...good.a, name: 'host.example' })],
      ['an A of 0.0.0.0', withRecord('a', { ...good.a, data: '0.0.0.0' })],
      ['an A of a multicast address', withRecord('a', { ...good.a, data: '224.0.0.251' })],
      ['an A of the broadcast address', withRecord('a', { ...good.a, data: '255.255.255.255' })],
      ['a record of class CH', withRecord('srv', { ...good.srv, class: 'CH' })],
    ];
    it.each(cases)('%s', (_what, packet) => {
      expect(parse(packet)).toHaveLength(3);
    });

    it('a PTR whose label is the hex id (64 characters: not even a DNS label, so only as a decoded object)', () => {
      const { packet, size } = received(announcement(good));
      const hex = { ...good.ptr, flush: false, data: `${peer.toHex()}._peernet._tcp.local` };
      expect(parseResponse({ ...packet, answers: [hex] }, size, options)).toEqual([]);
    });

    it('records of other types (AAAA, NSEC, HINFO)', () => {
      const packet: Packet = {
        answers: [
          { name: peerHost, type: 'AAAA', ttl: 120, data: 'fe80::1' },
          { name: peerHost, type: 'NSEC', ttl: 120, data: { nextDomain: peerHost, rrtypes: ['A'] } },
          { name: peerHost, type: 'HINFO', ttl: 120, data: { cpu: 'x', os: 'y' } },
        ],
      };
      expect(parse(packet)).toEqual([]);
    });

    it('queries, and responses with an opcode or rcode other than zero (RFC 6762 §18)', () => {
      const { packet, size } = received(announcement(good));
      expect(parseResponse({ ...packet, type: 'query' }, size, options)).toEqual([]);
      expect(parseResponse({ ...packet, opcode: 'UPDATE' }, size, options)).toEqual([]);
      expect(parseResponse({ ...packet, rcode: 'NXDOMAIN' }, size, options)).toEqual([]);
    });

    it(`packets larger than ${MAX_PACKET_BYTES} bytes, unread`, () => {
      const { packet } = received(announcement(good));
      expect(parseResponse(packet, MAX_PACKET_BYTES + 1, options)).toEqual([]);
      expect(parseResponse(packet, Number.NaN, options)).toEqual([]);
      expect(parseResponse(packet, MAX_PACKET_BYTES, options)).toHaveLength(4);
    });

    it(`records beyond the first ${MAX_RECORDS}`, () => {
      const filler = Array.from({ length: MAX_RECORDS }, (_, i) => ({ name: `h${i}.local`, type: 'AAAA' as const, ttl: 1, data: '::1' }));
      const { packet } = received({ answers: [...filler, good.ptr] });
      expect(parseResponse(packet, 100, options)).toEqual([]);
    });

    it('addresses the caller refuses (off-link)', () => {
      const records = parse(announcement(good), { ...options, acceptAddress: (address) => address.startsWith('192.168.') });
      expect(records.map((r) => r.kind)).toEqual(['ptr', 'srv', 'txt']);
    });

    it('anything that is not a decoded packet, without throwing', () => {
      const junk: unknown[] = [
        null,
        undefined,
        42,
        'response',
        [],
        { type: 'response', answers: 'x' },
        { type: 'response', answers: [null, 1, 'a', [], { name: 5 }, { name: 'x', type: 'PTR', class: 'IN', ttl: -1, data: 'y' }] },
        { type: 'response', answers: [{ ...good.srv, data: null }, { ...good.srv, data: { port: '4040', target: peerHost } }] },
        { type: 'response', answers: [{ ...good.txt, data: [42] }, { ...good.ptr, data: 7 }, { ...good.a, data: 7 }] },
        { type: 'response', answers: [{ ...good.ptr, ttl: 1.5 }, { ...good.ptr, ttl: '120' }] },
      ];
      for (const packet of junk) expect(parseResponse(packet, 100, options)).toEqual([]);
    });
  });
});

describe('validTxt', () => {
  it('requires v=1 and the canonical id; other keys are allowed, keys are case-insensitive, first wins', () => {
    expect(validTxt(['v=1', `id=${peer}`], peer)).toBe(true);
    expect(validTxt([Buffer.from('V=1'), Buffer.from(`ID=${peer}`), Buffer.from('extra=yes'), Buffer.from('flag')], peer)).toBe(true);
    expect(validTxt(['', 'v=1', `id=${peer}`], peer)).toBe(true);
    expect(validTxt(['v=1', `id=${peer}`, `id=${other}`], peer)).toBe(true);
    expect(validTxt(['v=1', `id=${other}`, `id=${peer}`], peer)).toBe(false);
    expect(validTxt(['v', `id=${peer}`], peer)).toBe(false);
    expect(validTxt(['v=1 ', `id=${peer}`], peer)).toBe(false);
    expect(validTxt('v=1', peer)).toBe(false);
    expect(validTxt(undefined, peer)).toBe(false);
  });
});

describe('usableAddress', () => {
  it('accepts unicast IPv4 only', () => {
    for (const ok of ['10.0.0.1', '127.0.0.1', '192.168.1.254', '223.255.255.255', '169.254.3.4']) expect(usableAddress(ok)).toBe(true);
    for (const bad of ['0.0.0.0', '0.1.2.3', '224.0.0.251', '239.1.1.1', '240.0.0.1', '255.255.255.255', '::1', '1.2.3', 'x', '01.2.3.4']) {
      expect(usableAddress(bad)).toBe(false);
    }
  });
});
