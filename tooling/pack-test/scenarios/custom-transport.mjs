// Scenario (c): PeerNet over a transport written by the application. This
// one carries the byte streams over Unix domain sockets: an address is
// { host: a directory, port: a number } and names the socket file
// `<host>/<port>.sock`. A net.Socket already is the DuplexStream PeerNet needs.
// Prints one JSON line with what it saw; any failed check throws.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AbortedError, InvalidArgumentError, NotConnectedError, PeerNet } from 'peernet';

/** A Transport over Unix domain sockets; counts its streams so the caller can see it was used. */
function unixTransport() {
  const stats = { dials: 0, accepted: 0 };
  const socketPath = ({ host, port }) => join(host, `${port}.sock`);
  let nextPort = 1;
  return {
    name: 'unix',
    stats,
    dial(address, options = {}) {
      return new Promise((resolve, reject) => {
        const { signal } = options;
        if (signal?.aborted) {
          reject(new AbortedError('dial aborted', { cause: signal.reason }));
          return;
        }
        const socket = connect(socketPath(address));
        const onAbort = () => {
          socket.destroy();
          reject(new AbortedError('dial aborted', { cause: signal.reason }));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        socket.once('connect', () => {
          signal?.removeEventListener('abort', onAbort);
          socket.off('error', onError);
          stats.dials++;
          resolve(socket);
        });
        const onError = (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(new NotConnectedError(`cannot reach ${socketPath(address)}: ${error.code ?? error.message}`, { cause: error }));
        };
        socket.once('error', onError);
      });
    },
    async listen({ host, port = 0, onStream }) {
      if (typeof host !== 'string' || !host.startsWith('/')) {
        throw new InvalidArgumentError(`unix transport: host must be an absolute directory, got ${String(host)}`);
      }
      await mkdir(host, { recursive: true });
      if (port === 0) {
        while (existsSync(socketPath({ host, port: nextPort }))) nextPort++;
        port = nextPort++;
      }
      const address = { host, port };
      const server = createServer((socket) => {
        stats.accepted++;
        onStream(socket, { host, port: 0 });
      });
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath(address), () => {
          server.off('error', reject);
          resolve();
        });
      });
      let closing;
      return {
        address,
        close: () => (closing ??= new Promise((resolve) => server.close(() => resolve()))),
      };
    },
  };
}

const dir = await mkdtemp(join(tmpdir(), 'peernet-pack-c-'));
const sockets = join(dir, 'sockets');
const nodes = [];
try {
  const transport = unixTransport();
  // `host` is handed to the transport's listen(): here, the socket directory.
  const options = { transport, host: sockets, discovery: [], networkMonitor: false };
  const bob = await PeerNet.start({ dataDir: join(dir, 'bob'), ...options });
  nodes.push(bob);
  const alice = await PeerNet.start({ dataDir: join(dir, 'alice'), ...options });
  nodes.push(alice);
  assert.deepEqual(bob.address, { host: sockets, port: bob.port });
  assert.ok(existsSync(join(sockets, `${bob.port}.sock`)));

  bob.expose('echo', (args, { peer }) => ({ args, from: peer.toString() }));
  await bob.pair(alice.id, { label: 'alice' });
  await alice.pair(bob.id, { label: 'bob' });
  const bobSeesAlice = new Promise((resolve) => bob.once('peer:online', resolve));
  await alice.connect(bob.id, { host: sockets, port: bob.port, signal: AbortSignal.timeout(30_000) });
  await bobSeesAlice;

  const answer = await alice.call(bob.id, 'echo', { over: 'unix', n: 7, bytes: new Uint8Array([1, 2, 3]) }, { timeoutMs: 30_000 });
  assert.equal(answer.from, alice.id.toString());
  assert.deepEqual(answer.args.bytes, new Uint8Array([1, 2, 3]));
  assert.ok(transport.stats.dials >= 1 && transport.stats.accepted >= 1, 'the custom transport carried the session');

  console.log(
    JSON.stringify({
      transport: transport.name,
      over: answer.args.over,
      n: answer.args.n,
      bytes: [...answer.args.bytes],
      fromAlice: answer.from === alice.id.toString(),
      dials: transport.stats.dials,
      accepted: transport.stats.accepted,
    }),
  );
} finally {
  await Promise.all(nodes.map((node) => node.stop()));
  await rm(dir, { recursive: true, force: true });
}
