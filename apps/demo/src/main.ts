// The README's demo: three nodes on this machine (loopback only), each with its
// own data dir. Alice and Bob pair and talk; Mallory, a stranger, is refused.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerNet, type PeerId } from 'peernet';

const started = performance.now();
const say = (who: string, text: string): void => {
  const t = ((performance.now() - started) / 1000).toFixed(2).padStart(6);
  console.log(`${t}s  ${who.padEnd(8)} ${text}`);
};
const short = (id: PeerId): string => `${id.toString().slice(0, 12)}…`;

const root = await mkdtemp(join(tmpdir(), 'peernet-demo-'));
const nodes: PeerNet[] = [];
try {
  const start = async (name: string): Promise<PeerNet> => {
    const node = await PeerNet.start({ dataDir: join(root, name), host: '127.0.0.1', discovery: [] });
    nodes.push(node);
    say(name, `started: id ${node.id.toString()} on 127.0.0.1:${node.port}`);
    return node;
  };
  const alice = await start('alice');
  const bob = await start('bob');
  const mallory = await start('mallory');

  bob.expose('greet', (args, { peer }) => `hello ${String(args)}, you are ${short(peer)}`);
  bob.expose('chat', (text, { peer }) => say('bob', `chat from ${short(peer)}: ${String(text)}`));
  bob.expose('admin.uptime', () => process.uptime(), {
    authorize: (peer) => peer.equals(alice.id),
  });
  say('bob', "exposes 'greet', 'chat' and 'admin.uptime' (alice only)");

  await alice.pair(bob.id, { label: 'bob' });
  await bob.pair(alice.id, { label: 'alice' });
  say('alice', 'paired with bob (and bob with alice), by public key');

  bob.on('peer:online', (peer) => say('bob', `${short(peer)} is online`));
  await alice.connect(bob.id, { host: '127.0.0.1', port: bob.port });
  say('alice', 'connected: Noise XX handshake done, both sides authenticated');

  say('alice', `call greet → ${JSON.stringify(await alice.call(bob.id, 'greet', 'alice'))}`);
  await alice.send(bob.id, 'chat', 'walkie-talkie: no queue, no retry');
  const uptime = (await alice.call(bob.id, 'admin.uptime')) as number;
  say('alice', `call admin.uptime → ${uptime.toFixed(2)} s`);
  await alice.call(bob.id, 'shutdown').catch((error: { code: string }) => say('alice', `call shutdown → ${error.code} (never exposed)`));

  // Mallory knows bob's id and address but bob never paired with her.
  await mallory.pair(bob.id, { label: 'bob' });
  await mallory
    .connect(bob.id, { host: '127.0.0.1', port: bob.port })
    .then(() => say('mallory', 'connected?! (this must not happen)'))
    .catch((error: { code: string; message: string }) => say('mallory', `refused: ${error.code}: ${error.message}`));
  await mallory
    .call(bob.id, 'greet', 'mallory')
    .catch((error: { code: string }) => say('mallory', `call greet → ${error.code}`));

  await alice.unpair(bob.id);
  say('alice', `unpaired bob; connected now: ${String(alice.isConnected(bob.id))}`);
  say('demo', 'done');
} finally {
  await Promise.all(nodes.map((node) => node.stop()));
  await rm(root, { recursive: true, force: true });
}
