// Adversaries on the DHT, with real HyperDHT nodes and sockets on a local
// testnet: strangers' keys, garbage after the firewall, a flood of strangers,
// announcements and listeners that point the victim's lookup target at an
// attacker, and a paired peer whose DHT key is not the id it proves.
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { DIAGNOSTICS_CHANNELS, PeerId, type TransportAddress, type TransportFactory } from '@peernet/interface';
import type { PeerInfo } from 'peernet';
import { dht, type DhtTransport } from '@peernet/transport-dht';
import { pseudoRandomBytes, rejection, resourceSnapshot, resourcesAbove, waitUntil } from '@peernet/compliance';
import { ed25519KeyPair, type Identity } from '@peernet/identity';
import { describeInNetns, dhtNodes, generateIdentity, localDht } from './helpers.js';
import {
  HyperDHT,
  closedWithin,
  dhtKeyPairOf,
  dhtTargetOf,
  lookupRecords,
  persistentNode,
  rawConnect,
  rawNode,
  serverTap,
  type RawOutcome,
} from './raw-dht.js';

jest.setTimeout(60_000);

const FIREWALL_REASON = 'dht firewall: not paired';

/** A message on the handshake-refused channel, with when it arrived. */
interface Refusal {
  peer?: string;
  initiator: boolean;
  code: string;
  reason: string;
  at: number;
}

const dhtAddress = (peer: PeerId): TransportAddress => ({ transport: 'dht', host: peer.toString(), port: 0 });
const hex = (id: PeerId): string => Buffer.from(id.bytes).toString('hex');
const peerRows = (rows: PeerInfo[]) => rows.map((p) => ({ id: p.id.toString(), status: p.status, transport: p.transport }));

/** A 2-byte big-endian length prefix and `body`: one frame of PeerNet's handshake framing. */
function frame(body: Uint8Array): Buffer {
  const out = Buffer.alloc(2 + body.length);
  out.writeUInt16BE(body.length, 0);
  out.set(body, 2);
  return out;
}

/** Milliseconds at the given quantile of `values`. */
function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}
const figures = (values: readonly number[]) =>
  `n=${values.length} median=${quantile(values, 0.5).toFixed(2)} p95=${quantile(values, 0.95).toFixed(2)} max=${Math.max(...values).toFixed(2)} ms`;

/** The heap after a full collection (for the report only; nothing asserts on it). */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}

describeInNetns('adversaries on the dht', () => {
  let network: Awaited<ReturnType<typeof localDht>>;
  const kit = dhtNodes(() => network.bootstrap);
  const { start, pairBoth } = kit;
  const cleanups: Array<() => unknown> = [];
  /** A node answering `whoami`, and a paired friend with a session up to it. */
  const nodeWithFriend = async () => {
    const node = await start();
    const friend = await start();
    node.expose('whoami', (_args, { peer }) => peer.toString());
    await pairBoth(node, friend);
    await friend.waitForPeer(node.id, { timeoutMs: 20_000 });
    return { node, friend };
  };
  /** A raw DHT node, destroyed after the test. */
  const raw = (bootstrap = network.bootstrap): InstanceType<typeof HyperDHT> => {
    const node = rawNode(bootstrap);
    cleanups.push(() => node.destroy({ force: true }));
    return node;
  };
  /** Records every handshake-refused diagnostic until the test ends. */
  const recordRefusals = (): Refusal[] => {
    const seen: Refusal[] = [];
    const onMessage = (message: unknown) => seen.push({ ...(message as Omit<Refusal, 'at'>), at: performance.now() });
    subscribe(DIAGNOSTICS_CHANNELS.handshakeRefused, onMessage);
    cleanups.push(() => unsubscribe(DIAGNOSTICS_CHANNELS.handshakeRefused, onMessage));
    return seen;
  };
  /** A DHT transport factory whose firewall also refuses `peer` although it is paired: a session with it is then ours. */
  const dialOnlyTo = (peer: PeerId, bootstrap: string[]): TransportFactory => (context) =>
    dht({ bootstrap })({
      id: context.id,
      keyPair: context.keyPair,
      isPaired: (p) => !p.equals(peer) && context.isPaired(p),
    });

  beforeAll(async () => {
    network = await localDht();
  });
  afterEach(async () => {
    await kit.stopAll();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    await network.destroy();
    kit.removeDirs();
  });

  describe("a stranger's key", () => {
    it("is refused by the firewall: the raw client's dial fails, no PeerNet handshake runs, listPeers is unchanged", async () => {
      const refusals = recordRefusals();
      const { node, friend } = await nodeWithFriend();
      const before = peerRows(node.listPeers());
      const turnedAway: unknown[] = [];
      node.on('peer:refused', (r) => turnedAway.push(r));

      const strangerKeys = HyperDHT.keyPair();
      const stranger = PeerId.fromBytes(strangerKeys.publicKey).toString();
      const outcome = await rawConnect(raw(), node.id.bytes, strangerKeys, 30_000);

      // HyperDHT never answers a firewalled handshake: the dial runs out of relays to try.
      expect(outcome).toMatchObject({ open: false, code: 'PEER_CONNECTION_FAILED' });
      const aboutStranger = refusals.filter((r) => r.peer === stranger);
      expect(aboutStranger.length).toBeGreaterThan(0);
      // Every refusal naming it is the firewall's: no PeerNet handshake (which would publish its own code) ran.
      for (const r of aboutStranger) expect(r).toMatchObject({ initiator: false, code: 'untrusted_peer', reason: FIREWALL_REASON });
      expect(turnedAway).toEqual([]); // peer:refused is for strangers that completed a handshake
      expect(node.isConnected(stranger)).toBe(false);
      expect(peerRows(node.listPeers())).toEqual(before);
      await expect(friend.call(node.id, 'whoami')).resolves.toBe(friend.id.toString());
    });

    const GARBAGE: Array<[string, Buffer]> = [
      ['an HTTP request (its first two bytes read as an 18,245-byte frame)', Buffer.from('GET / HTTP/1.1\r\nHost: peernet\r\n\r\n')],
      ['a well-framed first message carrying a 32-byte payload', frame(pseudoRandomBytes(64, 7))],
      ['a plausible first message, then a third that does not decrypt', Buffer.concat([frame(pseudoRandomBytes(32, 11)), frame(pseudoRandomBytes(96, 13))])],
    ];

    it.each(GARBAGE)('with a paired key that then sends %s: the node closes it with handshake_failed and stays healthy', async (_what, garbage) => {
      const refusals = recordRefusals();
      const { node, friend } = await nodeWithFriend();
      const turnedAway: unknown[] = [];
      node.on('peer:refused', (r) => turnedAway.push(r));
      const talker = generateIdentity();
      await node.pair(talker.id);

      const outcome = await rawConnect(raw(), node.id.bytes, dhtKeyPairOf(talker), 30_000);
      if (!outcome.open) throw new Error(`the paired key was not let in: ${outcome.code ?? outcome.message}`);
      const socket = outcome.socket;
      socket.write(garbage);
      // The node hangs up: well before its 10 s handshake timeout, as the code below shows.
      await closedWithin(socket, 15_000);
      await waitUntil(() => refusals.some((r) => r.peer === talker.id.toString()), 5_000, "the node's handshake refusal");
      const failures = refusals.filter((r) => r.peer === talker.id.toString());
      expect(failures).toEqual([expect.objectContaining({ initiator: false, code: 'handshake_failed' })]);
      expect(node.isConnected(talker.id)).toBe(false);
      expect(turnedAway).toEqual([]);
      // Healthy: the paired peer's session is still up and a call goes through.
      expect(friend.isConnected(node.id)).toBe(true);
      await expect(friend.call(node.id, 'whoami')).resolves.toBe(friend.id.toString());
    });
  });

  describe('a flood of connection attempts', () => {
    const STRANGER_NODES = 10;
    const KEYS_PER_NODE = 20;

    it(`refuses ${STRANGER_NODES * KEYS_PER_NODE} strangers at once while a paired peer keeps calling, and returns to its baseline`, async () => {
      const attempts = STRANGER_NODES * KEYS_PER_NODE;
      const refusals = recordRefusals();
      let transport: DhtTransport | undefined;
      const node = await start({
        transports: [
          (context) => {
            transport = dht({ bootstrap: network.bootstrap })(context) as DhtTransport;
            return transport;
          },
        ],
      });
      if (transport === undefined) throw new Error('the dht factory was not called');
      const friend = await start();
      node.expose('echo', (args) => args);
      await pairBoth(node, friend);
      await friend.waitForPeer(node.id, { timeoutMs: 20_000 });
      const turnedAway: unknown[] = [];
      node.on('peer:refused', (r) => turnedAway.push(r));
      const offline: unknown[] = [];
      friend.on('peer:offline', (p) => offline.push(p));

      // Call latency before the flood (after a warm-up).
      for (let i = 0; i < 500; i++) await friend.call(node.id, 'echo', i);
      const quiet: number[] = [];
      for (let i = 0; i < 500; i++) {
        const t = performance.now();
        await friend.call(node.id, 'echo', i);
        quiet.push(performance.now() - t);
      }

      const baseline = resourceSnapshot();
      const heapBefore = heapAfterGc();
      const refusedBefore = transport.refusedCount;

      const strangers = Array.from({ length: STRANGER_NODES }, () => raw());
      await Promise.all(strangers.map((s) => s.ready()));
      const strangerIds = new Set<string>();
      const floodStart = performance.now();
      const dials: Array<Promise<RawOutcome>> = [];
      for (const s of strangers) {
        for (let i = 0; i < KEYS_PER_NODE; i++) {
          const keys = HyperDHT.keyPair();
          strangerIds.add(PeerId.fromBytes(keys.publicKey).toString());
          dials.push(rawConnect(s, node.id.bytes, keys, 30_000));
        }
      }
      let flooding = true;
      const flood = Promise.all(dials).finally(() => {
        flooding = false;
      });

      // A paired peer that dials in fresh during the flood gets a session.
      const latecomerReady = (async () => {
        const latecomer = await start();
        await pairBoth(node, latecomer);
        await latecomer.waitForPeer(node.id, { timeoutMs: 30_000 });
        return { latecomer, upAfterMs: performance.now() - floodStart, duringFlood: flooding };
      })();

      // The paired peer calls back to back for as long as the flood lasts: every call must succeed.
      const during: number[] = [];
      for (let i = 0; flooding; i++) {
        const t = performance.now();
        await expect(friend.call(node.id, 'echo', i)).resolves.toBe(i);
        during.push(performance.now() - t);
      }
      const outcomes = await flood;
      const floodMs = performance.now() - floodStart;
      const { latecomer, upAfterMs, duringFlood } = await latecomerReady;
      await expect(latecomer.call(node.id, 'echo', 'late')).resolves.toBe('late');

      // Every stranger failed to connect; every one was refused by the firewall, none got to a handshake.
      const opened = outcomes.filter((o) => o.open).length;
      expect(opened).toBe(0);
      const codes = new Map<string, number>();
      for (const o of outcomes) if (!o.open) codes.set(o.code ?? o.message, (codes.get(o.code ?? o.message) ?? 0) + 1);
      const refusedStrangers = refusals.filter((r) => r.peer !== undefined && strangerIds.has(r.peer));
      expect(refusedStrangers.every((r) => r.reason === FIREWALL_REASON && !r.initiator)).toBe(true);
      expect(new Set(refusedStrangers.map((r) => r.peer)).size).toBe(attempts);
      const refusedCount = transport.refusedCount - refusedBefore;
      expect(refusedCount).toBeGreaterThanOrEqual(attempts);
      expect(turnedAway).toEqual([]);
      expect(offline).toEqual([]);
      expect(peerRows(node.listPeers()).map((r) => r.status)).toEqual(['online', 'online']);
      const firstRefusal = Math.min(...refusedStrangers.map((r) => r.at));
      const lastRefusal = Math.max(...refusedStrangers.map((r) => r.at));
      const clientMs = outcomes.map((o) => o.ms);

      // Afterwards: the strangers gone and the latecomer stopped and unpaired, nothing is left above the baseline.
      await Promise.all(strangers.map((s) => s.destroy({ force: true })));
      await latecomer.stop();
      await node.unpair(latecomer.id);
      await waitUntil(() => resourcesAbove(baseline).length === 0, 20_000, `resources back to baseline (${resourcesAbove(baseline).join(', ')})`);
      const heapAfter = heapAfterGc();
      const after: number[] = [];
      for (let i = 0; i < 500; i++) {
        const t = performance.now();
        await friend.call(node.id, 'echo', i);
        after.push(performance.now() - t);
      }

      console.log(
        [
          `flood: ${attempts} dials from ${STRANGER_NODES} raw DHT nodes, ${opened} opened, codes ${JSON.stringify(Object.fromEntries(codes))}`,
          `  firewall refusals: ${refusedCount} (refusedCount delta), ${refusedStrangers.length} diagnostics for ${new Set(refusedStrangers.map((r) => r.peer)).size} distinct strangers`,
          `  first refusal ${(firstRefusal - floodStart).toFixed(0)} ms after the start, all ${attempts} refused within ${(lastRefusal - firstRefusal).toFixed(0)} ms of each other`,
          `  each stranger's dial failed after ${figures(clientMs)}; the whole flood settled in ${floodMs.toFixed(0)} ms`,
          `  paired peer's calls: before ${figures(quiet)}`,
          `                       during ${figures(during)}`,
          `                       after  ${figures(after)}`,
          `  latecomer online ${upAfterMs.toFixed(0)} ms after the flood started (${duringFlood ? 'during' : 'after'} the flood)`,
          `  heap after gc: before ${(heapBefore / 1e6).toFixed(2)} MB, after ${(heapAfter / 1e6).toFixed(2)} MB (${((heapAfter - heapBefore) / 1e6).toFixed(2)} MB)`,
        ].join('\n'),
      );
    });
  });

  describe("announcements and listeners under the victim's target", () => {
    // Each test brings its own testnet: the attacker joins its routing tables, and should not outlive the test there.
    const privateNetwork = async () => {
      const net = await localDht();
      cleanups.push(() => net.destroy());
      return net.bootstrap;
    };

    it("an attacker announcing its own key under the victim's target diverts nothing: offline the dial fails, online it reaches the victim", async () => {
      const bootstrap = await privateNetwork();
      const refusals = recordRefusals();
      const victimIdentity = generateIdentity();
      const target = dhtTargetOf(victimIdentity.id.bytes);

      const attacker = await persistentNode(bootstrap);
      // Not forced: its server's announcer must stop too, or its refresh timers outlive the test.
      cleanups.push(() => attacker.destroy());
      const attackerKeys = HyperDHT.keyPair();
      const tap = serverTap();
      const attackerServer = attacker.createServer(tap.options, (socket) => {
        socket.on('error', () => undefined);
        tap.connections.push(socket);
      });
      await attackerServer.listen(attackerKeys);
      await attacker.announce(target, attackerKeys, [attacker.address()]).finished();

      // The forged record is there: honest DHT nodes hand it out for the victim's target.
      const observer = raw(bootstrap);
      const attackerHex = attackerKeys.publicKey.toString('hex');
      const forged = await lookupRecords(observer, target);
      expect(forged.some((r) => r.keys.includes(attackerHex))).toBe(true);

      const dialler = await start({ bootstrap, transports: [dialOnlyTo(victimIdentity.id, bootstrap)] });
      await dialler.pair(victimIdentity.id);
      // Victim offline: FIND_PEER only returns a key's own announcement, so there is nobody to reach.
      const offline = await rejection(dialler.connect(victimIdentity.id, dhtAddress(victimIdentity.id)));
      expect(offline).toMatchObject({ code: 'not_connected' });
      expect(offline.message).toMatch(/PEER_NOT_FOUND|PEER_CONNECTION_FAILED/);
      expect(dialler.isConnected(victimIdentity.id)).toBe(false);

      // Victim online: the dialler reaches the victim itself (the victim's own dials are refused by the dialler's firewall).
      const victim = await start({ bootstrap, identity: victimIdentity });
      victim.expose('whoami', (_args, { peer }) => ({ me: victim.id.toString(), you: peer.toString() }));
      await victim.pair(dialler.id);
      await dialler.waitForPeer(victimIdentity.id, { timeoutMs: 20_000 });
      await expect(dialler.call(victimIdentity.id, 'whoami')).resolves.toEqual({ me: victimIdentity.id.toString(), you: dialler.id.toString() });
      // The same target now holds both keys, the victim's and the attacker's: it is the target dials look up.
      const both = await lookupRecords(observer, target);
      expect(both.some((r) => r.keys.includes(hex(victimIdentity.id)))).toBe(true);
      expect(both.some((r) => r.keys.includes(attackerHex))).toBe(true);

      // The attacker saw nothing at all, and no PeerNet handshake between the two failed.
      expect(tap).toMatchObject({ handshakes: 0, firewallAsked: [], connections: [] });
      expect(refusals.filter((r) => r.code === 'peer_mismatch' || (r.initiator && r.peer === victimIdentity.id.toString()))).toEqual([]);
    });

    it("an attacker listening with the victim's public key but not its secret key gets handshakes it cannot read", async () => {
      const bootstrap = await privateNetwork();
      const victimIdentity = generateIdentity();
      const victimKeys = dhtKeyPairOf(victimIdentity);
      const target = dhtTargetOf(victimKeys.publicKey);

      const attacker = await persistentNode(bootstrap);
      // Not forced: its server's announcer must stop too, or its refresh timers outlive the test.
      cleanups.push(() => attacker.destroy());
      const tap = serverTap();
      const impostor = attacker.createServer(tap.options, (socket) => {
        socket.on('error', () => undefined);
        tap.connections.push(socket);
      });
      // hyperdht does not check that the pair matches: listen() resolves.
      await impostor.listen({ publicKey: victimKeys.publicKey, secretKey: HyperDHT.keyPair().secretKey });

      // Its announcements are signed with the wrong key: honest nodes drop them, only the attacker's own node claims the key.
      const observer = raw(bootstrap);
      const claims = await lookupRecords(observer, target);
      const victimHex = hex(victimIdentity.id);
      const attackerPort = attacker.address().port;
      expect(claims.filter((r) => r.port !== attackerPort && r.keys.includes(victimHex))).toEqual([]);
      expect(claims.some((r) => r.port === attackerPort && r.keys.includes(victimHex))).toBe(true);

      const dialler = await start({ bootstrap, transports: [dialOnlyTo(victimIdentity.id, bootstrap)] });
      await dialler.pair(victimIdentity.id);
      // Victim offline: the dial reaches the impostor, whose Noise IK cannot open a message sealed to the real key.
      const offline = await rejection(dialler.connect(victimIdentity.id, dhtAddress(victimIdentity.id)));
      expect(offline).toMatchObject({ code: 'not_connected' });
      expect(offline.message).toMatch(/PEER_CONNECTION_FAILED|PEER_NOT_FOUND/);
      expect(tap.handshakes).toBeGreaterThan(0);
      expect(tap.undecryptable).toBe(tap.handshakes);

      // Victim online: the dial reaches the victim, whatever the impostor got.
      const victim = await start({ bootstrap, identity: victimIdentity });
      victim.expose('whoami', (_args, { peer }) => ({ me: victim.id.toString(), you: peer.toString() }));
      await victim.pair(dialler.id);
      await dialler.waitForPeer(victimIdentity.id, { timeoutMs: 20_000 });
      await expect(dialler.call(victimIdentity.id, 'whoami')).resolves.toEqual({ me: victimIdentity.id.toString(), you: dialler.id.toString() });

      expect(tap.undecryptable).toBe(tap.handshakes);
      expect(tap).toMatchObject({ firewallAsked: [], connections: [] });
    });
  });

  describe('a DHT key that is not the id the handshake proves', () => {
    /** A DHT transport that listens and dials with `keyPair` whatever the node's identity, letting in only `admit`. */
    const withDhtKey = (identity: Identity, keyPair: { publicKey: Uint8Array; secretKey: Uint8Array }, admit: (peer: PeerId) => boolean) =>
      dht({ bootstrap: network.bootstrap })({ id: identity.id, keyPair, isPaired: admit });

    it('a paired peer dialling with key K but proving another id is refused with peer_mismatch (the expectedPeer rule)', async () => {
      const refusals = recordRefusals();
      const receiver = await start();
      receiver.expose('whoami', (_args, { peer }) => peer.toString());
      const dhtKey = generateIdentity(); // K: the key X dials with
      const xIdentity = generateIdentity(); // the id X proves in the handshake
      // X refuses every inbound dial, so the only handshake is its own dial to the receiver.
      // The receiver trusts both ids: only the rule that the proven id must be the DHT key can refuse.
      await receiver.pair(dhtKey.id);
      await receiver.pair(xIdentity.id);
      const x = await start({ identity: xIdentity, transports: [withDhtKey(xIdentity, ed25519KeyPair(dhtKey), () => false)] });
      await x.pair(receiver.id);
      const online: PeerId[] = [];
      receiver.on('peer:online', (p) => online.push(p));

      const error = await rejection(x.connect(receiver.id, dhtAddress(receiver.id)));
      await waitUntil(() => refusals.some((r) => !r.initiator && r.peer === xIdentity.id.toString()), 10_000, "the receiver's refusal");
      // (X's node redials with backoff: each attempt is refused the same way.)
      for (const r of refusals.filter((r) => !r.initiator && r.peer === xIdentity.id.toString())) {
        expect(r).toMatchObject({ code: 'peer_mismatch', reason: `dialled ${dhtKey.id.toString()} but reached ${xIdentity.id.toString()}` });
      }
      // X is not told why: the receiver just hangs up after message 3 (a destroyed UDX stream, not a clean end).
      expect(error).toMatchObject({ code: 'handshake_failed', message: 'the peer closed the connection during the handshake' });
      expect(receiver.isConnected(xIdentity.id)).toBe(false);
      expect(receiver.isConnected(dhtKey.id)).toBe(false);
      expect(x.isConnected(receiver.id)).toBe(false);
      expect(online).toEqual([]);

      // The control: a peer whose DHT key is its id gets in, so the refusal above was the mismatch alone.
      const honest = await start();
      await pairBoth(receiver, honest);
      await honest.waitForPeer(receiver.id, { timeoutMs: 20_000 });
      await expect(honest.call(receiver.id, 'whoami')).resolves.toBe(honest.id.toString());
    });

    it("a server holding the victim's DHT key but proving another id fails the dialler's handshake with peer_mismatch", async () => {
      const refusals = recordRefusals();
      const victimIdentity = generateIdentity();
      const dialler = await start();
      const impostorIdentity = generateIdentity();
      const impostor = await start({
        identity: impostorIdentity,
        transports: [withDhtKey(impostorIdentity, ed25519KeyPair(victimIdentity), (p) => p.equals(dialler.id))],
      });
      await dialler.pair(victimIdentity.id);

      const error = await rejection(dialler.connect(victimIdentity.id, dhtAddress(victimIdentity.id)));
      expect(error).toMatchObject({
        code: 'peer_mismatch',
        message: `dialled ${victimIdentity.id.toString()} but reached ${impostorIdentity.id.toString()}`,
      });
      expect(refusals).toContainEqual(expect.objectContaining({ initiator: true, code: 'peer_mismatch', peer: impostorIdentity.id.toString() }));
      expect(dialler.isConnected(victimIdentity.id)).toBe(false);
      expect(impostor.isConnected(dialler.id)).toBe(false);
    });
  });
});
