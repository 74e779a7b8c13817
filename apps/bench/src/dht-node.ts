// One process of the DHT figures, started by the orchestrator (dht.ts) inside
// a network namespace of the bench's own lab, never elsewhere:
//
//   dht-node.js testnet   <json>  a local HyperDHT bootstrap network (4 nodes) on the host's address
//   dht-node.js responder <json>  a PeerNet node with the dht transport (and TCP), answering
//                                 'echo' calls and the sink stream of stream_mb_per_s
//   dht-node.js dialler   <json>  starts a PeerNet node (dht, or TCP only), times it from
//                                 PeerNet.start to the first answered call, then streams bytes
//
// Every process writes JSON lines on stdout ({ "error": … } and exit 1 when it
// fails); testnet and responder read commands as JSON lines on stdin and stop
// when stdin ends (the orchestrator gone). Every HyperDHT node here is given
// an explicit bootstrap list: the default would be the public network.
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import createTestnet from '@hyperswarm/testnet';
import { PeerNet, PeerId } from 'peernet';
import { identityFromSeed } from '@peernet/identity';
import { openFileTrustStore } from '@peernet/trust';
import { dht } from '@peernet/transport-dht';
import { SINK_STREAM, countStream, peerNetStreamMbPerS } from './byte-stream.js';

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
}

const out = (message: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(message)}\n`);
};

/** Runs `handle` for each command line on stdin; resolves when stdin ends. */
async function commands(handle: (command: { cmd: string; id?: string }) => Promise<boolean>): Promise<void> {
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === '') continue;
    if (!(await handle(JSON.parse(line) as { cmd: string; id?: string }))) return;
  }
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
  node.exposeStream(SINK_STREAM, (stream) => countStream(stream));
  out({ ready: true, id: node.id.toString(), port: node.port });
  await commands(async ({ cmd, id }) => {
    if (cmd === 'pair') await node.pair(id as string);
    else if (cmd === 'unpair') await node.unpair(id as string);
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
    const mbPerS = await peerNetStreamMbPerS(node, peer.toString(), config.streamBytes);
    const after = node.listPeers().find((p) => p.id.equals(peer))?.transport ?? 'none';
    if (after !== config.mode) throw new Error(`the ${config.mode} run's session moved to ${after} during the stream`);
    out({ stream_mb_per_s: mbPerS });
  }
  await node.stop();
  out({ done: 'stop' });
}

const [role, configText] = process.argv.slice(2) as [string, string];
try {
  const config: unknown = JSON.parse(configText);
  if (role === 'testnet') await testnet(config as TestnetConfig);
  else if (role === 'responder') await responder(config as ResponderConfig);
  else if (role === 'dialler') await dialler(config as DiallerConfig);
  else throw new Error(`unknown role ${role}`);
  process.exit(0);
} catch (error) {
  out({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
}
