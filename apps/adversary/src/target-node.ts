// A PeerNet node in its own process, attacked by the adversary scenarios and
// driven over the IPC channel. It measures itself (RSS, handles, handler runs
// per peer) because the point is what the attack costs this process.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { PeerNet, isPeerNetError, type Invite, type PeerNetOptions, type Value } from 'peernet';
import type { TargetInviteOutcome, TargetRequest, TargetStats } from './target.js';

const options = JSON.parse(process.argv[2] ?? '{}') as Partial<PeerNetOptions> & { dataDir: string };
const warnings = new Map<string, number>();
const runs: Record<string, Record<string, number>> = {};
const admins = new Set<string>();
let slowInFlight = 0;
let slowMaxInFlight = 0;
let holdInFlight = 0;
let holdMaxInFlight = 0;
let heapPeak = 0;
const sampleHeap = (): void => {
  heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
};
setInterval(sampleHeap, 20).unref();
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const received: Record<string, Value[]> = {};

const node = await PeerNet.start({
  host: '127.0.0.1',
  discovery: [],
  networkMonitor: false,
  ...options,
  logger: {
    warn: (message, details) => {
      const key = typeof details?.code === 'string' ? `${message} (${details.code})` : message;
      warnings.set(key, (warnings.get(key) ?? 0) + 1);
    },
  },
});

function ran(peer: string, name: string): void {
  const row = (runs[peer] ??= {});
  row[name] = (row[name] ?? 0) + 1;
}

node.expose('echo', (args, { peer }) => {
  ran(peer.toString(), 'echo');
  return args;
});
node.expose('slow', async (args, { peer, signal }) => {
  ran(peer.toString(), 'slow');
  slowInFlight++;
  slowMaxInFlight = Math.max(slowMaxInFlight, slowInFlight);
  try {
    const ms = typeof args === 'number' ? args : 200;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    return ms;
  } finally {
    slowInFlight--;
  }
});
// Keeps its arguments alive for 30 s (or until cancelled): what a peer's held calls cost the node.
node.expose('hold', async (args, { peer, signal }) => {
  ran(peer.toString(), 'hold');
  holdInFlight++;
  holdMaxInFlight = Math.max(holdMaxInFlight, holdInFlight);
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 30_000);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    return Array.isArray(args) ? args.length : null;
  } finally {
    holdInFlight--;
  }
});
node.expose('record', (args, { peer }) => {
  ran(peer.toString(), 'record');
  (received[peer.toString()] ??= []).push(args);
});
node.expose(
  'admin',
  (_args, { peer }) => {
    ran(peer.toString(), 'admin');
    return 'granted';
  },
  { authorize: (peer) => admins.has(peer.toString()) },
);

// Answers any open to it with the same bytes: a stream handler that paired peers may open, and nobody else.
node.exposeStream('stream-echo', (stream, { peer }) => {
  ran(peer.toString(), 'stream-echo');
  stream.on('error', () => undefined);
  stream.pipe(stream);
});

// Invites opened on request, and how each ended (kept until the process exits: a test opens a few).
interface OpenedInvite {
  invite: Invite;
  outcome: TargetInviteOutcome;
  /** Resolves once the outcome is final. */
  settled: Promise<void>;
}
const invites = new Map<number, OpenedInvite>();
let nextInvite = 1;

async function openInvite(request: Extract<TargetRequest, { op: 'invite' }>): Promise<unknown> {
  const { op: _op, ...options } = request;
  const invite = await node.invite(options);
  const handle = nextInvite++;
  const entry: OpenedInvite = {
    invite,
    outcome: { state: 'open' },
    settled: invite.paired.then(
      async (paired) => {
        const sas = await invite.sas;
        entry.outcome = { state: 'paired', peer: paired.peer.toString(), sas, ...(paired.label === undefined ? {} : { label: paired.label }) };
      },
      (error: unknown) => {
        const code = isPeerNetError(error) ? error.code : 'error';
        const reason = (error as { reason?: unknown }).reason;
        entry.outcome = { state: 'closed', code, reason: typeof reason === 'string' ? reason : String(error) };
      },
    ),
  };
  invites.set(handle, entry);
  return { handle, code: invite.code, uri: invite.uri, expiresAt: invite.expiresAt };
}

async function inviteOutcome(handle: number, waitMs: number): Promise<TargetInviteOutcome> {
  const entry = invites.get(handle);
  if (entry === undefined) throw new Error(`no invite ${handle}`);
  if (waitMs > 0) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([entry.settled, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
  }
  return entry.outcome;
}

function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

function stats(gc: boolean): TargetStats {
  sampleHeap();
  if (gc) (globalThis as { gc?: () => void }).gc?.();
  const memory = process.memoryUsage();
  return {
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    external: memory.external + memory.arrayBuffers,
    resources: resources(),
    runs,
    slowInFlight,
    slowMaxInFlight,
    holdInFlight,
    holdMaxInFlight,
    heapPeak,
    loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    loopDelayMaxMs: loopDelay.max / 1e6,
    online: node.listPeers().filter((p) => p.status === 'online').length,
    warnings: Object.fromEntries(warnings),
    received,
  };
}

async function handle(request: TargetRequest): Promise<unknown> {
  switch (request.op) {
    case 'pair':
      await node.pair(request.peer, { label: request.label ?? 'peer' });
      return null;
    case 'unpair':
      return node.unpair(request.peer);
    case 'grant':
      admins.add(request.peer);
      return null;
    case 'connect':
      await node.connect(request.peer, { host: '127.0.0.1', port: request.port });
      return null;
    case 'call':
      return node.call(request.peer, request.name, request.args ?? null, { timeoutMs: request.timeoutMs ?? 10_000 });
    case 'invite':
      return openInvite(request);
    case 'inviteOutcome':
      return inviteOutcome(request.invite, request.waitMs ?? 0);
    case 'cancelInvite': {
      const entry = invites.get(request.invite);
      if (entry === undefined) throw new Error(`no invite ${request.invite}`);
      entry.invite.cancel();
      await entry.settled;
      return null;
    }
    case 'peers':
      return node.listPeers().map((peer) => peer.id.toString());
    case 'stats':
      return stats(request.gc === true);
    case 'resetStats':
      slowMaxInFlight = slowInFlight;
      holdMaxInFlight = holdInFlight;
      heapPeak = process.memoryUsage().heapUsed;
      loopDelay.reset();
      for (const key of Object.keys(runs)) delete runs[key];
      for (const key of Object.keys(received)) delete received[key];
      warnings.clear();
      return null;
    case 'stop':
      await node.stop();
      return stats(true);
  }
}

process.on('message', (message: { seq: number; request: TargetRequest }) => {
  handle(message.request).then(
    (result) => process.send?.({ seq: message.seq, ok: true, result }),
    (error: Error & { code?: string }) =>
      process.send?.({ seq: message.seq, ok: false, error: { code: error.code ?? 'error', message: error.message } }),
  );
});
process.on('disconnect', () => void node.stop().then(() => process.exit(0)));
process.send?.({ ready: { id: node.id.toString(), port: node.port, pid: process.pid } });
