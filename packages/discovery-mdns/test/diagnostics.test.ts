import { createSocket } from 'node:dgram';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { NetworkInterfaceInfo } from 'node:os';
import dnsPacket, { type Answer, type Packet } from 'dns-packet';
import { Waiters, catchUncaught, resourceSnapshot, resourcesAbove, waitUntil } from '@peernet/compliance';
import { generateIdentity } from '@peernet/identity';
import { DIAGNOSTICS_CHANNELS, type PeerId } from '@peernet/interface';
import { type MdnsDiscovery, type MdnsDiscoveryOptions, mdnsDiscovery } from '@peernet/discovery-mdns';
import { defaultHostLabel, instanceNameOf } from '../src/names.js';
import { announcement, serviceRecords } from '../src/records.js';
import { type LoopbackWire, Recorder, loopbackWire } from './helpers.js';

// Real datagrams on the loopback mDNS group, and what a discovery listening there publishes about them.
// Every socket here is restricted to loopback (multicast interface 127.0.0.1, TTL 1): nothing leaves the machine.

const WAIT = 5000;

type Message = Record<string, unknown>;

/** Everything published on the dropped channel while subscribed. */
class Drops {
  readonly messages: Message[] = [];
  readonly #waiters = new Waiters();
  readonly #onMessage = (message: unknown): void => {
    this.messages.push(message as Message);
    this.#waiters.wake();
  };

  constructor() {
    subscribe(DIAGNOSTICS_CHANNELS.discoveryDropped, this.#onMessage);
  }

  /** Waits for a message with every field of `expected`. */
  waitFor(expected: Message): Promise<Message> {
    const matches = (m: Message): boolean => Object.entries(expected).every(([k, v]) => m[k] === v);
    return this.#waiters.until(
      () => this.messages.find(matches),
      WAIT,
      () => `${JSON.stringify(expected)} (got ${JSON.stringify(this.messages)})`,
    );
  }

  close(): void {
    unsubscribe(DIAGNOSTICS_CHANNELS.discoveryDropped, this.#onMessage);
  }
}

let baseline: Map<string, number>;
let drops: Drops;
let cleanup: Array<() => Promise<void> | void> = [];

beforeEach(() => {
  baseline = resourceSnapshot();
  drops = new Drops();
  cleanup = [() => drops.close()];
});

afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  await waitUntil(() => resourcesAbove(baseline).length === 0, WAIT, `resources released (${resourcesAbove(baseline).join(', ')})`);
});

async function running(options: Partial<MdnsDiscoveryOptions> = {}): Promise<MdnsDiscovery> {
  const discovery = mdnsDiscovery({ identity: generateIdentity(), interfaces: ['127.0.0.1'], ...options });
  cleanup.push(() => discovery.stop());
  await discovery.start();
  return discovery;
}

async function wire(port: number): Promise<LoopbackWire> {
  const opened = await loopbackWire(port);
  cleanup.push(() => opened.close());
  return opened;
}

const response = (answers: Answer[]): Packet => ({ type: 'response', flags: dnsPacket.AUTHORITATIVE_ANSWER, answers });

function records(id: PeerId, port: number) {
  return serviceRecords({ id, instance: instanceNameOf(id), host: `${defaultHostLabel(id)}.local`, port, ttl: 120 }, '127.0.0.1');
}

describe('mdns discovery diagnostics', () => {
  it('publishes a datagram that is not a DNS message as malformed, naming its source', async () => {
    await running();
    const sender = await wire(0);
    await sender.send(Uint8Array.from([1, 2, 3, 4, 5]));
    const from = `127.0.0.1:${sender.port}`;
    expect(await drops.waitFor({ from })).toEqual({ discovery: 'mdns', from, reason: 'malformed' });
  });

  it('publishes a message over 9000 bytes as too-large', async () => {
    await running();
    const sender = await wire(0);
    const big: Answer = { name: 'padding.local', type: 'TXT', class: 'IN', ttl: 120, data: Array.from({ length: 40 }, () => 'x'.repeat(250)) };
    const bytes = dnsPacket.encode(response([big]));
    expect(bytes.length).toBeGreaterThan(9000);
    await sender.send(bytes);
    const from = `127.0.0.1:${sender.port}`;
    expect(await drops.waitFor({ from })).toEqual({ discovery: 'mdns', from, reason: 'too-large' });
  });

  it('publishes a response not sent from port 5353 as wrong-port, and does not take its records', async () => {
    const discovery = await running();
    const recorder = new Recorder(discovery);
    const sender = await wire(0);
    const peer = generateIdentity().id;
    await sender.send(announcement(records(peer, 7000)));
    const from = `127.0.0.1:${sender.port}`;
    expect(await drops.waitFor({ from })).toEqual({ discovery: 'mdns', from, reason: 'wrong-port' });
    expect(recorder.peers(peer)).toEqual([]);
  });

  it('publishes a query from another port as legacy-unicast once it has records to answer with', async () => {
    const discovery = await running();
    await discovery.announce({ port: 7100 });
    const sender = await wire(0);
    await sender.send({ type: 'query', questions: [{ name: discovery.hostname, type: 'A' }] });
    const from = `127.0.0.1:${sender.port}`;
    expect(await drops.waitFor({ from })).toEqual({ discovery: 'mdns', from, reason: 'legacy-unicast' });
  });

  it('publishes a response whose PeerNet records fail validation as invalid-record', async () => {
    const discovery = await running();
    const recorder = new Recorder(discovery);
    const group = await wire(5353);
    const [claimed, other] = [generateIdentity().id, generateIdentity().id];
    const { ptr, srv, txt, a } = records(claimed, 7000);
    // The TXT names another id than the instance label: what a careless forger sends.
    const forgedTxt = { ...txt, data: ['v=1', `id=${other.toString()}`] };
    await group.send(response([ptr, srv, forgedTxt, a]));
    expect(await drops.waitFor({ reason: 'invalid-record' })).toEqual({
      discovery: 'mdns',
      from: '127.0.0.1:5353',
      reason: 'invalid-record',
    });
    expect(recorder.peers(claimed)).toEqual([]);
  });

  it('publishes a source outside every interface subnet as off-link', async () => {
    // Only 127.0.0.0/30 counts as this interface's subnet here, so 127.0.0.9 is off-link while still on loopback.
    const narrow = (): NodeJS.Dict<NetworkInterfaceInfo[]> => ({
      lo: [{ address: '127.0.0.1', netmask: '255.255.255.252', family: 'IPv4', mac: '', internal: true, cidr: null }],
    });
    await running({ networkInterfaces: narrow });
    const socket = createSocket({ type: 'udp4' });
    cleanup.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.9', resolve));
    socket.setMulticastInterface('127.0.0.1');
    socket.setMulticastTTL(1);
    const bytes = dnsPacket.encode({ type: 'query', questions: [{ name: '_peernet._tcp.local', type: 'PTR' }] });
    await new Promise<void>((resolve, reject) => socket.send(bytes, 5353, '224.0.0.251', (e) => (e ? reject(e) : resolve())));
    const from = `127.0.0.9:${socket.address().port}`;
    expect(await drops.waitFor({ from })).toEqual({ discovery: 'mdns', from, reason: 'off-link' });
  });

  it('publishes nothing about two healthy nodes finding each other, nor about their own looped-back records', async () => {
    const a = await running();
    const b = await running();
    const seen = new Recorder(a);
    await b.announce({ port: 7200 });
    await a.announce({ port: 7201 });
    await seen.waitForPeer(b.id, WAIT);
    expect(drops.messages.filter((m) => m.reason === 'invalid-record' || m.reason === 'malformed')).toEqual([]);
  });
});

describe('mdns discovery listeners', () => {
  it("a throwing 'peer' listener stops neither the next listener nor the discovery, and its error surfaces as uncaught", async () => {
    const observer = await running();
    const bug = new Error('listener bug');
    observer.on('peer', () => {
      throw bug;
    });
    const recorder = new Recorder(observer);
    const uncaught = catchUncaught();
    try {
      const peer = await running();
      await peer.announce({ port: 7300 });
      await recorder.waitForPeer(peer.id, WAIT);
      expect(await uncaught.until(1, WAIT)).toEqual([bug]);
      // Still working: the goodbye is heard.
      await peer.stop();
      await recorder.waitForLost(peer.id, WAIT);
    } finally {
      uncaught.restore();
    }
  });
});
