// One side of a measurement, in its own process: `worker.js server <kind> <material>`
// or `worker.js client <kind> <material>`. The orchestrator (main.ts) drives it
// over the IPC channel: { id, cmd, args } in, { id, ok, result | error } out.
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect as netConnect, createServer as createNetServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { PeerNet, PeerId } from 'peernet';
import { Connection, type LocalIdentity } from '@peernet/connection';
import { identityFromSeed } from '@peernet/identity';
import { watchLiveness } from '@peernet/liveness';
import { defaultCrypto, type CryptoProvider } from '@peernet/noise';
import { tcp } from '@peernet/transport-tcp';
import { MemoryTrustStore } from '@peernet/trust';
import { isPeerNet, providerOf, readMaterial, type Kind, type Material } from './material.js';
import { CHUNK_BYTES, CONFIRM, END_MARK, MODE_BYTES, MODE_ECHO, MODE_SINK, serveStream } from './stream-server.js';
import { runPrimitives } from './primitives.js';
import { SINK_STREAM, countReply, countStream, immediate, pump } from './byte-stream.js';

type Args = Record<string, number>;
type Command = (args: Args) => Promise<unknown>;

const [role, kindArg, materialPath, trustedArg, windowArg] = process.argv.slice(2) as [string, Kind, string, string | undefined, string | undefined];
const trusted = Number(trustedArg ?? Infinity);
const kind: Kind = kindArg;
const HOST = '127.0.0.1';
// PeerNet's per-stream receive window when the run sets one (--stream-window); its default otherwise.
const streamWindowBytes = windowArg ? Number(windowArg) : undefined;
// Both sides of a peernet-sodium pair run the native provider; a missing package fails the worker at once.
const provider: CryptoProvider | undefined = kind === undefined ? undefined : await providerOf(kind);

function rss(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage().rss;
}

const idOf = (hex: string): PeerId => PeerId.fromBytes(Buffer.from(hex, 'hex'));

// ---- server ------------------------------------------------------------------

async function server(material: Material): Promise<Record<string, Command>> {
  let sessions = 0;
  let stop: () => Promise<void>;
  let port: number;
  if (isPeerNet(kind)) {
    const trust = new MemoryTrustStore();
    // Only as many as this run dials.
    for (const client of material.clients.slice(0, trusted)) await trust.add(idOf(client.id));
    const dataDir = join(material.dir, `server-${process.pid}`);
    mkdirSync(dataDir, { recursive: true });
    const node = await PeerNet.start({
      dataDir,
      host: HOST,
      discovery: [],
      identity: identityFromSeed(Buffer.from(material.server.seed, 'hex')),
      trust,
      crypto: provider,
      streamWindowBytes,
    });
    node.on('peer:online', () => sessions++);
    node.on('peer:offline', () => sessions--);
    let received = 0;
    node.expose('echo', (args) => args);
    node.expose('sink', () => {
      received++;
    });
    node.expose('count', () => {
      const n = received;
      received = 0;
      return n;
    });
    node.exposeStream(SINK_STREAM, (stream) => countStream(stream));
    port = node.port;
    stop = () => node.stop();
  } else {
    const onSocket = (socket: Socket): void => {
      sessions++;
      socket.once('close', () => sessions--);
      serveStream(socket);
    };
    let srv: Server;
    if (kind === 'tls') {
      const { server: own, client } = material.tls;
      srv = createTlsServer(
        { key: own.key, cert: own.cert, ca: [client.cert], requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' },
        onSocket,
      );
      srv.on('tlsClientError', () => undefined);
    } else {
      srv = createNetServer(onSocket);
    }
    srv.listen({ host: HOST, port: 0, backlog: 4096 });
    await once(srv, 'listening');
    port = (srv.address() as { port: number }).port;
    stop = async () => {
      srv.close();
      for (const s of sockets(srv)) s.destroy();
    };
    const tracked = new Set<Socket>();
    srv.on(kind === 'tls' ? 'secureConnection' : 'connection', (s: Socket) => {
      tracked.add(s);
      s.once('close', () => tracked.delete(s));
    });
    serverSockets.set(srv, tracked);
  }
  return {
    info: async () => ({ port, pid: process.pid }),
    sessions: async () => sessions,
    rss: async () => rss(),
    stop: async () => stop(),
  };
}

const serverSockets = new Map<Server, Set<Socket>>();
function sockets(srv: Server): Socket[] {
  return [...(serverSockets.get(srv) ?? [])];
}

// ---- client: raw TCP and TLS ---------------------------------------------------

/** Connects and waits for the server's confirmation byte (for TLS: both certificates accepted). */
function dialStream(material: Material, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let socket: Socket;
    if (kind === 'tls') {
      const { server, client } = material.tls;
      socket = tlsConnect({
        host: HOST,
        port,
        key: client.key,
        cert: client.cert,
        ca: [server.cert],
        minVersion: 'TLSv1.3',
        // Pinned: the server must present exactly the certificate we were given.
        checkServerIdentity: (_host, cert) =>
          cert.fingerprint256.replaceAll(':', '').toLowerCase() === server.fingerprint256
            ? undefined
            : new Error('server certificate is not the pinned one'),
      }) as TLSSocket;
    } else {
      socket = netConnect({ host: HOST, port });
    }
    socket.setNoDelay(true);
    const onError = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    socket.once('error', onError);
    socket.once('data', (chunk: Buffer) => {
      socket.off('error', onError);
      socket.on('error', () => socket.destroy());
      if (chunk.length !== 1 || chunk[0] !== CONFIRM[0]) reject(new Error('unexpected bytes from the server'));
      else resolve(socket);
    });
  });
}

async function closeStream(socket: Socket): Promise<void> {
  const closed = once(socket, 'close');
  socket.end();
  await closed;
}

function echoer(socket: Socket): (payload: Buffer) => Promise<void> {
  let expected = 0;
  let got = 0;
  let done: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    got += chunk.length;
    if (got >= expected && done) {
      const d = done;
      done = undefined;
      got -= expected;
      d();
    }
  });
  return (payload) =>
    new Promise<void>((resolve) => {
      expected = payload.length;
      done = resolve;
      socket.write(payload);
    });
}

// ---- byte streams (PeerNet streams and the baselines' sockets alike; helpers in byte-stream.ts) ----

/** Header of the baselines' byte mode: 'B' and the total (f64 BE) the server answers at. */
function bytesHeader(total: number): Buffer {
  const header = Buffer.alloc(9);
  header[0] = MODE_BYTES;
  header.writeDoubleBE(total, 1);
  return header;
}

/** `total` sequential round trips of `roundTrip`; the times after the first `warmup`, in ms. */
async function roundTrips(total: number, warmup: number, roundTrip: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < total; i++) {
    const t = performance.now();
    await roundTrip();
    if (i >= warmup) samples.push(performance.now() - t);
  }
  return samples;
}

async function until(condition: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

// ---- client: PeerNet -------------------------------------------------------------

interface PeerNetClient {
  nodes: PeerNet[];
  serverId: PeerId;
}

async function peernetClient(material: Material, dialers: number): Promise<PeerNetClient> {
  const serverId = idOf(material.server.id);
  const nodes: PeerNet[] = [];
  for (let i = 0; i < dialers; i++) {
    const client = material.clients[i] as { seed: string };
    const trust = new MemoryTrustStore();
    const dataDir = join(material.dir, `client-${process.pid}-${i}`);
    mkdirSync(dataDir, { recursive: true });
    nodes.push(
      await PeerNet.start({
        dataDir,
        host: HOST,
        discovery: [],
        identity: identityFromSeed(Buffer.from(client.seed, 'hex')),
        trust,
        crypto: provider,
        streamWindowBytes,
      }),
    );
  }
  return { nodes, serverId };
}

/** A session-level identity with its Noise key pair derived (and prepared for DH) once. */
function localIdentity(seed: string): LocalIdentity {
  const identity = identityFromSeed(Buffer.from(seed, 'hex'));
  const keys = identity.noiseKeyPair();
  (provider ?? defaultCrypto).x25519(keys.privateKey, keys.publicKey);
  return { id: identity.id, noiseKeyPair: () => keys };
}

// ---- client commands ---------------------------------------------------------------

const DIALERS = 8;
// The idle and scale connections use identities after the dialers'.
const IDLE_FIRST = DIALERS;

async function client(material: Material): Promise<Record<string, Command>> {
  const pn = isPeerNet(kind) ? await peernetClient(material, DIALERS) : undefined;
  let port = 0;
  let connectedNode: PeerNet | undefined;
  const idle: { close(): void }[] = [];
  let idleIdentities: LocalIdentity[] = [];
  let probe: ((payload: Buffer) => Promise<void>) | undefined;
  let probeSession: Connection | undefined;

  const session = async (): Promise<PeerNet> => {
    const p = pn as PeerNetClient;
    const node = p.nodes[0] as PeerNet;
    if (!node.isConnected(p.serverId)) {
      await node.pair(p.serverId);
      await node.connect(p.serverId, { host: HOST, port });
    }
    connectedNode = node;
    return node;
  };

  /** Opens idle connection number `i` (identity IDLE_FIRST + i for PeerNet). */
  const openIdle = async (i: number): Promise<void> => {
    if (isPeerNet(kind)) {
      const p = pn as PeerNetClient;
      const stream = await tcp().dial({ host: HOST, port });
      const connection = new Connection({
        stream,
        identity: idleIdentities[i] as LocalIdentity,
        trust: { has: (id) => id.equals(p.serverId) },
        initiator: true,
        expectedPeer: p.serverId,
        handlers: new Map(),
        crypto: provider,
      });
      await connection.ready;
      watchLiveness(connection);
      idle[i] = { close: () => void connection.close() };
      if (i === 0) probeSession = connection;
    } else {
      const socket = await dialStream(material, port);
      idle[i] = { close: () => socket.destroy() };
      if (i === 0) {
        socket.write(Buffer.of(MODE_ECHO));
        probe = echoer(socket);
      }
    }
  };

  return {
    setPort: async ({ port: p }) => {
      port = p as number;
    },

    /** Connect + authenticate + close, `dialers` loops at once, for `ms`. */
    handshakes: async ({ dialers, ms }) => {
      const deadline = performance.now() + (ms as number);
      let count = 0;
      const started = performance.now();
      const loop = async (d: number): Promise<void> => {
        if (isPeerNet(kind)) {
          const p = pn as PeerNetClient;
          const node = p.nodes[d] as PeerNet;
          while (performance.now() < deadline) {
            // The public API keeps one session per peer; unpairing closes it (the store is in memory).
            await node.pair(p.serverId);
            await node.connect(p.serverId, { host: HOST, port });
            count++;
            await node.unpair(p.serverId);
          }
        } else {
          while (performance.now() < deadline) {
            const socket = await dialStream(material, port);
            count++;
            await closeStream(socket);
          }
        }
      };
      await Promise.all(Array.from({ length: dialers as number }, (_, d) => loop(d)));
      return (count * 1000) / (performance.now() - started);
    },

    /** Sequential round trips of `size` bytes; returns [p50, p99] in µs. */
    rtt: async ({ size, n, warmup }) => {
      const total = (n as number) + (warmup as number);
      if (isPeerNet(kind)) {
        const node = await session();
        const id = (pn as PeerNetClient).serverId;
        const payload = new Uint8Array(size as number);
        return percentiles(await roundTrips(total, warmup as number, () => node.call(id, 'echo', payload)));
      }
      const socket = await dialStream(material, port);
      socket.write(Buffer.of(MODE_ECHO));
      const roundTrip = echoer(socket);
      const payload = Buffer.alloc(size as number, 1);
      const samples = await roundTrips(total, warmup as number, () => roundTrip(payload));
      await closeStream(socket);
      return percentiles(samples);
    },

    /**
     * The round trips of `rtt` while a byte stream is saturated: for PeerNet a
     * stream on the same session (writing as fast as its credit allows, the
     * server reading); for the baselines, which cannot multiplex, a second
     * connection saturated alongside. Returns [p50, p99] in µs.
     */
    rttUnderLoad: async ({ size, n, warmup }) => {
      const total = (n as number) + (warmup as number);
      let stopped = false;
      let written = 0;
      const progress = (bytes: number): void => {
        written = bytes;
      };
      // Measure only once the stream is saturated: several chunks in, its credit and the socket buffers full.
      const saturated = (): Promise<void> => until(() => written >= 8 * CHUNK_BYTES, 'the load stream to fill');
      let samples: number[];
      if (isPeerNet(kind)) {
        const node = await session();
        const id = (pn as PeerNetClient).serverId;
        const stream = await node.openStream(id, SINK_STREAM);
        const reply = countReply(stream);
        const load = pump(stream, Number.MAX_SAFE_INTEGER, { stopped: () => stopped, progress, yieldEachChunk: true });
        try {
          await saturated();
          const payload = new Uint8Array(size as number);
          samples = await roundTrips(total, warmup as number, () => node.call(id, 'echo', payload));
        } finally {
          stopped = true;
        }
        const sent = await load;
        stream.end();
        const counted = await reply;
        if (counted !== sent) throw new Error(`the server counted ${counted} of ${sent} stream bytes`);
      } else {
        const loadSocket = await dialStream(material, port);
        loadSocket.write(bytesHeader(Number.MAX_SAFE_INTEGER));
        const load = pump(loadSocket, Number.MAX_SAFE_INTEGER, { stopped: () => stopped, progress, yieldEachChunk: true });
        try {
          await saturated();
          const socket = await dialStream(material, port);
          socket.write(Buffer.of(MODE_ECHO));
          const roundTrip = echoer(socket);
          const payload = Buffer.alloc(size as number, 1);
          samples = await roundTrips(total, warmup as number, () => roundTrip(payload));
          await closeStream(socket);
        } finally {
          stopped = true;
        }
        await load;
        loadSocket.destroy();
      }
      return percentiles(samples);
    },

    /**
     * `bytes` through one PeerNet stream, or one baseline socket, in
     * CHUNK_BYTES writes that honour backpressure; MB/s from the first write
     * to the server's answer that it has read them all.
     */
    streamBytes: async ({ bytes }) => {
      const total = bytes as number;
      let out: Duplex;
      let close: () => Promise<void>;
      if (isPeerNet(kind)) {
        const node = await session();
        const stream = await node.openStream((pn as PeerNetClient).serverId, SINK_STREAM);
        out = stream;
        close = async () => {
          if (!stream.destroyed) await once(stream, 'close');
        };
      } else {
        const socket = await dialStream(material, port);
        socket.write(bytesHeader(total));
        out = socket;
        close = () => closeStream(socket);
      }
      const reply = countReply(out);
      const started = performance.now();
      await pump(out, total);
      // PeerNet's server answers when the stream's end arrives; the baselines' when the count is reached.
      if (isPeerNet(kind)) out.end();
      const counted = await reply;
      const seconds = (performance.now() - started) / 1000;
      await close();
      if (counted !== total) throw new Error(`the server counted ${counted} of ${total} bytes`);
      return total / seconds / 1e6;
    },

    /** One-way messages of `size` bytes for `ms`, then one round trip that confirms the count. */
    stream: async ({ size, ms }) => {
      const recordSize = size as number;
      const batch = Math.max(4, Math.floor(65_536 / recordSize));
      let sent = 0;
      let counted: number;
      const started = performance.now();
      const deadline = started + (ms as number);
      if (isPeerNet(kind)) {
        const node = await session();
        const id = (pn as PeerNetClient).serverId;
        const payload = new Uint8Array(recordSize);
        while (performance.now() < deadline) {
          let last: Promise<void> | undefined;
          for (let i = 0; i < batch; i++) last = node.send(id, 'sink', payload);
          sent += batch;
          await last;
        }
        counted = (await node.call(id, 'count')) as number;
      } else {
        const socket = await dialStream(material, port);
        const header = Buffer.alloc(5);
        header[0] = MODE_SINK;
        header.writeUInt32BE(recordSize, 1);
        socket.write(header);
        const payload = Buffer.alloc(recordSize, 0);
        const reply = new Promise<number>((resolve) => {
          let buffered: Buffer = Buffer.alloc(0);
          socket.on('data', (chunk: Buffer) => {
            buffered = Buffer.concat([buffered, chunk]);
            if (buffered.length >= 8) resolve(buffered.readDoubleBE(0));
          });
        });
        while (performance.now() < deadline) {
          let ok = true;
          for (let i = 0; i < batch; i++) ok = socket.write(payload);
          sent += batch;
          if (!ok) await once(socket, 'drain');
          else await immediate();
        }
        const end = Buffer.alloc(recordSize, 0);
        end[0] = END_MARK;
        socket.write(end);
        counted = await reply;
        await closeStream(socket);
      }
      const seconds = (performance.now() - started) / 1000;
      if (counted !== sent) throw new Error(`the server counted ${counted} of ${sent} messages`);
      return { msgsPerS: sent / seconds, mbPerS: (sent * recordSize) / seconds / 1e6 };
    },

    /** Prepares identities for idle connections up to `n` (outside the measured memory). */
    prepareIdle: async ({ n }) => {
      if (isPeerNet(kind)) {
        idleIdentities = material.clients
          .slice(IDLE_FIRST, IDLE_FIRST + (n as number))
          .map((c) => localIdentity(c.seed));
        if (idleIdentities.length < (n as number)) throw new Error('not enough client identities');
      }
      // Let the session the other figures used go away, so only idle connections remain.
      if (connectedNode) {
        const node = connectedNode;
        connectedNode = undefined;
        await node.unpair((pn as PeerNetClient).serverId);
      }
      return null;
    },

    /** Opens idle connections number `from` to `to - 1`, `concurrency` at a time; returns the ms taken. */
    openIdle: async ({ from, to, concurrency }) => {
      const started = performance.now();
      let next = from as number;
      const worker = async (): Promise<void> => {
        while (next < (to as number)) await openIdle(next++);
      };
      await Promise.all(Array.from({ length: concurrency as number }, worker));
      return performance.now() - started;
    },

    /** Round trips on idle connection 0 while the others stay open; [p50, p99] in µs. */
    probe: async ({ n }) => {
      const samples: number[] = [];
      const payload = Buffer.alloc(64, 1);
      for (let i = 0; i < (n as number) + 50; i++) {
        const t = performance.now();
        if (probeSession) await probeSession.call('echo', payload);
        else if (probe) await probe(payload);
        else throw new Error('no idle connection open');
        if (i >= 50) samples.push(performance.now() - t);
      }
      return percentiles(samples);
    },

    closeIdle: async () => {
      for (const c of idle.splice(0)) c?.close();
      probe = undefined;
      probeSession = undefined;
      return null;
    },

    rss: async () => rss(),

    primitives: async ({ ms, rounds }) => runPrimitives({ roundMs: ms as number, rounds: rounds as number }),

    stop: async () => {
      for (const c of idle.splice(0)) c?.close();
      await Promise.all((pn?.nodes ?? []).map((node) => node.stop()));
    },
  };
}

function percentiles(samples: number[]): [number, number] {
  samples.sort((a, b) => a - b);
  const at = (q: number): number => (samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] as number) * 1000;
  return [at(0.5), at(0.99)];
}

// ---- IPC loop --------------------------------------------------------------------

interface Request {
  id: number;
  cmd: string;
  args: Args;
}

const material = kind === undefined || materialPath === undefined ? undefined : readMaterial(materialPath);
const commands =
  role === 'server'
    ? await server(material as Material)
    : role === 'client'
      ? await client(material as Material)
      : ({
          // The native provider joins the table where its package loads.
          primitives: async ({ ms, rounds }) => {
            const sodium = await providerOf('peernet-sodium').catch(() => undefined);
            return runPrimitives({ roundMs: ms as number, rounds: rounds as number, extra: sodium ? [sodium] : [] });
          },
          stop: async () => undefined,
        } as Record<string, Command>);

process.on('message', (message: Request) => {
  const command = commands[message.cmd];
  const run = command ? command(message.args) : Promise.reject(new Error(`unknown command ${message.cmd}`));
  run.then(
    (result) => process.send?.({ id: message.id, ok: true, result }),
    (error: unknown) =>
      process.send?.({ id: message.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
  if (message.cmd === 'stop') {
    void run.finally(() => {
      process.disconnect?.();
      setTimeout(() => process.exit(0), 200).unref();
    });
  }
});
process.send?.({ id: 0, ok: true, result: 'ready' });
