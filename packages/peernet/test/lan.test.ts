// Real LAN behaviour: nodes in network namespaces on one bridge, started with
// no addresses, finding each other by mDNS or UDP broadcast alone.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Waiters, createNetnsLab, netnsUnavailableReason, type NetnsHost, type NetnsLab } from '@peernet/compliance';
import { generateIdentity, saveIdentity, type Identity } from '@peernet/identity';
import { openFileTrustStore } from '@peernet/trust';
import { cleanup, tempDir } from './helpers.js';

const script = join(__dirname, 'fixtures', 'lan-node.mjs');
const unavailable = netnsUnavailableReason();
if (unavailable) console.warn(`skipping LAN tests: ${unavailable}`);
const describeLan = unavailable ? describe.skip : describe;

interface NodeEvent {
  event: string;
  peer?: string;
  trusted?: boolean;
  code?: string;
  message?: string;
  tag?: number;
  result?: unknown;
  error?: string;
}

/** A node process in a namespace, with its event log and a way to wait on it. */
class LanNode {
  readonly events: NodeEvent[] = [];
  readonly #waiters = new Waiters();
  #tag = 0;
  readonly child: ChildProcess;

  constructor(lab: NetnsLab, readonly host: NetnsHost, readonly dir: string, readonly id: string, discovery: string[]) {
    const options = { dataDir: dir, discovery, interfaces: [host.iface] };
    this.child = lab.spawn(host, [process.execPath, script, JSON.stringify(options)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.events.push(JSON.parse(line) as NodeEvent);
      this.#waiters.wake();
    });
  }

  /** Resolves with the first event (from index `from` on) matching `match`, or rejects after `ms`. */
  waitFor(match: (e: NodeEvent) => boolean, ms: number, from = 0): Promise<NodeEvent> {
    return this.#waiters.until(
      () => this.events.slice(from).find(match),
      ms,
      () => `a matching event from ${this.host.namespace}; saw ${JSON.stringify(this.events.slice(from))}`,
    );
  }

  /** Calls `name` on `peer` through this node; resolves with the result or the error code. */
  async call(peer: string, name: string): Promise<NodeEvent> {
    const tag = ++this.#tag;
    const from = this.events.length;
    this.child.stdin!.write(JSON.stringify({ cmd: 'call', peer, name, tag }) + '\n');
    return this.waitFor((e) => e.event === 'result' && e.tag === tag, 5000, from);
  }

  isOnlineWith(peer: string): boolean {
    let online = false;
    for (const e of this.events) {
      if (e.peer !== peer) continue;
      if (e.event === 'online') online = true;
      if (e.event === 'offline') online = false;
    }
    return online;
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }

  /** Kills the process and waits until it is gone. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}

describeLan('LAN: nodes in network namespaces', () => {
  let lab: NetnsLab;
  const identities: Identity[] = [];
  const dirs: string[] = [];
  let nodes: LanNode[] = [];

  beforeAll(async () => {
    if (!existsSync(join(__dirname, '..', 'dist', 'index.js'))) throw new Error('build first (pnpm build)');
    lab = createNetnsLab({ hosts: 4 });
    // Nodes 0-2 are paired with each other; node 3 is paired with nobody.
    for (let i = 0; i < 4; i++) {
      identities.push(generateIdentity());
      dirs.push(await tempDir());
      await saveIdentity(join(dirs[i]!, 'identity.key'), identities[i]!);
    }
    for (let i = 0; i < 3; i++) {
      const trust = await openFileTrustStore({ path: join(dirs[i]!, 'trust.json') });
      for (let j = 0; j < 3; j++) if (j !== i) await trust.add(identities[j]!.id, { label: `node${j}` });
      await trust.close();
    }
  });

  afterEach(async () => {
    if (process.env.PEERNET_LAN_DEBUG) {
      for (const node of nodes) console.log(node.host.namespace, JSON.stringify(node.events.filter((e) => e.event !== 'debug' || !/dial failed/.test(e.message ?? '')), null, 0));
    }
    await Promise.all(nodes.map((node) => node.stop()));
    nodes = [];
    // A failed test must not leave a link down for the next one.
    for (const host of lab.hosts) lab.linkUp(host);
  });

  afterAll(async () => {
    lab?.destroy();
    await cleanup();
  });

  const id = (i: number): string => identities[i]!.id.toString();
  const start = (i: number, discovery: string[]): LanNode =>
    (nodes[i] = new LanNode(lab, lab.hosts[i]!, dirs[i]!, id(i), discovery));

  async function allPairsOnline(ms: number): Promise<void> {
    await Promise.all(
      [0, 1, 2].flatMap((i) =>
        [0, 1, 2].filter((j) => j !== i).map((j) => nodes[i]!.waitFor((e) => e.event === 'online' && e.peer === id(j), ms)),
      ),
    );
  }

  it.each([['udp'], ['mdns']])(
    'paired nodes find each other by %s alone; an unpaired fourth is listed but never dialled',
    async (mechanism) => {
      for (let i = 0; i < 4; i++) start(i, [mechanism]);
      await allPairsOnline(15_000);
      // Everyone saw node 3 as an untrusted peer...
      await Promise.all(
        [0, 1, 2].map((i) => nodes[i]!.waitFor((e) => e.event === 'discovered' && e.peer === id(3) && e.trusted === false, 15_000)),
      );
      // ...and node 3 never saw a connection attempt (a dial would show as a failed inbound handshake).
      expect(nodes[3]!.events.filter((e) => e.event === 'warn' || e.event === 'online')).toEqual([]);
      const reply = await nodes[0]!.call(id(2), 'whoami');
      expect(reply.result).toMatchObject({ id: id(2) });
    },
    40_000,
  );

  it('a node whose link goes down is seen offline within the liveness timeout, and online again after', async () => {
    for (let i = 0; i < 3; i++) start(i, ['udp', 'mdns']);
    await allPairsOnline(15_000);
    const marks = nodes.map((n) => n.events.length);
    lab.linkDown(lab.hosts[2]!);
    await Promise.all([0, 1].map((i) => nodes[i]!.waitFor((e) => e.event === 'offline' && e.peer === id(2), 5_000, marks[i])));
    const after = nodes.map((n) => n.events.length);
    lab.linkUp(lab.hosts[2]!);
    await Promise.all([0, 1].map((i) => nodes[i]!.waitFor((e) => e.event === 'online' && e.peer === id(2), 10_000, after[i])));
    expect(await nodes[0]!.call(id(2), 'whoami')).toMatchObject({ result: { id: id(2) } });
  }, 40_000);

  it('a node whose address changes is back online within 5 s', async () => {
    for (let i = 0; i < 3; i++) start(i, ['udp', 'mdns']);
    await allPairsOnline(15_000);
    const mark = nodes[1]!.events.length;
    const host = lab.hosts[1]!;
    const started = performance.now();
    lab.setAddress(host, host.address.replace(/\.\d+$/, '.201'));
    // The moved node drops its sessions (bound to the vanished address) and makes new ones.
    for (const j of [0, 2]) {
      await nodes[1]!.waitFor((e) => e.event === 'offline' && e.peer === id(j), 5_000, mark);
      await nodes[1]!.waitFor((e) => e.event === 'online' && e.peer === id(j), 5_000, mark);
    }
    expect(performance.now() - started).toBeLessThan(5_000);
    // The others reach it again (their side may have swapped sessions without ever going offline).
    expect(await nodes[0]!.call(id(1), 'whoami')).toMatchObject({ result: { id: id(1) } });
    expect(await nodes[2]!.call(id(1), 'whoami')).toMatchObject({ result: { id: id(1) } });
  }, 40_000);

  it('a node killed with SIGKILL and restarted with the same data dir is reconnected', async () => {
    for (let i = 0; i < 3; i++) start(i, ['udp', 'mdns']);
    await allPairsOnline(15_000);
    const marks = nodes.map((n) => n.events.length);
    nodes[2]!.kill();
    await Promise.all([0, 1].map((i) => nodes[i]!.waitFor((e) => e.event === 'offline' && e.peer === id(2), 5_000, marks[i])));
    const after = nodes.map((n) => n.events.length);
    start(2, ['udp', 'mdns']);
    await Promise.all([0, 1].map((i) => nodes[i]!.waitFor((e) => e.event === 'online' && e.peer === id(2), 10_000, after[i])));
    const reply = await nodes[1]!.call(id(2), 'whoami');
    expect(reply.result).toMatchObject({ id: id(2), pid: expect.any(Number) });
  }, 40_000);
});
