// One node of the soak run, in its own process. It runs a random workload
// against its paired peers on command and keeps the books the controller
// checks at the end: how every call ended, and for every send stream (one
// per peer and session) which sequence numbers arrived, in what order.
import { PeerNet, WIRE_ERROR_CODES, type PeerId, type Value } from 'peernet';
import type { SoakCommand, SoakNodeReport, StreamState } from './soak-protocol.js';

interface Config {
  dataDir: string;
  port: number;
  instance: string;
  callTimeoutMs: number;
}

const config = JSON.parse(process.argv[2] as string) as Config;
// The codes a typed failure may carry; anything else counts as untyped.
const KNOWN_CODES = new Set<string>(WIRE_ERROR_CODES);

const node = await PeerNet.start({
  dataDir: config.dataDir,
  host: '127.0.0.1',
  port: config.port,
  discovery: [],
  networkMonitor: false,
  callTimeoutMs: config.callTimeoutMs,
  reconnect: { initialMs: 100, maxMs: 1_000 },
  liveness: { intervalMs: 2_000, timeoutMs: 6_000 },
});

// ---- books ------------------------------------------------------------------

const calls = { started: 0, resolved: 0, rejected: {} as Record<string, number>, untyped: 0, outstanding: new Map<number, number>() };
let nextCall = 0;
const sends = { attempted: 0, resolved: 0, notConnected: 0, otherFailures: {} as Record<string, number> };
// Our send streams: per peer, the session epoch (bumped on every online/offline) and the next sequence number.
const epochs = new Map<string, number>();
const nextSeq = new Map<string, number>();
// Sends confirmed by a later call on the same session: `${receiverInstance}|${instance}:${epoch}` -> highest seq.
const confirmed: Record<string, number> = {};
// Streams we received: `${senderInstance}:${epoch}` -> state.
const received: Record<string, StreamState> = {};

function bump(peer: PeerId): void {
  const key = peer.toString();
  epochs.set(key, (epochs.get(key) ?? 0) + 1);
  nextSeq.set(key, 0);
}
node.on('peer:online', bump);
node.on('peer:offline', bump);

node.expose('seq', (args) => {
  const { from, epoch, seq } = args as { from: string; epoch: number; seq: number };
  const key = `${from}:${epoch}`;
  const state = received[key];
  if (state === undefined) received[key] = { first: seq, last: seq, count: 1, bad: seq === 0 ? 0 : 1 };
  else {
    if (seq !== state.last + 1) state.bad++;
    state.last = Math.max(state.last, seq);
    state.count++;
  }
});
node.expose('work', async (args) => {
  const ms = (args as { ms: number }).ms;
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
  return { instance: config.instance, echo: args };
});
node.expose('sleep', (args, { signal }) => new Promise((resolve) => {
  const timer = setTimeout(() => resolve(null), args as number);
  signal.addEventListener('abort', () => {
    clearTimeout(timer);
    resolve(null);
  });
}));

// ---- workload ---------------------------------------------------------------

let peers: string[] = [];
let running = false;
let loop: NodeJS.Timeout | undefined;

function track(promise: Promise<Value>): Promise<Value | undefined> {
  const id = nextCall++;
  calls.started++;
  calls.outstanding.set(id, Date.now());
  return promise.then(
    (value) => {
      calls.outstanding.delete(id);
      calls.resolved++;
      return value;
    },
    (error: { code?: unknown }) => {
      calls.outstanding.delete(id);
      const code = typeof error?.code === 'string' && KNOWN_CODES.has(error.code) ? error.code : undefined;
      if (code === undefined) calls.untyped++;
      else calls.rejected[code] = (calls.rejected[code] ?? 0) + 1;
      return undefined;
    },
  );
}

/** Sends the next sequence number of our stream to `peer`. */
function sendSeq(peer: string): Promise<void> {
  sends.attempted++;
  const epoch = epochs.get(peer) ?? 0;
  const seq = nextSeq.get(peer) ?? 0;
  if (node.isConnected(peer)) nextSeq.set(peer, seq + 1);
  return node.send(peer, 'seq', { from: config.instance, epoch, seq }).then(
    () => void sends.resolved++,
    (error: { code?: string }) => {
      if (error?.code === 'not_connected') sends.notConnected++;
      else sends.otherFailures[String(error?.code)] = (sends.otherFailures[String(error?.code)] ?? 0) + 1;
    },
  );
}

/** A call that, when it succeeds, confirms every send made before it on the same session. */
async function confirmingCall(peer: string, ms: number): Promise<void> {
  const epoch = epochs.get(peer) ?? 0;
  const lastSent = (nextSeq.get(peer) ?? 0) - 1;
  const result = (await track(node.call(peer, 'work', { ms }))) as { instance: string } | undefined;
  // Replies come on the session the sends went on only if no online/offline happened meanwhile.
  if (result !== undefined && lastSent >= 0 && epochs.get(peer) === epoch) {
    const key = `${result.instance}|${config.instance}:${epoch}`;
    confirmed[key] = Math.max(confirmed[key] ?? -1, lastSent);
  }
}

function step(): void {
  if (!running || peers.length === 0) return;
  const peer = peers[Math.floor(Math.random() * peers.length)] as string;
  const dice = Math.random();
  if (dice < 0.45) void sendSeq(peer);
  else if (dice < 0.85) void confirmingCall(peer, Math.floor(Math.random() * 20));
  else if (dice < 0.9) void track(node.call(peer, 'missing', null));
  else if (dice < 0.95) void track(node.call(peer, 'sleep', 2_000, { timeoutMs: 50 }));
  else {
    const controller = new AbortController();
    void track(node.call(peer, 'sleep', 2_000, { signal: controller.signal }));
    setTimeout(() => controller.abort(), 10);
  }
}

/** Resolves once every call we started has settled, or after `ms`. */
async function settled(ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (calls.outstanding.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

function report(): SoakNodeReport {
  (globalThis as { gc?: () => void }).gc?.();
  const memory = process.memoryUsage();
  const now = Date.now();
  let oldest = 0;
  for (const started of calls.outstanding.values()) oldest = Math.max(oldest, now - started);
  return {
    instance: config.instance,
    calls: { started: calls.started, resolved: calls.resolved, rejected: { ...calls.rejected }, untyped: calls.untyped, outstanding: calls.outstanding.size, oldestOutstandingMs: oldest },
    sends: { ...sends, otherFailures: { ...sends.otherFailures } },
    confirmed,
    received,
    heapUsed: memory.heapUsed,
    rss: memory.rss,
    resources: resources(),
    online: node.listPeers().filter((p) => p.status === 'online').length,
  };
}

async function handle(command: SoakCommand): Promise<unknown> {
  switch (command.op) {
    case 'pair':
      for (const peer of command.peers) await node.pair(peer);
      return null;
    case 'connect':
      // The registry keeps re-dialling this address with backoff if this dial fails.
      node.connect(command.peer, { host: '127.0.0.1', port: command.port }).catch(() => undefined);
      return null;
    case 'start':
      peers = command.peers;
      running = true;
      loop ??= setInterval(step, command.everyMs);
      return null;
    case 'pause':
      running = false;
      if (loop) clearInterval(loop);
      loop = undefined;
      await settled(config.callTimeoutMs + 5_000);
      return report();
    case 'final':
      // Sends then a confirming call on every session, in parallel across peers.
      await Promise.all(
        command.peers.map(async (peer) => {
          for (let i = 0; i < command.sends; i++) void sendSeq(peer);
          await confirmingCall(peer, 0);
        }),
      );
      await settled(config.callTimeoutMs + 5_000);
      return report();
    case 'report':
      return report();
    case 'stop': {
      running = false;
      if (loop) clearInterval(loop);
      loop = undefined;
      await node.stop();
      await settled(config.callTimeoutMs + 5_000);
      return report();
    }
  }
}

process.on('message', (message: { seq: number; command: SoakCommand }) => {
  handle(message.command).then(
    (result) => process.send?.({ seq: message.seq, ok: true, result }),
    (error: Error) => process.send?.({ seq: message.seq, ok: false, error: error.message }),
  );
});
process.on('disconnect', () => void node.stop().then(() => process.exit(0)));
process.send?.({ ready: { id: node.id.toString(), port: node.port } });
