import dnsPacket, { type Answer, type Packet } from 'dns-packet';
import { identityFromSeed } from '@peernet/identity';
import {
  SERVICE_ENUMERATION,
  SERVICE_TYPE,
  defaultHostLabel,
  instanceNameOf,
  isHostLabel,
  peerIdOfInstance,
} from '../src/names.js';
import { type LocalService, Responder, announcement, query, recordKey, serviceRecords } from '../src/records.js';

const id = identityFromSeed(new Uint8Array(32).fill(7)).id;
const text = id.toString();
const service: LocalService = {
  id,
  instance: instanceNameOf(id),
  host: `${defaultHostLabel(id)}.local`,
  port: 4040,
  ttl: 120,
};
const records = serviceRecords(service, '10.1.2.3');

/** Encodes and decodes, as the packet would travel. */
function wire(packet: Packet): ReturnType<typeof dnsPacket.decode> {
  return dnsPacket.decode(dnsPacket.encode(packet));
}

describe('names', () => {
  it('the instance name is the 52-character base32 id under _peernet._tcp.local', () => {
    expect(text).toHaveLength(52);
    expect(instanceNameOf(id)).toBe(`${text}._peernet._tcp.local`);
    expect(SERVICE_TYPE).toBe('_peernet._tcp.local');
  });

  it('the default host label is pn- and the first 16 characters of the id', () => {
    expect(defaultHostLabel(id)).toBe(`pn-${text.slice(0, 16)}`);
    expect(isHostLabel(defaultHostLabel(id))).toBe(true);
  });

  it('reads the peer id back from an instance name, case-insensitively', () => {
    expect(peerIdOfInstance(instanceNameOf(id))?.equals(id)).toBe(true);
    expect(peerIdOfInstance(instanceNameOf(id).toUpperCase())?.equals(id)).toBe(true);
  });

  it.each([
    ['an empty name', ''],
    ['the service type alone', SERVICE_TYPE],
    ['a label one character short', `${text.slice(1)}._peernet._tcp.local`],
    ['a label one character long', `${text}a._peernet._tcp.local`],
    ['the hex form of the id', `${id.toHex()}._peernet._tcp.local`],
    ['characters outside base32', `${text.slice(0, 51)}1._peernet._tcp.local`],
    ['non-zero padding bits', `${text.slice(0, 51)}b._peernet._tcp.local`],
    ['another service', `${text}._other._tcp.local`],
    ['another domain', `${text}._peernet._tcp.example`],
    ['a trailing dot', `${text}._peernet._tcp.local.`],
  ])('rejects %s', (_what, name) => {
    expect(peerIdOfInstance(name)).toBeUndefined();
  });

  it('accepts only one DNS label as host label', () => {
    for (const good of ['a', 'pn-abc', 'x1', 'a'.repeat(63)]) expect(isHostLabel(good)).toBe(true);
    for (const bad of ['', '-a', 'a-', 'a.b', 'a_b', 'a'.repeat(64), 'é']) expect(isHostLabel(bad)).toBe(false);
  });
});

describe('serviceRecords', () => {
  it('builds PTR, SRV, TXT and A exactly', () => {
    expect(records.ptr).toEqual({ name: '_peernet._tcp.local', type: 'PTR', class: 'IN', ttl: 120, data: `${text}._peernet._tcp.local` });
    expect(records.srv).toEqual({
      name: `${text}._peernet._tcp.local`,
      type: 'SRV',
      class: 'IN',
      flush: true,
      ttl: 120,
      data: { priority: 0, weight: 0, port: 4040, target: `pn-${text.slice(0, 16)}.local` },
    });
    expect(records.txt).toEqual({
      name: `${text}._peernet._tcp.local`,
      type: 'TXT',
      class: 'IN',
      flush: true,
      ttl: 120,
      data: ['v=1', `id=${text}`],
    });
    expect(records.a).toEqual({ name: `pn-${text.slice(0, 16)}.local`, type: 'A', class: 'IN', flush: true, ttl: 120, data: '10.1.2.3' });
    expect(records.enumeration).toEqual({ name: SERVICE_ENUMERATION, type: 'PTR', class: 'IN', ttl: 120, data: SERVICE_TYPE });
  });

  it('the PTR is shared (no cache-flush bit); SRV, TXT and A are unique (cache-flush bit)', () => {
    const decoded = wire(announcement(records));
    const flags = Object.fromEntries((decoded.answers ?? []).map((a) => [a.type, (a as { flush?: boolean }).flush]));
    expect(flags).toEqual({ PTR: false, SRV: true, TXT: true, A: true });
  });

  it('the announcement carries the four records as answers and survives the wire', () => {
    const decoded = wire(announcement(records));
    expect(decoded.type).toBe('response');
    expect(decoded.questions).toEqual([]);
    expect(decoded.answers?.map((a) => a.type)).toEqual(['PTR', 'SRV', 'TXT', 'A']);
    const txt = decoded.answers?.find((a) => a.type === 'TXT') as { data: Buffer[] };
    expect(txt.data.map((b) => b.toString())).toEqual(['v=1', `id=${text}`]);
    const srv = decoded.answers?.find((a) => a.type === 'SRV') as { data: { port: number; target: string } };
    expect(srv.data.port).toBe(4040);
    expect(srv.data.target).toBe(service.host);
  });

  it('the goodbye is the same records with TTL 0', () => {
    const goodbye = announcement(serviceRecords(service, '10.1.2.3', 0));
    expect(goodbye.answers?.map((a) => (a as { ttl: number }).ttl)).toEqual([0, 0, 0, 0]);
    expect(goodbye.answers?.map(recordKey)).toEqual(announcement(records).answers?.map(recordKey));
  });

  it('the A record carries the address of the interface it is built for', () => {
    expect(serviceRecords(service, '127.0.0.1').a.data).toBe('127.0.0.1');
  });
});

describe('Responder', () => {
  const ask = (questions: Array<{ name: string; type: string; class?: string }>, answers: Answer[] = []): Packet =>
    wire(query(questions as never, answers));
  const types = (packet: Packet | undefined, section: 'answers' | 'additionals'): string[] =>
    (packet?.[section] ?? []).map((a) => `${a.type} ${a.name}`).sort();

  it('answers a PTR browse with the PTR, and SRV, TXT and A as additionals (RFC 6763 §12.1)', () => {
    const response = new Responder().respond(ask([{ name: SERVICE_TYPE, type: 'PTR' }]), records, 0);
    expect(types(response, 'answers')).toEqual([`PTR ${SERVICE_TYPE}`]);
    expect(types(response, 'additionals')).toEqual([`A ${service.host}`, `SRV ${service.instance}`, `TXT ${service.instance}`]);
    expect(response?.type).toBe('response');
    expect(response?.questions).toBeUndefined();
  });

  it('answers SRV (with A), TXT, A and ANY questions about our names', () => {
    expect(types(new Responder().respond(ask([{ name: service.instance, type: 'SRV' }]), records, 0), 'answers')).toEqual([
      `SRV ${service.instance}`,
    ]);
    expect(types(new Responder().respond(ask([{ name: service.instance, type: 'SRV' }]), records, 0), 'additionals')).toEqual([
      `A ${service.host}`,
    ]);
    expect(types(new Responder().respond(ask([{ name: service.instance, type: 'TXT' }]), records, 0), 'answers')).toEqual([
      `TXT ${service.instance}`,
    ]);
    expect(types(new Responder().respond(ask([{ name: service.host, type: 'A' }]), records, 0), 'answers')).toEqual([
      `A ${service.host}`,
    ]);
    expect(types(new Responder().respond(ask([{ name: service.instance, type: 'ANY' }]), records, 0), 'answers')).toEqual([
      `SRV ${service.instance}`,
      `TXT ${service.instance}`,
    ]);
  });

  it('lists the service type for the DNS-SD enumeration query (RFC 6763 §9)', () => {
    const response = new Responder().respond(ask([{ name: SERVICE_ENUMERATION, type: 'PTR' }]), records, 0);
    expect(response?.answers).toEqual([records.enumeration]);
  });

  it('matches names case-insensitively and accepts the unicast-response (QU) bit', () => {
    const upper = new Responder().respond(ask([{ name: SERVICE_TYPE.toUpperCase(), type: 'PTR' }]), records, 0);
    expect(types(upper, 'answers')).toEqual([`PTR ${SERVICE_TYPE}`]);
    // A QU question: class IN with the top bit set.
    const raw = Buffer.from(dnsPacket.encode(query([{ name: SERVICE_TYPE, type: 'PTR' }])));
    raw.writeUInt16BE(0x8001, raw.length - 2);
    const qu = new Responder().respond(dnsPacket.decode(raw), records, 0);
    expect(types(qu, 'answers')).toEqual([`PTR ${SERVICE_TYPE}`]);
  });

  it('stays silent for questions about other names, types and classes', () => {
    const responder = new Responder();
    for (const q of [
      { name: '_other._tcp.local', type: 'PTR' },
      { name: service.instance, type: 'A' },
      { name: service.host, type: 'AAAA' },
      { name: `x${service.host}`, type: 'A' },
      { name: SERVICE_TYPE, type: 'PTR', class: 'CH' },
    ]) {
      expect(responder.respond(ask([q]), records, 0)).toBeUndefined();
    }
    expect(responder.respond({ type: 'query' }, records, 0)).toBeUndefined();
    expect(responder.respond({ type: 'query', questions: [null, 7, { name: 1 }] as never }, records, 0)).toBeUndefined();
  });

  it('suppresses answers the querier already knows with at least half the TTL left (RFC 6762 §7.1)', () => {
    const known = ask([{ name: SERVICE_TYPE, type: 'PTR' }], [{ ...records.ptr, ttl: 60 }]);
    expect(new Responder().respond(known, records, 0)).toBeUndefined();
    const stale = ask([{ name: SERVICE_TYPE, type: 'PTR' }], [{ ...records.ptr, ttl: 59 }]);
    expect(types(new Responder().respond(stale, records, 0), 'answers')).toEqual([`PTR ${SERVICE_TYPE}`]);
    const otherInstance = ask([{ name: SERVICE_TYPE, type: 'PTR' }], [{ ...records.ptr, data: `x${service.instance}` }]);
    expect(types(new Responder().respond(otherInstance, records, 0), 'answers')).toEqual([`PTR ${SERVICE_TYPE}`]);
  });

  it('multicasts a record at most once a second (RFC 6762 §6)', () => {
    const responder = new Responder();
    const browse = ask([{ name: SERVICE_TYPE, type: 'PTR' }]);
    expect(responder.respond(browse, records, 1000)).toBeDefined();
    expect(responder.respond(browse, records, 1999)).toBeUndefined();
    expect(responder.respond(browse, records, 2000)).toBeDefined();
    // An announcement counts as a multicast too.
    responder.sent(announcement(records), 5000);
    expect(responder.respond(browse, records, 5500)).toBeUndefined();
    responder.clear();
    expect(responder.respond(browse, records, 5500)).toBeDefined();
  });

  it('a changed record (new port) is not held back by the rate limit of the old one', () => {
    const responder = new Responder();
    const srvQuestion = ask([{ name: service.instance, type: 'SRV' }]);
    expect(responder.respond(srvQuestion, records, 0)).toBeDefined();
    const moved = serviceRecords({ ...service, port: 5050 }, '10.1.2.3');
    const response = responder.respond(srvQuestion, moved, 100);
    expect((response?.answers?.[0] as { data: { port: number } }).data.port).toBe(5050);
  });

  it('looks at no more than 64 questions', () => {
    const filler = Array.from({ length: 64 }, (_, i) => ({ name: `n${i}.local`, type: 'A' }));
    const late = ask([...filler, { name: SERVICE_TYPE, type: 'PTR' }]);
    expect(new Responder().respond(late, records, 0)).toBeUndefined();
  });
});
