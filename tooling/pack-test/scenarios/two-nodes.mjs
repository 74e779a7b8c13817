// Scenario (b): the `peernet` package as an application installs it. Two
// nodes in one process on 127.0.0.1, no discovery: pair both ways, dial,
// expose and call, one RPC call, then a refused stranger, and stop.
// Prints one JSON line with what it saw; any failed check throws.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as peernet from 'peernet';

const { PeerNet, PeerId, PeerNetError, client, serve } = peernet;

// The documented surface: the node, RPC, PeerId and the error classes.
const names = [
  'PeerNet', 'serve', 'client', 'caster', 'withContext', 'PeerId', 'isPeerId',
  'PeerNetError', 'NotConnectedError', 'UntrustedPeerError', 'TimeoutError', 'ForbiddenError',
  'HandlerError', 'HandshakeFailedError', 'InvalidArgumentError', 'isPeerNetError', 'errorFromWire',
];
const missing = names.filter((name) => peernet[name] === undefined);
assert.deepEqual(missing, [], `peernet exports ${names.join(', ')}`);
const notConnected = new peernet.NotConnectedError('x');
assert.ok(notConnected instanceof PeerNetError && notConnected instanceof Error);
assert.equal(notConnected.code, 'not_connected');

const dir = await mkdtemp(join(tmpdir(), 'peernet-pack-b-'));
const nodes = [];
try {
  const local = { host: '127.0.0.1', discovery: [] };
  const bob = await PeerNet.start({ dataDir: join(dir, 'bob'), ...local });
  nodes.push(bob);
  const alice = await PeerNet.start({ dataDir: join(dir, 'alice'), ...local });
  nodes.push(alice);
  assert.ok(alice.id instanceof PeerId);
  assert.equal(PeerId.parse(alice.id.toString()).toString(), alice.id.toString());

  bob.expose('greet', (name, { peer }) => `hello ${String(name)} from ${peer.equals(alice.id) ? 'alice' : 'someone'}`);
  const admin = { add: (x, y) => x + y };
  const service = serve(bob, 'admin', admin);

  await bob.pair(alice.id, { label: 'alice' });
  await alice.pair(bob.id, { label: 'bob' });
  const bobSeesAlice = new Promise((resolve) => bob.once('peer:online', resolve));
  await alice.connect(bob.id, { host: '127.0.0.1', port: bob.port, signal: AbortSignal.timeout(30_000) });
  await bobSeesAlice;
  assert.ok(alice.isConnected(bob.id) && bob.isConnected(alice.id));

  const greeting = await alice.call(bob.id, 'greet', 'alice', { timeoutMs: 30_000 });
  const sum = await client(alice, bob.id, 'admin', { timeoutMs: 30_000 }).add(2, 40);

  // Default deny: bob exposes nothing under this name, and alice serves nothing.
  const unknown = await alice.call(bob.id, 'nope', null, { timeoutMs: 30_000 }).catch((error) => error);
  assert.ok(unknown instanceof PeerNetError, 'an unknown handler is a PeerNetError');

  // A stranger (not paired by bob) is refused in the handshake.
  const eve = await PeerNet.start({ dataDir: join(dir, 'eve'), ...local });
  nodes.push(eve);
  await eve.pair(bob.id);
  const refused = await eve
    .connect(bob.id, { host: '127.0.0.1', port: bob.port, signal: AbortSignal.timeout(30_000) })
    .then(() => undefined, (error) => error);
  assert.ok(refused instanceof PeerNetError, 'a stranger is refused');

  service.close();
  console.log(
    JSON.stringify({
      greeting,
      sum,
      unknownCode: unknown.code,
      strangerCode: refused.code,
      peers: alice.listPeers().map((p) => ({ label: p.label, status: p.status })),
    }),
  );
} finally {
  await Promise.all(nodes.map((node) => node.stop()));
  await rm(dir, { recursive: true, force: true });
}
