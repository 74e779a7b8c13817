// One demo node, in a process of its own: `node node-process.js <dataDir>`,
// forked by main.ts. It runs a PeerNet node whose discovery is restricted to
// the loopback interface, reports what happens to the director, and does what
// the director asks (pair, send, call, ...). The story itself lives in main.ts.
import { client, PeerNet, isErrorCode, isPeerNetError, serve, type PeerNetOptions } from 'peernet';
import type { Report, Reply, Request } from './messages.js';

const dataDir = process.argv[2];
if (!dataDir || !process.send) {
  console.error('usage: node node-process.js <dataDir> (forked with an IPC channel)');
  process.exit(2);
}
const report = (message: Report): void => void process.send?.(message);

/** Where this machine's demo nodes meet: loopback only, so nothing leaves the machine. */
const DEMO_NETWORK: Partial<PeerNetOptions> = {
  host: '127.0.0.1',
  interfaces: ['127.0.0.1'],
  udpPort: 24041,
  // A killed peer is noticed by its closed socket at once; the heartbeat is for silent ones.
  liveness: { intervalMs: 2_000, timeoutMs: 4_000 },
  reconnect: { initialMs: 200, maxMs: 2_000 },
};

const node = await PeerNet.start({
  dataDir,
  ...DEMO_NETWORK,
  logger: {
    warn(message, details) {
      if (message === 'inbound handshake failed') {
        report({ event: 'refused', code: String(details?.code), reason: String(details?.reason) });
      }
    },
  },
});

const seen = new Set<string>();
node.on('peer:online', (peer) => report({ event: 'online', peer: peer.toString() }));
node.on('peer:offline', (peer, reason) => report({ event: 'offline', peer: peer.toString(), reason: reason?.code }));
node.on('peer:discovered', ({ id, source, trusted }) => {
  // Announcements repeat; the transcript only needs the first of each kind.
  const key = `${id.toString()} ${source} ${String(trusted)}`;
  if (seen.has(key)) return;
  seen.add(key);
  report({ event: 'discovered', peer: id.toString(), source, trusted });
});
node.expose('chat', (text, { peer }) => report({ event: 'chat', from: peer.toString(), text: String(text) }));

// The device-admin API a node can serve: plain functions, callable by the admin peer only.
let deviceName = 'unnamed';
const device = {
  status: () => ({ name: deviceName, pid: process.pid, uptimeSeconds: Math.round(process.uptime() * 10) / 10 }),
  rename(name: string): string {
    if (typeof name !== 'string' || !/^[a-z0-9-]{1,32}$/.test(name)) throw new Error('names are 1-32 of a-z, 0-9, -');
    deviceName = name;
    return name;
  },
};

async function handle(request: Request): Promise<unknown> {
  switch (request.op) {
    case 'pair':
      await node.pair(request.peer, { label: request.label });
      return null;
    case 'invite': {
      // The code is what a person reads out; the director passes it on as one would type it.
      const invite = await node.invite({ label: request.label, ttlMs: 60_000 });
      return invite.code;
    }
    case 'join': {
      const joined = await node.join(request.code, { label: request.label, timeoutMs: 15_000 });
      return { peer: joined.peer.toString(), sas: joined.sas };
    }
    case 'serve-device':
      serve(node, 'device', device, { authorize: (peer) => peer.equals(request.admin) });
      return null;
    case 'send':
      return node.send(request.peer, request.name, request.args as never);
    case 'call':
      return node.call(request.peer, request.name, request.args as never);
    case 'admin': {
      const remote = client<typeof device>(node, request.peer, 'device', { timeoutMs: 5_000 });
      const method = request.method as keyof typeof device;
      return (remote[method] as (...params: unknown[]) => Promise<unknown>)(...request.params);
    }
    case 'connect':
      return node.connect(request.peer, { host: '127.0.0.1', port: request.port });
    case 'stop':
      // The director waits for this process to exit with 0.
      await node.stop();
      process.exit(0);
  }
}

process.on('message', (request: Request) => {
  handle(request).then(
    (value) => send({ seq: request.seq, ok: true, value: value ?? null }),
    (error: unknown) =>
      send({
        seq: request.seq,
        ok: false,
        code: isPeerNetError(error) && isErrorCode(error.code) ? error.code : 'error',
        message: error instanceof Error ? error.message : String(error),
      }),
  );
});
// The director going away (Ctrl-C, a crash) ends this node too.
process.on('disconnect', () => void node.stop().finally(() => process.exit(0)));

function send(reply: Reply): void {
  if (process.connected) process.send?.(reply);
}

report({
  event: 'up',
  id: node.id.toString(),
  port: node.port,
  pid: process.pid,
  paired: node.listPeers().map((p) => p.id.toString()),
});
