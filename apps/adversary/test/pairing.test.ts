// Pairing by invite (docs/pairing.md) under attack. A stranger may reach a
// node only while an invite is open, only in a pairing session (the two
// pairing handlers, small envelopes, no streams), a few at a time, and every
// wrong guess of the code counts against the invite. Each case gets a fresh
// node (the admission rate limit and the session cap are per node) and checks
// what ran there: which peers are paired, how the invite ended, and that no
// application handler ran for a stranger.
import { PAIRING_MAX_MESSAGE_BYTES } from '@peernet/connection';
import { encodeEnvelope, type Envelope } from '@peernet/frame';
import { generateIdentity, type Identity } from '@peernet/identity';
import {
  INVITE_WORDS, PAIRING_HANDLERS, checkAnswer, checkConfirmed, parseInviteCode, startJoin, type JoinState,
} from '@peernet/pairing';
import { RawPeer, envelopeBytes, replay, type RawSession, type TargetInvite } from '../src/index.js';
import { arena, eventually, tcpHandles, type Arena } from './harness.js';

// Mirrors of the inviter's limits (packages/pairing/src/inviter.ts), which are not exported.
const MAX_PAIRING_SESSIONS = 4;
const JOIN_WITHIN_MS = 5_000;

let a: Arena;

beforeEach(async () => {
  a = await arena({ handshakeTimeoutMs: 3_000 });
}, 30_000);

afterEach(async () => {
  const final = await a?.stop();
  // Invites and pairing sessions are released by stop(), like everything else.
  expect(final?.resources.TCPSocketWrap ?? 0).toBe(0);
  expect(final?.resources.TCPServerWrap ?? 0).toBe(0);
  expect(final?.resources.Timeout ?? 0).toBe(0);
}, 30_000);

const address = (): { port: number } => ({ port: a.target.port });
const call = (id: number, name: string, args: unknown = 'x'): Envelope => ({ type: 1, id, name, args: args as never });
const send = (name: string, args: unknown): Envelope => ({ type: 4, name, args: args as never });

/** Connects and runs a handshake that asks for a pairing session (whether it is admitted shows in `accepted()`). */
async function askToPair(
  identity: Identity,
  pipelined?: (session: RawSession) => Uint8Array,
): Promise<{ peer: RawPeer; session: RawSession }> {
  const peer = await RawPeer.connect(address());
  const session = await peer.handshake({ identity, pairing: true, ...(pipelined ? { pipelined } : {}) });
  return { peer, session };
}

/** A join request for `code` (right or wrong) from `joiner`, bound to `session` as a real joiner binds it. */
function joinFor(session: RawSession, joiner: Identity, code: string): { request: unknown; state: JoinState } {
  const parsed = parseInviteCode(code);
  return startJoin({
    session: { inviter: a.target.id, joiner: joiner.id, sid: session.handshakeHash, nameplate: parsed.nameplate },
    secret: { password: parsed.password },
  });
}

/** The same nameplate with three other words: a wrong guess that reaches the invite. */
function wrongCode(code: string): string {
  const parsed = parseInviteCode(code);
  const other = parsed.words.map((word) => INVITE_WORDS[(INVITE_WORDS.indexOf(word) + 1) % INVITE_WORDS.length]);
  return [parsed.nameplate, ...other].join('-');
}

/** Reads envelopes from the node until `count` arrived. */
async function collect(session: RawSession, count: number, timeoutMs = 10_000): Promise<Envelope[]> {
  const out: Envelope[] = [];
  while (out.length < count) out.push(...(await session.envelopes(timeoutMs)));
  return out;
}

/** Calls `name` on the session and returns the node's answer (a reply or an error envelope). */
async function callOn(peer: RawPeer, session: RawSession, id: number, name: string, args: unknown): Promise<Envelope> {
  peer.write(session.sealEnvelopes([call(id, name, args)]));
  const [answer, ...rest] = await collect(session, 1);
  expect(rest).toEqual([]);
  expect(answer).toMatchObject({ id });
  return answer as Envelope;
}

/** The result of a reply envelope (fails the test on an error envelope). */
function resultOf(envelope: Envelope): unknown {
  if (envelope.type !== 2) throw new Error(`expected a reply, got ${JSON.stringify(envelope)}`);
  return envelope.result;
}

/** Every frame the node sends until it closes the connection. */
async function framesUntilClosed(peer: RawPeer, timeoutMs = 10_000): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  for (;;) {
    try {
      frames.push(await peer.frame(timeoutMs));
    } catch (error) {
      if (peer.ended) return frames;
      throw error;
    }
  }
}

/** What `fn` throws. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

/** A complete, correct join on an admitted pairing session: the SAS of the run. */
async function joinRight(peer: RawPeer, session: RawSession, joiner: Identity, code: string): Promise<string> {
  const { request, state } = joinFor(session, joiner, code);
  const { confirmation, sas } = checkAnswer(state, resultOf(await callOn(peer, session, 1, PAIRING_HANDLERS.join, request)));
  checkConfirmed(resultOf(await callOn(peer, session, 2, PAIRING_HANDLERS.confirm, confirmation)));
  return sas;
}

/** The node's paired peers are the good peer and `extra`, nothing else. */
async function expectPaired(extra: Identity[] = []): Promise<void> {
  const expected = [a.good.id.toString(), ...extra.map((identity) => identity.id.toString())].sort();
  expect((await a.target.peers()).sort()).toEqual(expected);
}

/** No handler ran for anyone but the good peer (and `allowed`); the node is up and serves the good peer. */
async function expectNothingRan(allowed: Identity[] = []): Promise<void> {
  expect(a.target.alive).toBe(true);
  await expect(a.goodCall()).resolves.toBe('still here');
  const stats = await a.target.stats();
  const others = new Set([a.good.id.toString(), ...allowed.map((identity) => identity.id.toString())]);
  expect(Object.keys(stats.runs).filter((peer) => !others.has(peer))).toEqual([]);
  expect(Object.keys(stats.received).filter((peer) => !others.has(peer))).toEqual([]);
}

describe('guessing the code', () => {
  it('a wrong guess fails the proof, and once the stranger hangs up the invite is burned: nobody is admitted after it', async () => {
    const invite = await a.target.invite({ label: 'joiner' });
    const guesser = generateIdentity();
    const { peer, session } = await askToPair(guesser);
    expect(await peer.accepted()).toBe(true);
    const { request, state } = joinFor(session, guesser, wrongCode(invite.code));
    const answer = resultOf(await callOn(peer, session, 1, PAIRING_HANDLERS.join, request));
    // The inviter answers every well-formed guess with its proof; the proof does not match a wrong code.
    expect(answer).toMatchObject({ v: 1, ok: true });
    expect(thrown(() => checkAnswer(state, answer))).toMatchObject({ code: 'pairing_failed' });
    // The attempt is running until the guesser confirms or hangs up.
    expect(await a.target.inviteOutcome(invite.handle)).toEqual({ state: 'open' });
    peer.destroy();
    expect(await a.target.inviteOutcome(invite.handle, 5_000)).toEqual({ state: 'closed', code: 'invite_closed', reason: 'burned' });

    // A second stranger, even one with a guess and a call pipelined: refused after message 3.
    const second = generateIdentity();
    const late = await askToPair(second, (s) =>
      s.sealEnvelopes([call(1, PAIRING_HANDLERS.join, joinFor(s, second, invite.code).request), call(2, 'echo')]),
    );
    expect(await late.peer.accepted()).toBe(false);
    await expectPaired();
    await expectNothingRan();
  });

  it('with attempts: 3, three wrong guesses burn it (two in turn, one with a wrong confirmation, two at once): never more than 3 proofs', async () => {
    const invite = await a.target.invite({ attempts: 3 });
    const answers: unknown[] = [];
    // Admitted first, then guessing: a node whose invite has no attempt left admits nobody new.
    const admitted = async (): Promise<{ guesser: Identity; peer: RawPeer; session: RawSession }> => {
      const guesser = generateIdentity();
      const { peer, session } = await askToPair(guesser);
      expect(await peer.accepted()).toBe(true);
      return { guesser, peer, session };
    };
    const guess = async ({ guesser, peer, session }: Awaited<ReturnType<typeof admitted>>) => {
      const { request, state } = joinFor(session, guesser, wrongCode(invite.code));
      const answer = resultOf(await callOn(peer, session, 1, PAIRING_HANDLERS.join, request));
      answers.push(answer);
      return { peer, session, failure: thrown(() => checkAnswer(state, answer)) };
    };
    for (let i = 0; i < 2; i++) {
      const { peer, session, failure } = await guess(await admitted());
      expect(failure).toMatchObject({ code: 'pairing_failed' });
      if (i === 1) {
        // The second one does not hang up: it confirms with a made-up tag, and is told so.
        const result = resultOf(await callOn(peer, session, 2, PAIRING_HANDLERS.confirm, { v: 1, tag: new Uint8Array(64).fill(7) }));
        expect(result).toEqual({ v: 1, ok: false, reason: 'mismatch' });
        expect(thrown(() => checkConfirmed(result))).toMatchObject({ code: 'pairing_failed' });
      }
      peer.destroy();
      await peer.closed;
      // One attempt fewer, still open.
      expect(await a.target.inviteOutcome(invite.handle)).toEqual({ state: 'open' });
    }
    // The last attempt and one more, both before either hangs up: the extra one gets no proof.
    const sessions = await Promise.all([admitted(), admitted()]);
    const both = await Promise.all(sessions.map(guess));
    const codes = both.map(({ failure }) => (failure as { code: string }).code).sort();
    expect(codes).toEqual(['invite_closed', 'pairing_failed']);
    expect(both.map(({ failure }) => (failure as { reason?: string }).reason)).toContain('burned');
    expect(answers.filter((answer) => (answer as { ok?: unknown }).ok === true)).toHaveLength(3);
    expect(answers.filter((answer) => (answer as { ok?: unknown }).ok === false)).toEqual([{ v: 1, ok: false, reason: 'burned' }]);
    expect(await a.target.inviteOutcome(invite.handle)).toEqual({ state: 'open' }); // the last attempt still runs
    for (const { peer } of both) peer.destroy();
    expect(await a.target.inviteOutcome(invite.handle, 5_000)).toEqual({ state: 'closed', code: 'invite_closed', reason: 'burned' });
    const late = await askToPair(generateIdentity());
    expect(await late.peer.accepted()).toBe(false);
    await expectPaired();
    await expectNothingRan();
  });
});

describe('a join without an open invite', () => {
  it('asking to pair with no invite open, a call and a join pipelined: closed after message 3, nothing runs', async () => {
    const stranger = generateIdentity();
    const nowhere = `7-${INVITE_WORDS[1]}-${INVITE_WORDS[2]}-${INVITE_WORDS[3]}`;
    const { peer } = await askToPair(stranger, (s) =>
      s.sealEnvelopes([call(1, 'echo'), send('record', 'sneaked in'), call(2, PAIRING_HANDLERS.join, joinFor(s, stranger, nowhere).request)]),
    );
    expect(await peer.accepted()).toBe(false);
    await peer.closed;
    await expectPaired();
    await expectNothingRan();
  });

  it('after the invite was cancelled, even with its right code: closed after message 3, nothing runs', async () => {
    const invite = await a.target.invite();
    await a.target.cancelInvite(invite.handle);
    expect(await a.target.inviteOutcome(invite.handle)).toEqual({ state: 'closed', code: 'invite_closed', reason: 'cancelled' });
    const stranger = generateIdentity();
    const { peer } = await askToPair(stranger, (s) =>
      s.sealEnvelopes([call(1, 'echo'), call(2, PAIRING_HANDLERS.join, joinFor(s, stranger, invite.code).request)]),
    );
    expect(await peer.accepted()).toBe(false);
    await peer.closed;
    // Control: the refusals were for want of an invite; with one open, the same stranger is admitted.
    await a.target.invite();
    const control = await askToPair(stranger);
    expect(await control.peer.accepted()).toBe(true);
    control.peer.destroy();
    await expectPaired();
    await expectNothingRan();
  });
});

describe('a pairing session is not a session', () => {
  it('application calls, sends and streams are refused without running; an envelope over 4096 bytes closes it', async () => {
    const invite = await a.target.invite();
    // Control: a paired peer's plain session reaches `echo` and the stream handler.
    const trusted = generateIdentity();
    await a.target.pair(trusted.id, 'trusted');
    const plain = await RawPeer.connect(address());
    const plainSession = await plain.handshake({ identity: trusted });
    expect(await plain.accepted()).toBe(true);
    plain.write(plainSession.sealEnvelopes([call(1, 'echo', 'hi'), { type: 8, stream: 1, name: 'stream-echo', window: 65_536 }]));
    const plainAnswers = await collect(plainSession, 2);
    expect(plainAnswers).toContainEqual({ type: 2, id: 1, result: 'hi' });
    expect(plainAnswers).toContainEqual(expect.objectContaining({ type: 9, stream: 1 }));
    plain.destroy();

    const stranger = generateIdentity();
    const { peer, session } = await askToPair(stranger);
    expect(await peer.accepted()).toBe(true);
    peer.write(
      session.sealEnvelopes([
        call(1, 'echo'),
        call(2, 'admin'),
        send('record', 'sneaked in'),
        { type: 8, stream: 1, name: 'stream-echo', window: 65_536 },
      ]),
    );
    const answers = await collect(session, 3);
    expect(answers).toContainEqual(expect.objectContaining({ type: 3, id: 1, code: 'no_such_handle' }));
    expect(answers).toContainEqual(expect.objectContaining({ type: 3, id: 2, code: 'no_such_handle' }));
    expect(answers).toContainEqual(expect.objectContaining({ type: 13, stream: 1, code: 'no_such_handle' }));
    expect(answers).toHaveLength(3);

    // Even a paired peer that asks for a pairing session gets only pairing there.
    const pairedAsking = await askToPair(trusted);
    expect(await pairedAsking.peer.accepted()).toBe(true);
    expect(await callOn(pairedAsking.peer, pairedAsking.session, 1, 'echo', 'hi')).toMatchObject({ type: 3, code: 'no_such_handle' });
    pairedAsking.peer.destroy();

    // An envelope of exactly PAIRING_MAX_MESSAGE_BYTES is read (and refused by name); one byte more closes the session.
    const sized = (bytes: number, id: number): Uint8Array => {
      const overhead = encodeEnvelope(call(id, 'echo', new Uint8Array(1_000))).length - 1_000;
      const body = encodeEnvelope(call(id, 'echo', new Uint8Array(bytes - overhead)));
      expect(body.length).toBe(bytes);
      return envelopeBytes(body);
    };
    peer.write(session.sealStream(sized(PAIRING_MAX_MESSAGE_BYTES, 3)));
    expect(await collect(session, 1)).toEqual([expect.objectContaining({ type: 3, id: 3, code: 'no_such_handle' })]);
    peer.write(session.sealStream(sized(PAIRING_MAX_MESSAGE_BYTES + 1, 4)));
    await peer.closedByNode(5_000);

    // None of it touched the invite: no join was made.
    expect(await a.target.inviteOutcome(invite.handle)).toEqual({ state: 'open' });
    await expectPaired([trusted]);
    await expectNothingRan([trusted]);
    expect((await a.target.stats()).runs[trusted.id.toString()]).toEqual({ echo: 1, 'stream-echo': 1 });
  });
});

describe('replayed pairing sessions', () => {
  it('a recorded wrong guess and a recorded successful join, replayed with a new invite open: refused at the handshake', async () => {
    const stranger = generateIdentity();
    // Recorded: a wrong guess, which burns the first invite.
    const first = await a.target.invite();
    const guessing = await askToPair(stranger);
    expect(await guessing.peer.accepted()).toBe(true);
    const wrong = joinFor(guessing.session, stranger, wrongCode(first.code));
    expect(resultOf(await callOn(guessing.peer, guessing.session, 1, PAIRING_HANDLERS.join, wrong.request))).toMatchObject({ ok: true });
    guessing.peer.destroy();
    expect(await a.target.inviteOutcome(first.handle, 5_000)).toMatchObject({ state: 'closed', reason: 'burned' });
    // Recorded: a join with the right code, which pairs the stranger; then the node forgets it again.
    const second = await a.target.invite({ label: 'joined once' });
    const joining = await askToPair(stranger);
    expect(await joining.peer.accepted()).toBe(true);
    const sas = await joinRight(joining.peer, joining.session, stranger, second.code);
    joining.peer.destroy();
    expect(await a.target.inviteOutcome(second.handle, 5_000)).toEqual({
      state: 'paired', peer: stranger.id.toString(), label: 'joined once', sas,
    });
    await expectPaired([stranger]);
    await expect(a.target.request({ op: 'unpair', peer: stranger.id.toString() })).resolves.toBe(true);
    await expectPaired();

    const third: TargetInvite = await a.target.invite();
    for (const recorded of [guessing.peer.written, joining.peer.written]) {
      expect(recorded.length).toBeGreaterThanOrEqual(3); // message 1, message 3, the calls
      const again = await replay(address(), recorded);
      // The node answers message 1 with a fresh ephemeral key; the recorded message 3 does not decrypt
      // under it, so the node closes before any transport message. (Its message 2 may be lost to the
      // reset: the node hangs up with the replayed calls unread.)
      const frames = await framesUntilClosed(again);
      expect(frames.length).toBeLessThanOrEqual(1);
    }
    await expectPaired();
    // The replays cost the open invite nothing: it is open, and its one attempt still pairs the real joiner.
    expect(await a.target.inviteOutcome(third.handle)).toEqual({ state: 'open' });
    const real = await askToPair(stranger);
    expect(await real.peer.accepted()).toBe(true);
    await joinRight(real.peer, real.session, stranger, third.code);
    real.peer.destroy();
    expect(await a.target.inviteOutcome(third.handle, 5_000)).toMatchObject({ state: 'paired', peer: stranger.id.toString() });
    await expectNothingRan();
  });
});

describe('a flood of idle pairing sessions', () => {
  it(`20 strangers at once: at most ${MAX_PAIRING_SESSIONS} admitted, closed unless they join within 5 s; a real join succeeds after`, async () => {
    const invite = await a.target.invite();
    const strangers = Array.from({ length: 20 }, () => generateIdentity());
    const peers = await Promise.all(strangers.map(() => RawPeer.connect(address())));
    await Promise.all(peers.map((peer, i) => peer.handshake({ identity: strangers[i] as Identity, pairing: true })));
    const startedAt = Date.now();
    const verdicts = await Promise.all(peers.map((peer) => peer.accepted()));
    const admitted = peers.filter((_, i) => verdicts[i]);
    const refused = peers.filter((_, i) => !verdicts[i]);
    expect(admitted.length).toBeGreaterThanOrEqual(1);
    expect(admitted.length).toBeLessThanOrEqual(MAX_PAIRING_SESSIONS);
    await Promise.all(refused.map((peer) => peer.closedByNode(5_000)));
    // The admitted ones say nothing: the node closes each when its join does not come.
    await Promise.all(admitted.map((peer) => peer.closedByNode(JOIN_WITHIN_MS + 3_000)));
    const idleFor = Date.now() - startedAt;
    expect(idleFor).toBeGreaterThanOrEqual(JOIN_WITHIN_MS - 1_000);
    // The node holds its listener and the good peer's session, nothing of the 20.
    await eventually(() => a.target.stats(), (s) => tcpHandles(s) === 2, 5_000);
    // The invite was never touched.
    expect(await a.target.inviteOutcome(invite.handle)).toEqual({ state: 'open' });

    // A real joiner now: a pairing session, the right code, the proofs both ways; the node pairs it.
    const joiner = generateIdentity();
    const { peer, session } = await askToPair(joiner);
    expect(await peer.accepted()).toBe(true);
    const sas = await joinRight(peer, session, joiner, invite.code);
    peer.destroy();
    expect(await a.target.inviteOutcome(invite.handle, 5_000)).toEqual({ state: 'paired', peer: joiner.id.toString(), sas });
    await expectPaired([joiner]);
    // Paired for real: its plain session reaches the application.
    const plain = await RawPeer.connect(address());
    const plainSession = await plain.handshake({ identity: joiner });
    expect(await plain.accepted()).toBe(true);
    expect(await callOn(plain, plainSession, 1, 'echo', 'joined')).toEqual({ type: 2, id: 1, result: 'joined' });
    plain.destroy();
    await expectNothingRan([joiner]);
    const stats = await a.target.stats();
    expect(stats.runs[joiner.id.toString()]).toEqual({ echo: 1 });
    expect(tcpHandles(stats)).toBeLessThanOrEqual(3);
  }, 30_000);
});
