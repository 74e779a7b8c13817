import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import {
  createNatLab,
  natLabUnavailableReason,
  readLines,
  Waiters,
  withTimeout,
  type NatLab,
  type NatLabNode,
} from '@peernet/compliance';

const unavailable = natLabUnavailableReason();
const describeLab = unavailable ? describe.skip : describe;
if (unavailable) console.warn(`skipping NAT-lab tests: ${unavailable}`);

const WAIT = 5000;

// A UDP endpoint driven over stdin, one JSON command a line; it reports on stdout
// what it bound, what it sent and every datagram it received, in order.
const AGENT = `
  const dgram = require('node:dgram');
  const sockets = new Map();
  const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
  const fail = (e) => { out({ error: String(e && e.message || e) }); process.exit(1); };
  require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
    const c = JSON.parse(line);
    if (c.op === 'bind') {
      const s = dgram.createSocket('udp4');
      s.on('error', fail);
      s.on('message', (m, r) => out({ got: String(m), on: c.port, address: r.address, port: r.port }));
      s.bind(c.port, () => { sockets.set(c.port, s); out({ bound: c.port }); });
    } else {
      sockets.get(c.from).send(c.data, c.port, c.to, (e) => (e ? fail(e) : out({ sent: c.data })));
    }
  });
`;

/** A datagram an agent received: its payload, the local port it came in on and its source as seen there. */
interface Datagram {
  data: string;
  on: number;
  address: string;
  port: number;
}

/** A UDP agent running in one namespace of the lab. */
class UdpAgent {
  readonly received: Datagram[] = [];
  readonly #acks = new Set<string>();
  readonly #errors: string[] = [];
  readonly #waiters = new Waiters();
  readonly #child: ChildProcess;

  constructor(lab: NatLab, node: NatLabNode) {
    this.#child = lab.spawn(node, [process.execPath, '-e', AGENT], { stdio: ['pipe', 'pipe', 'inherit'] });
    readLines(this.#child.stdout!, (line) => {
      const message = JSON.parse(line) as { got?: string; bound?: number; sent?: string; error?: string } & Datagram;
      if (message.got !== undefined) {
        this.received.push({ data: message.got, on: message.on, address: message.address, port: message.port });
      } else if (message.bound !== undefined) this.#acks.add(`bound ${message.bound}`);
      else if (message.sent !== undefined) this.#acks.add(`sent ${message.sent}`);
      else this.#errors.push(message.error ?? line);
      this.#waiters.wake();
    });
  }

  /** Binds a UDP socket on `port` (all addresses). */
  bind(port: number): Promise<void> {
    return this.#command({ op: 'bind', port }, `bound ${port}`);
  }

  /** Sends `data` from the socket bound on `from`; resolves once the agent's send completed. */
  send(from: number, to: string, port: number, data: string): Promise<void> {
    return this.#command({ op: 'send', from, to, port, data }, `sent ${data}`);
  }

  /** Resolves with the datagram carrying `data` once it arrived. */
  next(data: string): Promise<Datagram> {
    return this.#waiters.until(
      () => this.received.find((datagram) => datagram.data === data),
      WAIT,
      () => `datagram '${data}' (received: ${JSON.stringify(this.received.map((d) => d.data))}${this.#said()})`,
    );
  }

  /** The payloads received so far, in order of arrival. */
  payloads(): string[] {
    return this.received.map((datagram) => datagram.data);
  }

  async #command(command: object, ack: string): Promise<void> {
    this.#child.stdin!.write(`${JSON.stringify(command)}\n`);
    await this.#waiters.until(() => (this.#acks.has(ack) ? true : undefined), WAIT, () => `'${ack}'${this.#said()}`);
  }

  #said(): string {
    return this.#errors.length ? `; agent errors: ${this.#errors.join(', ')}` : '';
  }
}

/** `ip route get` inside `node`'s namespace: the route, or the error when there is none. */
function routeTo(node: NatLabNode, address: string): string {
  try {
    return execFileSync('ip', ['-n', node.namespace, 'route', 'get', address], { encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    return String((error as { stderr?: unknown }).stderr);
  }
}

describeLab('NAT lab', () => {
  let lab: NatLab;
  let internet: UdpAgent;
  let behind: UdpAgent[];
  beforeAll(async () => {
    lab = createNatLab({ nats: ['port-preserving', 'random', 'port-preserving'] });
    internet = new UdpAgent(lab, lab.internet[0]!);
    behind = lab.hosts.map((host) => new UdpAgent(lab, host));
    for (const port of [5001, 5002, 5003]) await internet.bind(port);
  });
  afterAll(() => lab?.destroy());

  it('gives routers public addresses on the internet segment and hosts private LANs of their own', () => {
    const [server] = lab.internet;
    expect(lab.routers.map((router) => router.nat)).toEqual(['port-preserving', 'random', 'port-preserving']);
    for (const [i, router] of lab.routers.entries()) {
      expect(router.publicAddress.split('.').slice(0, 3)).toEqual(server!.address.split('.').slice(0, 3));
      expect(lab.exec(lab.hosts[i]!, ['ip', '-4', 'route', 'show', 'default'])).toContain(`via ${router.lanAddress}`);
    }
    expect(new Set(lab.hosts.map((host) => host.address.split('.').slice(0, 3).join('.'))).size).toBe(3);
  });

  it("a 'port-preserving' router keeps the host's source port, whatever the destination", async () => {
    const [host] = behind;
    const { address } = lab.internet[0]!;
    await host!.bind(40001);
    await host!.send(40001, address, 5001, 'pp-a');
    await host!.send(40001, address, 5002, 'pp-b');
    const publicAddress = lab.routers[0]!.publicAddress;
    expect(await internet.next('pp-a')).toEqual({ data: 'pp-a', on: 5001, address: publicAddress, port: 40001 });
    expect(await internet.next('pp-b')).toEqual({ data: 'pp-b', on: 5002, address: publicAddress, port: 40001 });
  });

  it("a 'random' router gives each destination a source port of its own", async () => {
    const [, host] = behind;
    const { address } = lab.internet[0]!;
    await host!.bind(40002);
    await host!.send(40002, address, 5001, 'rnd-a');
    await host!.send(40002, address, 5002, 'rnd-b');
    const a = await internet.next('rnd-a');
    const b = await internet.next('rnd-b');
    expect([a.address, b.address]).toEqual([lab.routers[1]!.publicAddress, lab.routers[1]!.publicAddress]);
    // Each port comes from a keyed hash of source and destination: equal with odds of about 1 in 64,000.
    expect(a.port).not.toBe(b.port);
  });

  it('delivers from the internet only what answers a mapping the host opened', async () => {
    const [host] = behind;
    const server = lab.internet[0]!.address;
    const router = lab.routers[0]!.publicAddress;
    await host!.bind(40003);
    await host!.bind(40004);

    await internet.send(5003, router, 40003, 'unsolicited'); // before the host sent anything from 40003
    await host!.send(40003, server, 5001, 'out');
    expect(await internet.next('out')).toMatchObject({ address: router, port: 40003 });
    await internet.send(5001, router, 40003, 'hole');
    expect(await host!.next('hole')).toEqual({ data: 'hole', on: 40003, address: server, port: 5001 });

    await internet.send(5001, router, 40004, 'unmapped'); // the host never sent from 40004
    // The mapped port, but from a port the host never sent to: Linux filters by remote address and port.
    await internet.send(5003, router, 40003, 'other-source');
    await internet.send(5001, router, 40003, 'later');
    await host!.next('later');
    // Same sender, same path: had the earlier ones got through, they would have arrived before 'later'.
    const sent = ['unsolicited', 'hole', 'unmapped', 'other-source', 'later'];
    expect(host!.payloads().filter((data) => sent.includes(data))).toEqual(['hole', 'later']);
  });

  it('joins LANs only through both NATs, and nothing routes out of the lab', async () => {
    const [a, , b] = behind;
    const [hostA, , hostB] = lab.hosts;
    const [routerA, , routerB] = lab.routers;
    expect(routeTo(hostA!, hostB!.address)).toContain(`via ${routerA!.lanAddress}`);
    expect(routeTo(routerA!, hostB!.address)).toMatch(/Network is unreachable/);
    // Route lookups only: nothing is sent towards the machine's network.
    expect(routeTo(routerA!, '1.1.1.1')).toMatch(/Network is unreachable/);
    expect(routeTo(lab.internet[0]!, '1.1.1.1')).toMatch(/Network is unreachable/);

    await a!.bind(40005);
    await b!.bind(40005);
    await a!.send(40005, hostB!.address, 40005, 'private');
    // A holepunch through the two port-preserving NATs: B's packet opens B's mapping (A's router drops it) ...
    await b!.send(40005, routerA!.publicAddress, 40005, 'punch');
    // ... so A's packet to B's public address and port is an answer there.
    await a!.send(40005, routerB!.publicAddress, 40005, 'via-nats');
    expect(await b!.next('via-nats')).toEqual({
      data: 'via-nats',
      on: 40005,
      address: routerA!.publicAddress,
      port: 40005,
    });
    await b!.send(40005, routerA!.publicAddress, 40005, 'reply');
    expect(await a!.next('reply')).toEqual({ data: 'reply', on: 40005, address: routerB!.publicAddress, port: 40005 });
    expect(b!.payloads()).not.toContain('private');
    expect(a!.payloads()).not.toContain('punch');
  });

  it('destroy() kills what it spawned, removes every namespace, and is idempotent', async () => {
    const listed = (): string[] =>
      execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
        .split('\n')
        .map((line) => line.split(' ')[0]!);
    const other = createNatLab({ nats: ['random'], internetHosts: 2 });
    const names = [...other.namespaces];
    expect(names).toHaveLength(1 + 2 + 2); // the internet's bridge, 2 internet hosts, a router and its host
    expect(listed()).toEqual(expect.arrayContaining(names));
    const child = other.spawn(other.hosts[0]!, [process.execPath, '-e', 'setInterval(() => {}, 1000)']);
    const exited = once(child, 'exit');
    other.destroy();
    other.destroy();
    await withTimeout(exited, WAIT, 'the spawned child to be killed');
    const after = listed();
    for (const name of names) expect(after).not.toContain(name);
  });
});
