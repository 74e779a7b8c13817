import fc from 'fast-check';
import { PeerId } from '@peernet/interface';
import {
  answerJoin, checkAnswer, checkConfirmed, confirmationResult, createInviteCode, readJoinRequest, refuseJoin, startJoin,
  type PairingSecret, type PairingSession,
} from '../src/index.js';

const idOf = (byte: number): PeerId => PeerId.fromBytes(new Uint8Array(32).fill(byte));
const inviter = idOf(1);
const joiner = idOf(2);
const sid = (byte: number): Uint8Array => new Uint8Array(32).fill(byte);
const session = (overrides: Partial<PairingSession> = {}): PairingSession => ({ inviter, joiner, sid: sid(7), nameplate: 42, ...overrides });
const password = (text: string): PairingSecret => ({ password: new TextEncoder().encode(text) });

/** One whole run: the joiner's view in `joinerSession`, the inviter's in `inviterSession`. */
function run(options: {
  joinerSecret: PairingSecret;
  inviterSecret: PairingSecret;
  joinerSession?: PairingSession;
  inviterSession?: PairingSession;
}) {
  const { request, state } = startJoin({ session: options.joinerSession ?? session(), secret: options.joinerSecret });
  const answer = answerJoin({ session: options.inviterSession ?? session(), request: readJoinRequest(request), secret: options.inviterSecret });
  return { request, state, answer };
}

const caught = (f: () => unknown): { code?: string } => {
  try {
    f();
  } catch (error) {
    return error as { code?: string };
  }
  throw new Error('expected a throw');
};

describe('the pairing exchange', () => {
  it('with the same code both sides confirm each other and show the same SAS', () => {
    const { state, answer } = run({ joinerSecret: password('42-violet-anchor-orbit'), inviterSecret: password('42-violet-anchor-orbit') });
    const { confirmation, sas } = checkAnswer(state, answer.reply);
    expect(answer.verifyConfirmation(confirmation)).toBe(true);
    expect(sas).toBe(answer.sas);
    expect(sas).toMatch(/^\d{3} \d{3}$/);
    expect(() => checkConfirmed(confirmationResult('ok'))).not.toThrow();
    expect(caught(() => checkConfirmed(confirmationResult('mismatch'))).code).toBe('pairing_failed');
    expect(caught(() => checkConfirmed(confirmationResult('closed')))).toMatchObject({ code: 'invite_closed' });
  });

  it('property: same code pairs, a different code is refused on both sides', () => {
    const random = fc.uint8Array({ minLength: 3, maxLength: 3 });
    fc.assert(
      fc.property(random, random, fc.integer({ min: 0, max: 9 }), (a, b, slot) => {
        const codeA = createInviteCode({ inviter, slot, random: (n) => a.slice(0, n) });
        const codeB = createInviteCode({ inviter, slot, random: (n) => b.slice(0, n) });
        const { state, answer } = run({ joinerSecret: { password: codeA.password }, inviterSecret: { password: codeB.password } });
        if (codeA.text === codeB.text) {
          const { confirmation, sas } = checkAnswer(state, answer.reply);
          return answer.verifyConfirmation(confirmation) && sas === answer.sas;
        }
        // The joiner sees the inviter's proof fail; a forged confirmation fails the inviter's check.
        return caught(() => checkAnswer(state, answer.reply)).code === 'pairing_failed' && !answer.verifyConfirmation({ v: 1, tag: new Uint8Array(64) });
      }),
      { numRuns: 40 },
    );
  });

  it('binds the run to its Noise session: a run relayed between two sessions fails', () => {
    // A relay in the middle has one Noise session with each side: their handshake hashes differ.
    const { state, answer } = run({
      joinerSecret: password('x'), inviterSecret: password('x'),
      joinerSession: session({ sid: sid(1) }), inviterSession: session({ sid: sid(2) }),
    });
    expect(caught(() => checkAnswer(state, answer.reply)).code).toBe('pairing_failed');
  });

  it('a recorded run replayed into another session does not confirm', () => {
    const code = password('42-violet-anchor-orbit');
    const first = run({ joinerSecret: code, inviterSecret: code, joinerSession: session({ sid: sid(1) }), inviterSession: session({ sid: sid(1) }) });
    const recorded = checkAnswer(first.state, first.answer.reply).confirmation;
    // The attacker replays the joiner's request and its confirmation in a new session of its own.
    const replayed = answerJoin({ session: session({ sid: sid(3) }), request: readJoinRequest(first.request), secret: code });
    expect(replayed.verifyConfirmation(recorded)).toBe(false);
    // Or the inviter's recorded answer, to a joiner in a new session.
    const fresh = startJoin({ session: session({ sid: sid(4) }), secret: code });
    expect(caught(() => checkAnswer(fresh.state, first.answer.reply)).code).toBe('pairing_failed');
  });

  it('binds the run to both ids and the nameplate', () => {
    for (const inviterSession of [session({ joiner: idOf(9) }), session({ inviter: idOf(9) }), session({ nameplate: 43 })]) {
      const { state, answer } = run({ joinerSecret: password('x'), inviterSecret: password('x'), inviterSession });
      expect(caught(() => checkAnswer(state, answer.reply)).code).toBe('pairing_failed');
    }
  });

  it('with a URI secret: no PAKE, the same confirmations; a wrong secret fails', () => {
    const secret = { secret: new Uint8Array(16).fill(5) };
    const ok = run({ joinerSecret: secret, inviterSecret: secret });
    expect(ok.request).toMatchObject({ share: null });
    const { confirmation, sas } = checkAnswer(ok.state, ok.answer.reply);
    expect(ok.answer.verifyConfirmation(confirmation)).toBe(true);
    expect(sas).toBe(ok.answer.sas);
    const wrong = run({ joinerSecret: { secret: new Uint8Array(16).fill(6) }, inviterSecret: secret });
    expect(caught(() => checkAnswer(wrong.state, wrong.answer.reply)).code).toBe('pairing_failed');
  });

  it('reads requests strictly (bad_request) and answers strictly (protocol_error)', () => {
    for (const bad of [null, 'x', [1], { v: 2, nameplate: 1, share: null }, { v: 1, nameplate: -1, share: null }, { v: 1, nameplate: 1.5, share: null },
      { v: 1, nameplate: 1, share: new Uint8Array(31) }, { v: 1, nameplate: 1 }]) {
      expect(caught(() => readJoinRequest(bad)).code).toBe('bad_request');
    }
    const { state } = startJoin({ session: session(), secret: password('x') });
    for (const bad of [null, { v: 1 }, { v: 1, ok: true, share: new Uint8Array(32), tag: new Uint8Array(63) }, { v: 1, ok: false, reason: 'nope' }]) {
      expect(caught(() => checkAnswer(state, bad)).code).toBe('protocol_error');
    }
    // An invalid point from the inviter is its fault, not a wrong code.
    expect(caught(() => checkAnswer(state, { v: 1, ok: true, share: new Uint8Array(32).fill(255), tag: new Uint8Array(64) })).code).toBe('protocol_error');
    expect(caught(() => checkAnswer(state, refuseJoin('no_such_invite'))).code).toBe('inviter_not_found');
    expect(caught(() => checkAnswer(state, refuseJoin('expired')))).toMatchObject({ code: 'invite_closed', reason: 'expired' });
    expect(caught(() => checkAnswer(state, refuseJoin('burned')))).toMatchObject({ code: 'invite_closed', reason: 'burned' });
  });
});
