import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { resourceSnapshot, resourcesAbove, waitUntil, withTimeout } from '@peernet/compliance';
import { type Identity, generateIdentity } from '@peernet/identity';
import { systemClock } from '@peernet/interface';
import {
  PACKET_BYTES,
  type UdpDiscovery,
  type UdpDiscoveryOptions,
  encodeAnnouncement,
  udpDiscovery,
} from '../src/index.js';
import { EventLog, RawSocket, loopbackOnly, randomPort, useLoopbackGuard } from './helpers.js';

// Forging one paired key's announcements at 1,000+ packets/s must starve
// neither the other paired peers nor the key's owner, and a genuine
// announcement dropped for lack of budget must not come back from elsewhere.

useLoopbackGuard();

const FORGER_SCRIPT = path.join(__dirname, 'fixtures', 'forger.mjs');
const FORGER_ADDRESS = '127.0.0.9';
const FORGER_RATE = 1500;
const FORGER_SECONDS = 12;
const FORGER_MAX = FORGER_RATE * FORGER_SECONDS;
const INTERVAL_MS = 1000;
// Three missed announcements: what the attack used to cause within seconds.
const TTL_MS = 3 * INTERVAL_MS;
const COMEBACK_MS = 3000;
// Each peer restarts this many times: a lucky packet must not pass for a working budget.
const RESTARTS = 3;

const { NODE_EXTRA_CA_CERTS: _unused, ...childEnv } = process.env;

type ForgerLine =
  | { event: 'started'; at: number }
  | { event: 'done'; sent: number; errors: number; started: number; ended: number; ms: number };

/** The forger child process, with what it printed. */
class Forger {
  readonly child: ChildProcess;
  readonly lines: ForgerLine[] = [];
  readonly exited: Promise<number | null>;
  stderr = '';

  constructor(udpPort: number, key: Uint8Array) {
    this.child = spawn(
      process.execPath,
      [
        FORGER_SCRIPT,
        '127.255.255.255',
        String(udpPort),
        Buffer.from(key).toString('hex'),
        String(FORGER_RATE),
        String(FORGER_MAX),
        String(FORGER_SECONDS),
        FORGER_ADDRESS,
      ],
      { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    if (this.child.stdout) {
      createInterface({ input: this.child.stdout }).on('line', (line) => this.lines.push(JSON.parse(line) as ForgerLine));
    }
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code) => resolve(code));
      this.child.on('error', () => resolve(null));
    });
  }

  line<E extends ForgerLine['event']>(event: E): Extract<ForgerLine, { event: E }> | undefined {
    return this.lines.find((l): l is Extract<ForgerLine, { event: E }> => l.event === event);
  }
}

/** A well-formed packet naming `key` with a random signature: what a forger without the key can send. */
function forgedPacket(key: Uint8Array, time: number): Uint8Array {
  const bytes = new Uint8Array(PACKET_BYTES);
  const view = new DataView(bytes.buffer);
  bytes.set([0x50, 0x4e, 0x45, 0x54, 2, 0], 0);
  view.setUint16(6, 7666);
  bytes.set(key, 8);
  view.setUint32(40, Math.floor(time / 2 ** 32));
  view.setUint32(44, time % 2 ** 32);
  for (let i = 48; i < PACKET_BYTES; i++) bytes[i] = (i * 37 + time) & 0xff;
  return bytes;
}

function loopbackDiscovery(identity: Identity, port: number, options: Partial<UdpDiscoveryOptions> = {}): UdpDiscovery {
  return udpDiscovery({
    identity,
    port,
    interfaces: ['127.0.0.1'],
    networkInterfaces: loopbackOnly,
    intervalMs: INTERVAL_MS,
    ...options,
  });
}

describe('forging one paired key (real UDP on loopback, forger in a child process)', () => {
  let forger: Forger | undefined;
  const running = new Set<UdpDiscovery>();

  afterEach(async () => {
    if (forger !== undefined && forger.child.exitCode === null) forger.child.kill('SIGKILL');
    await forger?.exited;
    forger = undefined;
    for (const d of running) await withTimeout(d.stop(), 3000, 'stop()');
    running.clear();
  });

  it('keeps verifying every paired peer, and both the forged key owner and another peer come back within seconds after a restart', async () => {
    const baseline = resourceSnapshot();
    const port = randomPort();
    const me = generateIdentity();
    const alice = generateIdentity(); // the key the forger names
    const bob = generateIdentity(); // another paired peer
    const receiver = loopbackDiscovery(me, port, {
      isWanted: (id) => id.equals(alice.id) || id.equals(bob.id),
    });
    running.add(receiver);
    const log = new EventLog(receiver);
    await receiver.start();

    const current = new Map<Identity, UdpDiscovery>();
    let nextPort = 9100;
    const startPeer = async (identity: Identity): Promise<number> => {
      const announced = nextPort++;
      const peer = loopbackDiscovery(identity, port);
      current.set(identity, peer);
      running.add(peer);
      await peer.announce({ port: announced });
      await peer.start();
      return announced;
    };
    const reportedAt = (identity: Identity, announced: number): boolean =>
      log.peers(identity.id).some((p) => p.addresses.some((a) => a.port === announced));
    /** Stops the peer, starts it again on a new port, and returns how long until the receiver reported that port. */
    const restart = async (identity: Identity): Promise<number> => {
      const old = current.get(identity);
      if (old !== undefined) {
        await old.stop();
        running.delete(old);
      }
      const started = Date.now();
      const announced = await startPeer(identity);
      await log.until(() => reportedAt(identity, announced), 10_000, `the restarted peer on port ${announced}`);
      return Date.now() - started;
    };

    const aliceFirst = await startPeer(alice);
    const bobFirst = await startPeer(bob);
    await log.until(() => reportedAt(alice, aliceFirst) && reportedAt(bob, bobFirst), 5000, 'both peers');

    const restarts = async (): Promise<{ alice: number[]; bob: number[] }> => {
      const times = { alice: [] as number[], bob: [] as number[] };
      for (let i = 0; i < RESTARTS; i++) {
        times.alice.push(await restart(alice));
        times.bob.push(await restart(bob));
      }
      return times;
    };

    // Without an attacker.
    const quiet = await restarts();

    forger = new Forger(port, alice.publicKey);
    const f = forger;
    await waitUntil(() => f.line('started') !== undefined || f.child.exitCode !== null, 5000, 'the forger to start');
    expect(f.line('started')).toBeDefined();
    const atStart = receiver.stats;
    const eventsAtStart = log.events.length;
    // Under attack for longer than the TTL: before the change, both peers were lost by then.
    await waitUntil(
      () => receiver.stats.received - atStart.received >= (FORGER_RATE * (TTL_MS + 1000)) / 1000,
      15_000,
      'the receiver to take a TTL and more of forgeries',
    );
    const held = receiver.stats;
    const since = log.events.slice(eventsAtStart);
    expect(since.filter((e) => e.kind === 'lost')).toEqual([]);
    // Both kept being verified: each announces once a second.
    expect(held.accepted - atStart.accepted).toBeGreaterThanOrEqual(4);

    const attacked = await restarts();
    const comebackEnded = Date.now();

    const code = await withTimeout(f.exited, (FORGER_SECONDS + 10) * 1000, 'the forger to stop by itself');
    expect(code).toBe(0);
    const done = f.line('done');
    if (done === undefined) throw new Error(`the forger reported nothing: ${f.stderr}`);
    const end = receiver.stats;
    const forgerRate = (done.sent * 1000) / done.ms;
    // What reached the receiver: every forgery ends as rate limited or as a bad signature.
    const forgeriesReceived = end.rateLimited - atStart.rateLimited + (end.badSignature - atStart.badSignature);
    const receivedRate = (forgeriesReceived * 1000) / done.ms;
    console.log(
      `forger: ${done.sent} packets in ${done.ms} ms (${forgerRate.toFixed(0)}/s sent, ${receivedRate.toFixed(0)}/s received); ` +
        `restart to report (ms), quiet: alice ${quiet.alice.join(', ')}, bob ${quiet.bob.join(', ')}; ` +
        `under attack: alice ${attacked.alice.join(', ')}, bob ${attacked.bob.join(', ')}; ` +
        `checks of forgeries ${end.badSignature - atStart.badSignature}, rate limited ${end.rateLimited - atStart.rateLimited}`,
    );
    expect(done.errors).toBe(0);
    expect(forgerRate).toBeGreaterThanOrEqual(1000);
    expect(receivedRate).toBeGreaterThanOrEqual(1000);
    // The restarts happened while the flood was on.
    expect(done.ended).toBeGreaterThan(comebackEnded);
    expect(Math.max(...attacked.alice, ...attacked.bob)).toBeLessThan(COMEBACK_MS);
    // The forger's one address gets at most half of the key's 10 checks per second (burst 5).
    expect(end.badSignature - atStart.badSignature).toBeLessThanOrEqual(5 + 5 * Math.ceil(done.ms / 1000));
    // Nothing the forger sent was reported, and no address but the peers' own.
    for (const peer of log.peers()) {
      expect(peer.addresses.every((a) => a.host === '127.0.0.1' && a.port !== 7666)).toBe(true);
      expect(peer.from).toBe('127.0.0.1');
    }

    for (const d of running) await d.stop();
    running.clear();
    await waitUntil(() => resourcesAbove(baseline).length === 0, 3000, 'resources to be released');
  }, 60_000);

  it('does not accept, from another address, a genuine announcement it dropped for lack of budget', async () => {
    const port = randomPort();
    const alice = generateIdentity();
    let skew = 0;
    const receiver = loopbackDiscovery(generateIdentity(), port, {
      isWanted: (id) => id.equals(alice.id),
      // One check per second for alice, so one forgery is enough to use it up.
      wantedVerifyPerSecond: 1,
      keyVerifyPerSecond: 1,
      // Budgets refill on the monotonic clock: moving it on is what gives the budget back.
      clock: { ...systemClock, now: () => performance.now() + skew },
    });
    running.add(receiver);
    const log = new EventLog(receiver);
    const home = await RawSocket.bind('127.0.0.1');
    const attacker = await RawSocket.bind(FORGER_ADDRESS);
    try {
      await receiver.start();
      await attacker.send(forgedPacket(alice.publicKey, Date.now() + 1000), port);
      await waitUntil(() => receiver.stats.badSignature === 1, 3000, 'the forgery to use up the budget');

      const genuine = encodeAnnouncement({ identity: alice, port: 7000, now: Date.now() });
      await home.send(genuine, port);
      await waitUntil(() => receiver.stats.rateLimited === 1, 3000, 'the genuine announcement to be dropped');

      // Five seconds later (the receiver's clock) the budget is back; the attacker captured the broadcast.
      skew = 5000;
      await attacker.send(genuine, port);
      await waitUntil(() => receiver.stats.received === 3, 3000, 'the relayed announcement');
      expect(receiver.stats).toMatchObject({ relayed: 1, accepted: 0, verified: 1 });
      expect(log.peers(alice.id)).toEqual([]);

      // The same bytes from where they were first seen: the budget was there, and they are accepted.
      await home.send(genuine, port);
      await log.until(() => log.peers(alice.id).length === 1, 3000, 'alice from her own address');
      const [reported] = log.peers(alice.id);
      expect(reported?.addresses).toEqual([{ host: '127.0.0.1', port: 7000 }]);
      expect(reported?.from).toBe('127.0.0.1');
      expect(receiver.stats).toMatchObject({ relayed: 1, accepted: 1, verified: 2 });
    } finally {
      await home.close();
      await attacker.close();
    }
  }, 30_000);
});
