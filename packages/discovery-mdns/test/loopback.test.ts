import dnsPacket, { type Answer, type Packet } from 'dns-packet';
import { resourceSnapshot, resourcesAbove, waitUntil } from '@peernet/compliance';
import { generateIdentity } from '@peernet/identity';
import type { DiscoveredPeer, PeerId } from '@peernet/interface';
import { type MdnsDiscovery, type MdnsDiscoveryOptions, SERVICE_TYPE, mdnsDiscovery } from '@peernet/discovery-mdns';
import { defaultHostLabel, instanceNameOf } from '../src/names.js';
import { type ServiceRecords, announcement, serviceRecords } from '../src/records.js';
import { type LoopbackWire, Recorder, type Seen, loopbackWire } from './helpers.js';

// Every discovery here is restricted to loopback: nothing leaves the machine.
const LOOPBACK = ['127.0.0.1'];
const WAIT = 5000;

const open: MdnsDiscovery[] = [];
let wire: LoopbackWire;
let baseline: Map<string, number>;

function node(options: Partial<MdnsDiscoveryOptions> = {}): { discovery: MdnsDiscovery; recorder: Recorder; id: PeerId } {
  const identity = generateIdentity();
  const discovery = mdnsDiscovery({ identity, interfaces: LOOPBACK, ...options });
  open.push(discovery);
  return { discovery, recorder: new Recorder(discovery), id: identity.id };
}

function port(): number {
  return 20_000 + Math.floor(Math.random() * 40_000);
}

const hasPort = (p: number) => (peer: DiscoveredPeer) => peer.addresses.some((a) => a.port === p);

/** The records a PeerNet node with `id` would send on loopback. */
function fakeRecords(id: PeerId, p: number, ttl: number, address = '127.0.0.1'): ServiceRecords {
  return serviceRecords({ id, instance: instanceNameOf(id), host: `${defaultHostLabel(id)}.local`, port: p, ttl }, address);
}

const response = (answers: Answer[], additionals: Answer[] = []): Packet => ({
  type: 'response',
  flags: dnsPacket.AUTHORITATIVE_ANSWER,
  answers,
  additionals,
});

const asks = (name: string, type: string) => (s: Seen) =>
  s.packet.type === 'query' && (s.packet.questions ?? []).some((q) => q.name.toLowerCase() === name.toLowerCase() && q.type === type);

/**
 * A query by `asker` that `peer` has to answer: SRV or TXT of the peer's
 * instance, A of its host, or a browse (PTR) question that does not list the
 * peer as a known answer (RFC 6762 §7.1). `asker` lists its own PTR as known
 * in every PTR query, which tells its queries from the peer's.
 */
const asksFor = (asker: MdnsDiscovery, peer: MdnsDiscovery) => (s: Seen) => {
  if (s.packet.type !== 'query') return false;
  const known = (s.packet.answers ?? []).flatMap((r) => (r.type === 'PTR' ? [String(r.data).toLowerCase()] : []));
  const [instance, host] = [peer.instanceName.toLowerCase(), peer.hostname.toLowerCase()];
  return (s.packet.questions ?? []).some((q) => {
    const name = q.name.toLowerCase();
    if (q.type === 'PTR') {
      return name === SERVICE_TYPE && known.includes(asker.instanceName.toLowerCase()) && !known.includes(instance);
    }
    return (name === instance && (q.type === 'SRV' || q.type === 'TXT')) || (name === host && q.type === 'A');
  });
};

/** A response carrying a live record of `peer`: its PTR, SRV, TXT or A. */
const answersFor = (peer: MdnsDiscovery) => (s: Seen) =>
  s.packet.type === 'response' &&
  (s.packet.answers ?? []).some((r) => {
    if (((r as { ttl?: number }).ttl ?? 0) === 0) return false;
    const name = r.name.toLowerCase();
    if (r.type === 'PTR') return String(r.data).toLowerCase() === peer.instanceName.toLowerCase();
    return name === peer.instanceName.toLowerCase() || name === peer.hostname.toLowerCase();
  });

const answersAbout = (name: string, ttl?: number) => (s: Seen) =>
  s.packet.type === 'response' &&
  (s.packet.answers ?? []).some((a) => a.name.toLowerCase() === name.toLowerCase() && (ttl === undefined || (a as { ttl?: number }).ttl === ttl));

beforeEach(async () => {
  baseline = resourceSnapshot();
  wire = await loopbackWire();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.stop()));
  await wire.close();
  await waitUntil(() => resourcesAbove(baseline).length === 0, WAIT, `resources released (${resourcesAbove(baseline).join(', ')})`);
});

describe('mdns discovery on loopback', () => {
  it('two nodes find each other with the right id, port and 127.0.0.1, and never themselves', async () => {
    const a = node();
    const b = node();
    const [portA, portB] = [port(), port()];
    await a.discovery.announce({ port: portA });
    await a.discovery.start();
    await b.discovery.start();
    await b.discovery.announce({ port: portB });
    expect(a.discovery.activeInterfaces()).toEqual(['127.0.0.1']);
    const bAtA = await a.recorder.waitForPeer(b.id, WAIT);
    const aAtB = await b.recorder.waitForPeer(a.id, WAIT);
    expect(bAtA.addresses).toEqual([{ host: '127.0.0.1', port: portB }]);
    expect(aAtB.addresses).toEqual([{ host: '127.0.0.1', port: portA }]);
    // The sender of the records, so the registry can keep each sender's report apart.
    expect(bAtA.from).toBe('127.0.0.1');
    expect(a.recorder.peers(a.id)).toEqual([]);
    expect(b.recorder.peers(b.id)).toEqual([]);
  });

  it('announces on start twice, one second apart, with the records of a DNS-SD instance', async () => {
    const a = node();
    const p = port();
    await a.discovery.announce({ port: p });
    const from = wire.seen.length;
    await a.discovery.start();
    const first = await wire.waitFor(answersAbout(a.discovery.instanceName), WAIT, 'the first announcement', from);
    const firstIndex = wire.seen.indexOf(first);
    const second = await wire.waitFor(answersAbout(a.discovery.instanceName), WAIT, 'the second announcement', firstIndex + 1);
    expect(second.rinfo.port).toBe(5353);
    const answers = first.packet.answers ?? [];
    expect(answers.map((r) => `${r.type} ${r.name}`)).toEqual([
      `PTR ${SERVICE_TYPE}`,
      `SRV ${a.discovery.instanceName}`,
      `TXT ${a.discovery.instanceName}`,
      `A ${a.discovery.hostname}`,
    ]);
    const srv = answers.find((r) => r.type === 'SRV') as { data: { port: number; target: string }; ttl: number };
    expect(srv.data).toMatchObject({ port: p, target: a.discovery.hostname });
    expect(srv.ttl).toBe(120);
    const txt = answers.find((r) => r.type === 'TXT') as { data: Buffer[] };
    expect(txt.data.map(String)).toEqual(['v=1', `id=${a.id}`]);
    expect((answers.find((r) => r.type === 'A') as { data: unknown } | undefined)?.data).toBe('127.0.0.1');
    expect(first.rinfo.address).toBe('127.0.0.1');
  });

  /**
   * A node whose clock the test can move forward, to get past the responder's
   * one-second rate limit (RFC 6762 §6) without waiting; started, and done
   * with its two start announcements.
   */
  async function responder(): Promise<{ a: ReturnType<typeof node>; skip: () => void }> {
    let skew = 0;
    const a = node({ now: () => performance.now() + skew });
    await a.discovery.announce({ port: port() });
    const from = wire.seen.length;
    await a.discovery.start();
    const first = await wire.waitFor(answersAbout(a.discovery.instanceName), WAIT, 'the first announcement', from);
    await wire.waitFor(answersAbout(a.discovery.instanceName), WAIT, 'the second announcement', wire.seen.indexOf(first) + 1);
    return { a, skip: () => void (skew += 2000) };
  }

  it('answers a browse query with PTR, and SRV, TXT and A as additionals', async () => {
    const { a, skip } = await responder();
    skip();
    const from = wire.seen.length;
    await wire.send({ type: 'query', questions: [{ name: SERVICE_TYPE, type: 'PTR' }] });
    const answer = await wire.waitFor(
      (s) => s.packet.type === 'response' && (s.packet.answers ?? []).some((r) => r.type === 'PTR' && r.data === a.discovery.instanceName),
      WAIT,
      'an answer to our PTR query',
      from,
    );
    expect(answer.packet.answers).toHaveLength(1);
    expect((answer.packet.additionals ?? []).map((r) => r.type).sort()).toEqual(['A', 'SRV', 'TXT']);
    expect(answer.packet.questions).toEqual([]);
    expect(answer.rinfo.port).toBe(5353);
  });

  it('does not answer within a second of the last multicast of the same records', async () => {
    const { a, skip } = await responder();
    skip();
    const from = wire.seen.length;
    const question = { type: 'query' as const, questions: [{ name: a.discovery.hostname, type: 'A' as const }] };
    await wire.send(question);
    await wire.waitFor(answersAbout(a.discovery.hostname), WAIT, 'the first answer', from);
    await wire.send(question);
    skip();
    await wire.send(question);
    const answers = (): Seen[] => wire.seen.slice(from).filter(answersAbout(a.discovery.hostname));
    await waitUntil(() => answers().length >= 2, WAIT, 'the answer to the third question');
    // Three questions, two answers: the one asked within the second went unanswered.
    expect(wire.seen.slice(from).filter(asks(a.discovery.hostname, 'A'))).toHaveLength(3);
    expect(answers()).toHaveLength(2);
  });

  it('ignores "legacy unicast" queries from ports other than 5353 (it never sends unicast)', async () => {
    const { a, skip } = await responder();
    const legacy = await loopbackWire(0);
    try {
      skip();
      const from = wire.seen.length;
      await legacy.send({ type: 'query', questions: [{ name: a.discovery.hostname, type: 'A' }] });
      await wire.waitFor(asks(a.discovery.hostname, 'A'), WAIT, 'the legacy query on the wire', from);
      // The same question from port 5353 is answered: the node was listening, and chose not to answer the other.
      await wire.send({ type: 'query', questions: [{ name: a.discovery.hostname, type: 'A' }] });
      const answer = await wire.waitFor(answersAbout(a.discovery.hostname), WAIT, 'the answer to the 5353 query', from);
      expect(wire.seen.slice(from).filter(answersAbout(a.discovery.hostname))).toEqual([answer]);
      expect(wire.seen.slice(from).filter(asks(a.discovery.hostname, 'A'))).toHaveLength(2);
      expect(legacy.seen).toEqual([]);
    } finally {
      await legacy.close();
    }
  });

  it("three nodes: stop() says goodbye (TTL 0) and the others report 'peer:lost' once", async () => {
    const nodes = [node(), node(), node()];
    for (const n of nodes) {
      await n.discovery.announce({ port: port() });
      await n.discovery.start();
    }
    for (const observer of nodes) {
      for (const other of nodes) if (other !== observer) await observer.recorder.waitForPeer(other.id, WAIT);
    }
    const [leaver, x, y] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0]];
    const from = wire.seen.length;
    await leaver.discovery.stop();
    const goodbye = await wire.waitFor(answersAbout(leaver.discovery.instanceName, 0), WAIT, 'the goodbye', from);
    expect((goodbye.packet.answers ?? []).map((r) => (r as { ttl: number }).ttl)).toEqual([0, 0, 0, 0]);
    await x.recorder.waitForLost(leaver.id, WAIT);
    await y.recorder.waitForLost(leaver.id, WAIT);
    expect(x.recorder.lost(leaver.id)).toBe(1);
    expect(x.recorder.lost(y.id)).toBe(0);
    expect(y.recorder.lost(x.id)).toBe(0);
  });

  it("announce() with a new port is reported again; the same port is not reported twice", async () => {
    const a = node();
    const b = node();
    const [first, second] = [port(), port()];
    await a.discovery.announce({ port: first });
    await a.discovery.start();
    await b.discovery.start();
    await b.recorder.waitForPeer(a.id, WAIT, hasPort(first));
    await a.discovery.announce({ port: second });
    const moved = await b.recorder.waitForPeer(a.id, WAIT, hasPort(second));
    expect(moved.addresses).toEqual([{ host: '127.0.0.1', port: second }]);
    // Re-announcing the same port sends the records again, and reports nothing new.
    const from = wire.seen.length;
    await a.discovery.announce({ port: second });
    await wire.waitFor(answersAbout(a.discovery.instanceName), WAIT, 'the re-announcement', from);
    await b.discovery.stop();
    expect(b.recorder.peers(a.id)).toHaveLength(2);
  });

  it("a peer whose records expire (no goodbye, no answer to refresh queries) is reported lost", async () => {
    const a = node();
    await a.discovery.start();
    const ghost = generateIdentity().id;
    const p = port();
    const from = wire.seen.length;
    await wire.send(announcement(fakeRecords(ghost, p, 1)));
    const seenAt = await a.recorder.waitForPeer(ghost, WAIT);
    expect(seenAt.addresses).toEqual([{ host: '127.0.0.1', port: p }]);
    await a.recorder.waitForLost(ghost, WAIT);
    // Before giving up it asked for the records again (RFC 6762 §5.2).
    expect(wire.seen.slice(from).some(asks(instanceNameOf(ghost), 'SRV'))).toBe(true);
    const [seen, lost] = a.recorder.sightings.filter((s) => (s.kind === 'peer' ? s.peer.id : s.id).equals(ghost));
    expect(lost!.at - seen!.at).toBeGreaterThan(700);
  });

  it('a live peer with a 2 s TTL stays: refresh queries are answered, and it is reported once', async () => {
    const a = node({ ttl: 2 });
    const b = node({ ttl: 2 });
    await a.discovery.announce({ port: port() });
    await b.discovery.announce({ port: port() });
    await a.discovery.start();
    await b.discovery.start();
    await a.recorder.waitForPeer(b.id, WAIT);
    // Before b's records expire, a asks for them again and b answers. Which question comes first is
    // up to chance: each record has its own refresh point (80 % of the TTL plus up to 2 % at random),
    // and b's answer to a PTR question carries SRV, TXT and A too, which refreshes them without a
    // question of their own. So this waits for any question about b, not for one of a given type.
    const from = wire.seen.length;
    const refresh = await wire.waitFor(asksFor(a.discovery, b.discovery), WAIT, 'a refresh query about b', from);
    await wire.waitFor(answersFor(b.discovery), WAIT, "b's answer to the refresh query", wire.seen.indexOf(refresh) + 1);
    // Over two TTLs and a bit: no record may expire, so every one must be heard again at least twice.
    await expect(a.recorder.waitForLost(b.id, 4500)).rejects.toThrow(/timed out/);
    expect(a.recorder.lost(b.id)).toBe(0);
    expect(a.recorder.peers(b.id)).toHaveLength(1);
  });

  it('asks for missing SRV, TXT and A records and resolves the peer from the answers', async () => {
    const a = node();
    await a.discovery.start();
    const ghost = generateIdentity().id;
    const p = port();
    const records = fakeRecords(ghost, p, 120);
    const from = wire.seen.length;
    await wire.send(response([records.ptr]));
    await wire.waitFor(asks(records.srv.name, 'SRV'), WAIT, 'a follow-up SRV query', from);
    await wire.waitFor(asks(records.txt.name, 'TXT'), WAIT, 'a follow-up TXT query', from);
    await wire.send(response([records.srv, records.txt]));
    await wire.waitFor(asks(records.a.name, 'A'), WAIT, 'a follow-up A query', from);
    expect(a.recorder.peers(ghost)).toEqual([]);
    await wire.send(response([records.a]));
    const found = await a.recorder.waitForPeer(ghost, WAIT);
    expect(found.addresses).toEqual([{ host: '127.0.0.1', port: p }]);
  });

  it('survives hostile packets and reports none of them', async () => {
    const a = node();
    await a.discovery.announce({ port: port() });
    await a.discovery.start();
    const p = port();
    // A fresh forged id for each packet, so that no two packets add up to a valid instance.
    const good = (): ServiceRecords => fakeRecords(generateIdentity().id, p, 120);
    const garbage = [
      new Uint8Array(0),
      new Uint8Array([1, 2, 3]),
      new Uint8Array(12).fill(0xff),
      // A header announcing 65535 answers and nothing after it.
      Uint8Array.from([0, 0, 0x84, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0]),
      // A name that points at itself.
      Uint8Array.from([0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]),
    ];
    for (const bytes of garbage) await wire.send(bytes);
    const hostile: Packet[] = [
      // Our own id announced by someone else.
      announcement(fakeRecords(a.id, p, 120)),
      // A TXT that names another id than the label.
      ((r) => response([r.ptr, r.srv, { ...r.txt, data: ['v=1', `id=${generateIdentity().id}`] }, r.a]))(good()),
      // No v=1.
      ((r) => response([r.ptr, r.srv, { ...r.txt, data: [(r.txt.data as string[])[1] as string] }, r.a]))(good()),
      // v=2.
      ((r) => response([r.ptr, r.srv, { ...r.txt, data: ['v=2', (r.txt.data as string[])[1] as string] }, r.a]))(good()),
      // Another service.
      ((r) => response([{ ...r.ptr, name: '_http._tcp.local' }, r.srv, r.txt, r.a]))(good()),
      // An address off the loopback subnet.
      ((r) => response([r.ptr, r.srv, r.txt, { ...r.a, data: '192.0.2.1' }]))(good()),
      // A label that is not base32.
      ((r) => response([{ ...r.ptr, data: `${'0'.repeat(52)}._peernet._tcp.local` }, r.srv, r.txt, r.a]))(good()),
      // More than 9000 bytes.
      ((r) =>
        response(
          [r.ptr, r.srv, r.txt, r.a],
          Array.from({ length: 90 }, (_, i) => ({ name: `pad${i}.local`, type: 'TXT' as const, ttl: 1, data: 'x'.repeat(100) })),
        ))(good()),
    ];
    for (const packet of hostile) await wire.send(packet);
    // Then a valid one: it is reported, and it is the only report.
    const honest = generateIdentity().id;
    await wire.send(announcement(fakeRecords(honest, p, 120)));
    await a.recorder.waitForPeer(honest, WAIT);
    expect(a.recorder.sightings.map((s) => (s.kind === 'peer' ? s.peer.id : s.id).toString())).toEqual([honest.toString()]);
  });

  it('a burst of short-lived peers is refreshed with few, batched queries, then expires', async () => {
    const a = node();
    await a.discovery.start();
    const ghosts = Array.from({ length: 200 }, () => generateIdentity().id);
    const names = new Set(ghosts.flatMap((g) => [instanceNameOf(g), `${defaultHostLabel(g)}.local`].map((n) => n.toLowerCase())));
    const p = port();
    const from = wire.seen.length;
    // Ten peers per packet, each packet sent once the previous one came back: a burst, but no overflowing socket buffers.
    for (let i = 0; i < ghosts.length; i += 10) {
      const answers = ghosts.slice(i, i + 10).flatMap((g) => announcement(fakeRecords(g, p, 1)).answers ?? []);
      const before = wire.seen.length;
      await wire.send(response(answers));
      await wire.waitFor((s) => s.packet.answers?.length === answers.length, WAIT, 'the injected packet', before);
    }
    for (const ghost of ghosts) await a.recorder.waitForLost(ghost, WAIT);
    const queries = wire.seen
      .slice(from)
      .filter((s) => s.packet.type === 'query' && (s.packet.questions ?? []).some((q) => names.has(q.name.toLowerCase())));
    // 200 peers × 4 records × 4 refresh points, paced at one query packet per 100 ms of at most 32 questions.
    expect(queries.length).toBeGreaterThan(0);
    expect(queries.length).toBeLessThan(60);
    for (const q of queries) expect((q.packet.questions ?? []).length).toBeLessThanOrEqual(32);
  });

  it('stop() is idempotent and releases every socket and timer; start() again works', async () => {
    const a = node();
    const b = node();
    await a.discovery.announce({ port: port() });
    await a.discovery.start();
    await b.discovery.start();
    await b.recorder.waitForPeer(a.id, WAIT);
    await Promise.all([a.discovery.stop(), a.discovery.stop()]);
    await a.discovery.stop();
    expect(a.discovery.activeInterfaces()).toEqual([]);
    await b.recorder.waitForLost(a.id, WAIT);
    await a.discovery.start();
    await b.recorder.waitForPeer(a.id, WAIT, () => true, 2);
    await a.discovery.stop();
    await b.discovery.stop();
    await waitUntil(() => resourcesAbove(baseline).filter((r) => !r.startsWith('UDPWrap x1')).length === 0, WAIT, 'only the wire left');
  });
});
