// Pairing by invite (docs/pairing.md) between nodes in this process, on
// 127.0.0.1, finding each other by UDP discovery on loopback (a private port).
import { connect as tcpConnect, type Socket } from 'node:net';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Connection, PAIRING_MAX_MESSAGE_BYTES } from '@peernet/connection';
import { FakeClock, rejection } from '@peernet/compliance';
import { generateIdentity } from '@peernet/identity';
import { PAIRING_HANDLERS, checkAnswer, parseInviteCode, startJoin } from '@peernet/pairing';
import { DIAGNOSTICS_CHANNELS, PeerNet, type PeerNetOptions } from 'peernet';
import { cleanup, nextEvent, startNode, wrongCode } from './helpers.js';

const udpPort = 40_000 + Math.floor(Math.random() * 20_000);
const onLoopback = (options: Partial<PeerNetOptions> = {}): Promise<PeerNet> =>
  startNode({ discovery: ['udp'], interfaces: ['127.0.0.1'], udpPort, ...options });


afterEach(cleanup);

describe('invite and join', () => {
  it('pairs both sides with the code, a session comes up and a call works', async () => {
    const [inviter, joiner] = await Promise.all([onLoopback(), onLoopback()]);
    inviter.expose('hello', (_args, { peer }) => `hello ${peer.toString().slice(0, 6)}`);
    const invite = await inviter.invite({ label: 'laptop' });
    expect(invite.code).toMatch(/^\d{1,3}-[a-z]+-[a-z]+-[a-z]+$/);
    const joined = await joiner.join(invite.code, { label: 'desk', timeoutMs: 15_000 });
    const paired = await invite.paired;
    expect(joined.peer.equals(inviter.id)).toBe(true);
    expect(paired.peer.equals(joiner.id)).toBe(true);
    expect(paired.label).toBe('laptop');
    expect(joined.sas).toMatch(/^\d{3} \d{3}$/);
    expect(await invite.sas).toBe(joined.sas);
    expect(inviter.listPeers().map((p) => [p.id.toString(), p.label])).toEqual([[joiner.id.toString(), 'laptop']]);
    expect(joiner.listPeers().map((p) => [p.id.toString(), p.label])).toEqual([[inviter.id.toString(), 'desk']]);
    await joiner.waitForPeer(inviter.id, { timeoutMs: 10_000 });
    expect(await joiner.call(inviter.id, 'hello')).toBe(`hello ${joiner.id.toString().slice(0, 6)}`);
  }, 30_000);

  it('accepts the code as a person types it (case, spaces), and pairs with the URI without any code', async () => {
    const [inviter, a, b] = await Promise.all([onLoopback(), onLoopback(), onLoopback()]);
    const first = await inviter.invite();
    await a.join(`  ${first.code.toUpperCase().replaceAll('-', ' ')} `, { timeoutMs: 15_000 });
    expect((await first.paired).peer.equals(a.id)).toBe(true);
    const second = await inviter.invite();
    expect(second.uri).toMatch(/^peernet:\/\/pair\//);
    const joined = await b.join(second.uri, { timeoutMs: 15_000 });
    expect(joined.peer.equals(inviter.id)).toBe(true);
    expect(await second.sas).toBe(joined.sas);
    expect(inviter.listPeers()).toHaveLength(2);
  }, 30_000);

  it('a wrong code fails the join, burns the invite, and pairs nobody; the right code then finds no invite', async () => {
    const [inviter, joiner] = await Promise.all([onLoopback(), onLoopback()]);
    const invite = await inviter.invite();
    const failed = await rejection(joiner.join(wrongCode(invite.code), { timeoutMs: 15_000 }));
    expect(failed.code).toBe('pairing_failed');
    const closed = await rejection(invite.paired);
    expect(closed).toMatchObject({ code: 'invite_closed', reason: 'burned' });
    await expect(invite.sas).rejects.toMatchObject({ code: 'invite_closed' });
    const late = await rejection(joiner.join(invite.code, { timeoutMs: 1_500 }));
    expect(late.code).toBe('inviter_not_found');
    expect(inviter.listPeers()).toEqual([]);
    expect(joiner.listPeers()).toEqual([]);
  }, 30_000);

  it('with attempts: 2, a wrong code leaves one more try', async () => {
    const [inviter, joiner] = await Promise.all([onLoopback(), onLoopback()]);
    const invite = await inviter.invite({ attempts: 2 });
    expect((await rejection(joiner.join(wrongCode(invite.code), { timeoutMs: 15_000 }))).code).toBe('pairing_failed');
    await joiner.join(invite.code, { timeoutMs: 15_000 });
    expect((await invite.paired).peer.equals(joiner.id)).toBe(true);
  }, 30_000);

  it('an invite expires after ttlMs; a join after that finds no invite', async () => {
    const [inviter, joiner] = await Promise.all([onLoopback(), onLoopback()]);
    const invite = await inviter.invite({ ttlMs: 300 });
    expect(await rejection(invite.paired)).toMatchObject({ code: 'invite_closed', reason: 'expired' });
    expect((await rejection(joiner.join(invite.code, { timeoutMs: 1_500 }))).code).toBe('inviter_not_found');
    expect(inviter.listPeers()).toEqual([]);
  }, 30_000);

  it('two invites at once pair two joiners, each with its own label', async () => {
    const [inviter, a, b] = await Promise.all([onLoopback(), onLoopback(), onLoopback()]);
    const [forA, forB] = [await inviter.invite({ label: 'a' }), await inviter.invite({ label: 'b' })];
    expect(parseInviteCode(forA.code).nameplate).not.toBe(parseInviteCode(forB.code).nameplate);
    await Promise.all([a.join(forA.code, { timeoutMs: 15_000 }), b.join(forB.code, { timeoutMs: 15_000 })]);
    expect((await forA.paired).peer.equals(a.id)).toBe(true);
    expect((await forB.paired).peer.equals(b.id)).toBe(true);
    const labels = Object.fromEntries(inviter.listPeers().map((p) => [p.id.toString(), p.label]));
    expect(labels).toEqual({ [a.id.toString()]: 'a', [b.id.toString()]: 'b' });
  }, 30_000);

  it('cancel(), an aborted signal and stop() close an invite, each with its reason', async () => {
    const inviter = await onLoopback();
    const cancelled = await inviter.invite();
    cancelled.cancel();
    cancelled.cancel();
    expect(await rejection(cancelled.paired)).toMatchObject({ code: 'invite_closed', reason: 'cancelled' });
    const controller = new AbortController();
    const aborted = await inviter.invite({ signal: controller.signal });
    controller.abort();
    expect(await rejection(aborted.paired)).toMatchObject({ code: 'invite_closed', reason: 'cancelled' });
    const open = await inviter.invite();
    await inviter.stop();
    expect(await rejection(open.paired)).toMatchObject({ code: 'invite_closed', reason: 'stopped' });
    await expect(inviter.invite()).rejects.toMatchObject({ code: 'not_connected' });
  }, 30_000);

  it('stop() during a join ends it at once with not_connected; a stopped node neither joins nor invites', async () => {
    const joiner = await onLoopback();
    const joining = rejection(joiner.join('473-violet-anchor-orbit', { timeoutMs: 30_000 }));
    const started = performance.now();
    await joiner.stop();
    expect(await joining).toMatchObject({ code: 'not_connected' });
    expect(performance.now() - started).toBeLessThan(5_000);
    await expect(joiner.join('473-violet-anchor-orbit')).rejects.toMatchObject({ code: 'not_connected' });
    await expect(joiner.invite()).rejects.toMatchObject({ code: 'not_connected' });
  });

  it('a joiner whose confirm declines the SAS pairs nobody, and the attempt counts', async () => {
    const [inviter, joiner] = await Promise.all([onLoopback(), onLoopback()]);
    const invite = await inviter.invite();
    let shown = '';
    const declined = joiner.join(invite.code, { timeoutMs: 15_000, confirm: (sas) => ((shown = sas), false) });
    expect((await rejection(declined)).code).toBe('pairing_failed');
    expect(shown).toMatch(/^\d{3} \d{3}$/);
    expect(await rejection(invite.paired)).toMatchObject({ reason: 'burned' });
    expect(inviter.listPeers()).toEqual([]);
    expect(joiner.listPeers()).toEqual([]);
  }, 30_000);

  it('bad codes and options are invalid_argument before anything is sent', async () => {
    const node = await onLoopback();
    for (const code of ['', 'hello', '12-violet-anchor', '12-violet-anchor-notaword', 'peernet://pair/x?n=1&s=2']) {
      await expect(node.join(code)).rejects.toMatchObject({ code: 'invalid_argument' });
    }
    await expect(node.invite({ ttlMs: 0 })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(node.invite({ attempts: 0 })).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  it('at most ten invites are open at once', async () => {
    const node = await onLoopback();
    const invites = await Promise.all(Array.from({ length: 10 }, () => node.invite()));
    expect(new Set(invites.map((i) => parseInviteCode(i.code).nameplate)).size).toBe(10);
    await expect(node.invite()).rejects.toMatchObject({ code: 'invalid_argument' });
    invites[0]!.cancel();
    await expect(node.invite()).resolves.toMatchObject({ code: expect.any(String) });
  });
});

/** A stranger's raw pairing session with `node`: it proves a fresh id and asks for pairing. */
async function strangerSession(node: PeerNet, identity = generateIdentity()): Promise<Connection> {
  const socket: Socket = tcpConnect({ host: '127.0.0.1', port: node.port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const connection = new Connection({
    stream: socket,
    identity,
    trust: { has: () => false },
    initiator: true,
    expectedPeer: node.id,
    pairing: { request: true },
  });
  return connection.ready;
}

describe('strangers and pairing sessions', () => {
  it('without an open invite a pairing session is refused, and not reported as a stranger to pair', async () => {
    const node = await onLoopback();
    const refused: string[] = [];
    node.on('peer:refused', ({ peer }) => refused.push(peer.toString()));
    const joiner = generateIdentity();
    await expect(strangerSession(node, joiner)).rejects.toMatchObject({ code: 'refused_by_peer' });
    // A stranger asking for a session is reported; the one that asked to pair was not.
    const stranger = await startNode();
    await stranger.pair(node.id);
    const reported = nextEvent(node, 'peer:refused');
    await expect(stranger.connect(node.id, { host: '127.0.0.1', port: node.port })).rejects.toMatchObject({ code: 'refused_by_peer' });
    await reported;
    expect(refused).toEqual([stranger.id.toString()]);
  });

  it('a pairing session serves the pairing handlers only: no exposed handler, no stream, small messages', async () => {
    const node = await onLoopback();
    node.expose('secret', () => 'the crown jewels');
    node.exposeStream('files', (stream) => void stream.end());
    await node.invite();
    const session = await strangerSession(node);
    expect(session.purpose).toBe('pairing');
    await expect(session.call('secret')).rejects.toMatchObject({ code: 'no_such_handle' });
    await expect(session.openStream('files')).rejects.toMatchObject({ code: 'no_such_handle' });
    await expect(session.call(PAIRING_HANDLERS.confirm, { v: 1, tag: new Uint8Array(64) })).rejects.toMatchObject({ code: 'bad_request' });
    await expect(session.call(PAIRING_HANDLERS.join, { v: 1, nameplate: 1000, share: null })).rejects.toMatchObject({ code: 'bad_request' });
    // A join that carries more than a pairing message may: the inviter hangs up.
    const big = session.call(PAIRING_HANDLERS.join, { v: 1, pad: new Uint8Array(PAIRING_MAX_MESSAGE_BYTES) });
    await expect(big).rejects.toMatchObject({ code: 'connection_closed' });
    expect(node.listPeers()).toEqual([]);
  });

  it('a pairing session lives 5 s without a join, 1 s after a refused join, 2 min after an answered one', async () => {
    const clock = new FakeClock();
    const node = await startNode({ clock });
    const invite = await node.invite();
    const nameplate = parseInviteCode(invite.code).nameplate;
    const [idle, refused, answered] = [await strangerSession(node), await strangerSession(node), await strangerSession(node)];
    const elsewhere = nameplate === 0 ? 1 : nameplate - 1;
    expect(await refused.call(PAIRING_HANDLERS.join, { v: 1, nameplate: elsewhere, share: null })).toEqual({ v: 1, ok: false, reason: 'no_such_invite' });
    expect(await answered.call(PAIRING_HANDLERS.join, { v: 1, nameplate, share: null })).toMatchObject({ v: 1, ok: true });
    await clock.advance(1_000);
    await refused.closed;
    expect([idle.isOpen, answered.isOpen]).toEqual([true, true]);
    await clock.advance(4_000);
    await idle.closed;
    expect(answered.isOpen).toBe(true);
    await clock.advance(114_000);
    expect(answered.isOpen).toBe(true);
    await clock.advance(1_000);
    await answered.closed;
  });

  it('a stranger hammering an open invite is rate-limited, and never paired', async () => {
    const node = await onLoopback();
    const invite = await node.invite();
    const limited: unknown[] = [];
    const onLimited = (message: unknown): void => void limited.push(message);
    subscribe(DIAGNOSTICS_CHANNELS.rateLimited, onLimited);
    try {
      const identities = Array.from({ length: 30 }, () => generateIdentity());
      const results = await Promise.allSettled(identities.map((identity) => strangerSession(node, identity)));
      const admitted = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ session: r.value, id: identities[i]!.id }] : []));
      // At most four pairing sessions at once, whoever asks.
      expect(admitted.length).toBeGreaterThanOrEqual(1);
      expect(admitted.length).toBeLessThanOrEqual(4);
      expect(results.filter((r) => r.status === 'rejected')).toHaveLength(30 - admitted.length);
      expect(limited.filter((m) => (m as { limit?: string }).limit === 'pairing').length).toBeGreaterThanOrEqual(30 - admitted.length);
      // Each admitted stranger guesses a code: the first guess fails and burns the invite, the others find it gone.
      const nameplate = parseInviteCode(invite.code).nameplate;
      const guess = parseInviteCode(wrongCode(invite.code));
      const outcomes: string[] = [];
      for (const { session, id } of admitted) {
        const { request, state } = startJoin({
          session: { inviter: node.id, joiner: id, sid: session.handshakeHash, nameplate },
          secret: { password: guess.password },
        });
        const answer = await session.call(PAIRING_HANDLERS.join, request);
        outcomes.push(await Promise.resolve().then(() => checkAnswer(state, answer)).then(() => 'paired?', (e: { code: string }) => e.code));
        await session.close();
      }
      expect(outcomes[0]).toBe('pairing_failed');
      for (const outcome of outcomes.slice(1)) expect(['invite_closed', 'inviter_not_found']).toContain(outcome);
      expect(await rejection(invite.paired)).toMatchObject({ code: 'invite_closed', reason: 'burned' });
      expect(node.listPeers()).toEqual([]);
    } finally {
      unsubscribe(DIAGNOSTICS_CHANNELS.rateLimited, onLimited);
    }
  }, 30_000);
});
