// The README's demo: three nodes on this machine, each with its own data dir.
// Discovery (mDNS and UDP broadcast) is restricted to the loopback interface,
// so nothing leaves the machine. Alice and Bob pair and talk; Mallory, a
// stranger, is seen but refused; Bob restarts and Alice gets him back.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerNet, type PeerId, type PeerNetOptions } from 'peernet';

const started = performance.now();
const say = (who: string, text: string): void => {
  const t = ((performance.now() - started) / 1000).toFixed(2).padStart(6);
  console.log(`${t}s  ${who.padEnd(8)} ${text}`);
};
const short = (id: PeerId): string => `${id.toString().slice(0, 12)}…`;

/** Waits for `promise`, failing the demo (instead of hanging) after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`demo: no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const root = await mkdtemp(join(tmpdir(), 'peernet-demo-'));
const nodes = new Set<PeerNet>();
const start = async (name: string, extra: Partial<PeerNetOptions> = {}): Promise<PeerNet> => {
  const node = await PeerNet.start({
    dataDir: join(root, name),
    host: '127.0.0.1',
    interfaces: ['127.0.0.1'], // mDNS and UDP broadcast on loopback only
    udpPort: 24041,
    ...extra,
  });
  nodes.add(node);
  say(name, `up: id ${node.id.toString()} on 127.0.0.1:${node.port}`);
  return node;
};
const stop = async (node: PeerNet): Promise<void> => {
  nodes.delete(node);
  await node.stop();
};
const exposeBob = (bob: PeerNet, alice: PeerNet): void => {
  bob.expose('greet', (args, { peer }) => `hello ${String(args)}, you are ${short(peer)}`);
  bob.expose('chat', (text, { peer }) => say('bob', `chat from ${short(peer)}: ${String(text)}`));
  bob.expose('admin.uptime', () => Math.round(process.uptime() * 1000) / 1000, {
    authorize: (peer) => peer.equals(alice.id),
  });
};

try {
  const alice = await start('alice');
  let bob = await start('bob');
  const mallory = await start('mallory');
  exposeBob(bob, alice);
  say('bob', "exposes 'greet', 'chat' and 'admin.uptime' (alice only)");

  bob.on('peer:discovered', (p) => {
    if (!p.trusted) say('bob', `sees ${short(p.id)} via ${p.source}: not paired, so never dialled`);
  });
  const aliceOnline = new Promise<PeerId>((resolve) => alice.once('peer:online', resolve));
  await alice.pair(bob.id, { label: 'bob' });
  await bob.pair(alice.id, { label: 'alice' });
  say('alice', 'paired with bob, and bob with alice (by public key; no address given)');
  await within(aliceOnline, 10_000, 'session between alice and bob');
  say('alice', 'found bob by discovery; Noise XX handshake done, both sides authenticated');

  say('alice', `call greet → ${JSON.stringify(await alice.call(bob.id, 'greet', 'alice'))}`);
  await alice.send(bob.id, 'chat', 'walkie-talkie: no queue, no retry');
  say('alice', `call admin.uptime → ${String(await alice.call(bob.id, 'admin.uptime'))} s`);
  await alice
    .call(bob.id, 'shutdown')
    .catch((error: { code: string }) => say('alice', `call shutdown → ${error.code} (never exposed)`));

  // Mallory pairs with Bob on her side, but Bob never paired with her.
  await mallory.pair(bob.id, { label: 'bob' });
  await mallory
    .connect(bob.id, { host: '127.0.0.1', port: bob.port })
    .then(() => say('mallory', 'connected?! (this must not happen)'))
    .catch((error: { code: string }) => say('mallory', `connect → ${error.code}: bob does not trust her`));
  await mallory.call(bob.id, 'greet', 'mallory').catch((e: { code: string }) => say('mallory', `call greet → ${e.code}`));

  // Bob restarts (same data dir: same identity and pairings, new port); Alice gets him back by herself.
  const offline = new Promise<void>((resolve) => alice.once('peer:offline', () => resolve()));
  await stop(bob);
  await within(offline, 5_000, 'offline event');
  say('alice', 'bob went away');
  const back = new Promise<PeerId>((resolve) => alice.once('peer:online', resolve));
  bob = await start('bob');
  exposeBob(bob, alice);
  await within(back, 15_000, 'reconnection');
  say('alice', `bob is back; call greet → ${JSON.stringify(await alice.call(bob.id, 'greet', 'alice again'))}`);

  await alice.unpair(bob.id);
  say('alice', `unpaired bob; connected now: ${String(alice.isConnected(bob.id))}`);
  say('demo', 'done');
} finally {
  await Promise.all([...nodes].map((node) => node.stop()));
  await rm(root, { recursive: true, force: true });
}
