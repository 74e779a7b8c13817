// One process of the DHT figures, started by the orchestrator (dht.ts) inside
// a network namespace of the bench's own lab, never elsewhere:
//
//   dht-node.js testnet   <json>  a local HyperDHT bootstrap network (4 nodes) on the host's address
//   dht-node.js responder <json>  a PeerNet node with the dht transport (and TCP), answering
//                                 'echo' calls and the sink stream of stream_mb_per_s
//   dht-node.js dialler   <json>  starts a PeerNet node (dht, or TCP only), times it from
//                                 PeerNet.start to the first answered call, then streams bytes
//   dht-node.js raw-server <json> a plain HyperDHT server (no PeerNet), counting the bytes of
//                                 each connection: the raw baseline of dht_raw_stream_mb_per_s
//   dht-node.js raw-client <json> a plain HyperDHT node that connects to it and streams bytes
//
// Every process writes JSON lines on stdout ({ "error": … } and exit 1 when it
// fails); testnet, responder and raw-server read commands as JSON lines on stdin and stop
// when stdin ends (the orchestrator gone). Every HyperDHT node here is given
// an explicit bootstrap list: the default would be the public network.
//
// Each side of a measured stream reports its CPU time (user, system) over the
// stream: the dialler and the raw client from the first write to the count,
// the responder and the raw server ({ sink_cpu }) from the stream's first
// byte to its close. With a profile file in its config or command, a process
// also writes a V8 CPU profile (node:inspector) of that window only.
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import createTestnet from '@hyperswarm/testnet';
import { PeerNet, PeerId } from 'peernet';
import { identityFromSeed } from '@peernet/identity';
import { openFileTrustStore } from '@peernet/trust';
import { dht } from '@peernet/transport-dht';
import { SINK_STREAM, countStream, countToTotal, peerNetStreamMbPerS, rawStreamMbPerS } from './byte-stream.js';

/** What `dialler` reports once its first call is answered (ms, from just before PeerNet.start). */
export interface FirstCall {
  first_call_ms: number;
  /** PeerNet.start (for the DHT: the DHT node bootstrapped and its key announced). */
  start_ms: number;
  /** From start's end to the session (DHT: waitForPeer; TCP: connect). */
  session_ms: number;
  /** The first call's round trip. */
  call_ms: number;
  /** The session's transport as listPeers() names it. */
  transport: string;
}

export interface TestnetConfig {
  host: string;
}

export interface ResponderConfig {
  host: string;
  seed: string;
  dataDir: string;
  bootstrap: string[];
  streamWindow?: number;
}

export interface DiallerConfig {
  mode: 'dht' | 'tcp';
  host: string;
  seed: string;
  dataDir: string;
  /** The responder's id, its TCP address (for `tcp`) and the bootstrap list (for `dht`). */
  peer: string;
  peerHost: string;
  peerPort: number;
  bootstrap: string[];
  /** Bytes through one stream after the first call (0: none). */
  streamBytes: number;
  streamWindow?: number;
  timeoutMs: number;
  /** Where to write a CPU profile of the stream (from the first write to the count). */
  profile?: string;
}

export interface RawServerConfig {
  host: string;
  seed: string;
  bootstrap: string[];
  /** Bytes each connection brings before the server answers with the count. */
  streamBytes: number;
}

export interface RawClientConfig {
  host: string;
  /** The raw server's public key (hex). */
  peer: string;
  bootstrap: string[];
  streamBytes: number;
  timeoutMs: number;
  /** Where to write a CPU profile of the stream (from the first write to the count). */
  profile?: string;
}

const out = (message: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(message)}\n`);
};

interface Command {
  cmd: string;
  id?: string;
  /** With `pair` (responder) or `profile` (raw server): a CPU profile of the next stream goes to this file. */
  profile?: string;
}

/** Runs `handle` for each command line on stdin; resolves when stdin ends. */
async function commands(handle: (command: Command) => Promise<boolean>): Promise<void> {
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === '') continue;
    if (!(await handle(JSON.parse(line) as Command))) return;
  }
}

/** Starts V8's CPU profiler in this process; the returned function stops it and writes the profile to `file`. */
async function startProfile(file: string): Promise<() => Promise<void>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  // As --cpu-prof samples (1 ms): the profile's own cost stays small.
  await session.post('Profiler.setSamplingInterval', { interval: 1000 });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    writeFileSync(file, JSON.stringify(profile));
  };
}

/** Runs `fn` under the CPU profiler when `file` is given. */
async function profiled<T>(file: string | undefined, fn: () => Promise<T>): Promise<T> {
  if (file === undefined) return fn();
  const stop = await startProfile(file);
  try {
    return await fn();
  } finally {
    await stop();
  }
}

/** CPU time (user and system, process-wide) and wall time of one side of a measured stream. */
export interface StreamCpu {
  user_s: number;
  system_s: number;
  seconds: number;
}

/** Runs `fn` with its CPU and wall time measured, under the CPU profiler when `file` is given. */
async function measured<T>(file: string | undefined, fn: () => Promise<T>): Promise<{ value: T; cpu: StreamCpu }> {
  const value = await profiled(file, async () => {
    const t0 = performance.now();
    const before = process.cpuUsage();
    const result = await fn();
    const used = process.cpuUsage(before);
    return { result, cpu: { user_s: used.user / 1e6, system_s: used.system / 1e6, seconds: (performance.now() - t0) / 1000 } };
  });
  return { value: value.result, cpu: value.cpu };
}

/**
 * The receiving side's measure of each sink stream: CPU and wall time from
 * its first byte to its close, written as `{ sink_cpu }` once the stream is
 * closed; and, when `arm(file)` named a file for the next stream, a CPU
 * profile of that window (on disk before `{ sink_cpu }` is written).
 */
function sinkMeter(): { arm(file: string | undefined): void; wrap(stream: Duplex, sink: Promise<void>): Promise<void> } {
  let armed: string | undefined;
  return {
    arm(file) {
      armed = file;
    },
    wrap(stream, sink) {
      const file = armed;
      armed = undefined;
      // From the first byte (the sink's own 'data' listener, added first, has counted it).
      const started = new Promise<{ t0: number; before: NodeJS.CpuUsage; stop: (() => Promise<void>) | undefined }>((resolve) => {
        stream.once('data', () => {
          const t0 = performance.now();
          const before = process.cpuUsage();
          if (file === undefined) resolve({ t0, before, stop: undefined });
          else void startProfile(file).then((stop) => resolve({ t0, before, stop }));
        });
      });
      return (async () => {
        await sink;
        const first = await Promise.race([started, Promise.resolve(undefined)]);
        if (first === undefined) return;
        const used = process.cpuUsage(first.before);
        const seconds = (performance.now() - first.t0) / 1000;
        await first.stop?.();
        out({ sink_cpu: { user_s: used.user / 1e6, system_s: used.system / 1e6, seconds } satisfies StreamCpu });
      })();
    },
  };
}

type HyperDhtSocket = Duplex & { readonly remotePublicKey: Buffer };
interface HyperDhtKeyPair {
  publicKey: Buffer;
  secretKey: Buffer;
}
interface HyperDhtNode {
  createServer(options: { firewall(remotePublicKey: Buffer): boolean }, onConnection: (socket: HyperDhtSocket) => void): {
    listen(keyPair: HyperDhtKeyPair): Promise<void>;
    close(): Promise<void>;
  };
  connect(publicKey: Buffer): HyperDhtSocket;
  destroy(): Promise<void>;
}
interface HyperDhtClass {
  new (options: { bootstrap: string[]; host: string }): HyperDhtNode;
  keyPair(seed?: Buffer): HyperDhtKeyPair;
}

/**
 * hyperdht itself, the very copy @peernet/transport-dht runs (resolved from
 * that package, not a second install), so the raw baseline and PeerNet's dht
 * transport carry bytes with the same code.
 */
function loadHyperDht(): HyperDhtClass {
  const fromTransport = createRequire(import.meta.resolve('@peernet/transport-dht'));
  const loaded = fromTransport('hyperdht') as HyperDhtClass | { default: HyperDhtClass };
  return 'default' in loaded ? loaded.default : loaded;
}

/**
 * Nodes of the bootstrap network. Four, not three: a new node classifies its
 * NAT from three nodes of its routing table, which never holds the first
 * (bootstrap) node. With three, two fresh nodes that both still count as
 * firewalled cannot holepunch: in trial runs every such dial timed out
 * (ETIMEDOUT after 13 s) and the first call came after PeerNet's retries, ~35 s.
 */
export const BOOTSTRAP_NODES = 4;

async function testnet(config: TestnetConfig): Promise<void> {
  // createTestnet binds every interface of the host's namespace (only the lab's and loopback are there).
  const net = await createTestnet(BOOTSTRAP_NODES, { host: config.host });
  out({ ready: true, bootstrap: net.bootstrap.map((b) => `${b.host}:${b.port}`) });
  await commands(async ({ cmd }) => cmd !== 'stop');
  await net.destroy();
  out({ done: 'stop' });
}

async function responder(config: ResponderConfig): Promise<void> {
  const node = await PeerNet.start({
    dataDir: config.dataDir,
    host: config.host,
    discovery: [],
    networkMonitor: false,
    identity: identityFromSeed(Buffer.from(config.seed, 'hex')),
    transports: [dht({ bootstrap: config.bootstrap, host: config.host })],
    streamWindowBytes: config.streamWindow,
  });
  node.expose('echo', (args) => args);
  const meter = sinkMeter();
  node.exposeStream(SINK_STREAM, (stream) => meter.wrap(stream, countStream(stream)));
  out({ ready: true, id: node.id.toString(), port: node.port });
  await commands(async ({ cmd, id, profile }) => {
    if (cmd === 'pair') {
      meter.arm(profile);
      await node.pair(id as string);
    } else if (cmd === 'unpair') await node.unpair(id as string);
    else if (cmd !== 'stop') throw new Error(`unknown command ${cmd}`);
    if (cmd === 'stop') return false;
    out({ done: cmd });
    return true;
  });
  await node.stop();
  out({ done: 'stop' });
}

async function dialler(config: DiallerConfig): Promise<void> {
  const peer = PeerId.parse(config.peer);
  // Paired beforehand: the trust file names the responder before the clock starts.
  const trust = await openFileTrustStore({ path: join(config.dataDir, 'trust.json') });
  await trust.add(peer);
  await trust.close();
  const identity = identityFromSeed(Buffer.from(config.seed, 'hex'));

  const t0 = performance.now();
  const node = await PeerNet.start({
    dataDir: config.dataDir,
    host: config.host,
    discovery: [],
    networkMonitor: false,
    identity,
    transports: config.mode === 'dht' ? [dht({ bootstrap: config.bootstrap, host: config.host })] : [],
    streamWindowBytes: config.streamWindow,
  });
  const started = performance.now();
  if (config.mode === 'dht') await node.waitForPeer(peer, { timeoutMs: config.timeoutMs });
  else await node.connect(peer, { host: config.peerHost, port: config.peerPort });
  const connected = performance.now();
  const echoed = await node.call(peer, 'echo', 'first');
  const answered = performance.now();
  if (echoed !== 'first') throw new Error(`the echo answered ${JSON.stringify(echoed)}`);
  const transport = node.listPeers().find((p) => p.id.equals(peer))?.transport ?? 'none';
  // The figure is only what it says if the session runs where it should (no LAN discovery, no TCP address for the DHT run).
  if (transport !== config.mode) throw new Error(`the ${config.mode} run's session is on ${transport}`);
  const first: FirstCall = {
    first_call_ms: answered - t0,
    start_ms: started - t0,
    session_ms: connected - started,
    call_ms: answered - connected,
    transport,
  };
  out({ first });
  if (config.streamBytes > 0) {
    const { value: mbPerS, cpu } = await measured(config.profile, () => peerNetStreamMbPerS(node, peer.toString(), config.streamBytes));
    const after = node.listPeers().find((p) => p.id.equals(peer))?.transport ?? 'none';
    if (after !== config.mode) throw new Error(`the ${config.mode} run's session moved to ${after} during the stream`);
    out({ stream_mb_per_s: mbPerS, cpu });
  }
  await node.stop();
  out({ done: 'stop' });
}

async function rawServer(config: RawServerConfig): Promise<void> {
  const HyperDHT = loadHyperDht();
  const node = new HyperDHT({ bootstrap: config.bootstrap, host: config.host });
  const keyPair = HyperDHT.keyPair(Buffer.from(config.seed, 'hex'));
  const meter = sinkMeter();
  const server = node.createServer({ firewall: () => false }, (socket) => {
    void meter.wrap(socket, countToTotal(socket, config.streamBytes));
  });
  await server.listen(keyPair);
  out({ ready: true, publicKey: keyPair.publicKey.toString('hex') });
  await commands(async ({ cmd, profile }) => {
    if (cmd === 'profile') meter.arm(profile);
    else if (cmd !== 'stop') throw new Error(`unknown command ${cmd}`);
    if (cmd === 'stop') return false;
    out({ done: cmd });
    return true;
  });
  await server.close();
  await node.destroy();
  out({ done: 'stop' });
}

async function rawClient(config: RawClientConfig): Promise<void> {
  const HyperDHT = loadHyperDht();
  const node = new HyperDHT({ bootstrap: config.bootstrap, host: config.host });
  const t0 = performance.now();
  const socket = node.connect(Buffer.from(config.peer, 'hex'));
  const timer = setTimeout(() => socket.destroy(new Error(`no connection within ${config.timeoutMs} ms`)), config.timeoutMs);
  try {
    await once(socket, 'open');
  } finally {
    clearTimeout(timer);
  }
  out({ connected_ms: performance.now() - t0 });
  const { value: mbPerS, cpu } = await measured(config.profile, () => rawStreamMbPerS(socket, config.streamBytes));
  out({ raw_stream_mb_per_s: mbPerS, cpu });
  socket.end();
  const closed = once(socket, 'close').catch(() => undefined);
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5000))]);
  socket.destroy();
  await node.destroy();
  out({ done: 'stop' });
}

const [role, configText] = process.argv.slice(2) as [string, string];
try {
  const config: unknown = JSON.parse(configText);
  if (role === 'testnet') await testnet(config as TestnetConfig);
  else if (role === 'responder') await responder(config as ResponderConfig);
  else if (role === 'dialler') await dialler(config as DiallerConfig);
  else if (role === 'raw-server') await rawServer(config as RawServerConfig);
  else if (role === 'raw-client') await rawClient(config as RawClientConfig);
  else throw new Error(`unknown role ${role}`);
  process.exit(0);
} catch (error) {
  out({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
}
