import { ristretto255 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { cpaceFinish, cpaceInitiate, cpaceRespond, cpaceStartSymmetric, type CpaceOptions } from '../src/index.js';

// Each run costs a handful of scalar multiplications; 50 runs a property keeps the suite quick.
const runs = { numRuns: Number(process.env.FUZZ_RUNS ?? 50) };

const bytes = (max = 48): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max });
const prs = fc.uint8Array({ minLength: 1, maxLength: 40 });
const scalar = fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((b) => b.some((x, i) => (i === 31 ? x & 0x0f : x) !== 0));
const session = fc.record({ prs, ci: bytes(), sid: bytes(64), adA: bytes(16), adB: bytes(16), ya: scalar, yb: scalar });
type Session = typeof session extends fc.Arbitrary<infer T> ? T : never;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const once = (b: Uint8Array): (() => Uint8Array) => () => b;

/** One initiator-responder run; `responder` overrides what B was given. */
function run(s: Session, responder: Partial<CpaceOptions> = {}): { initiator: string; responder: string } {
  const a = cpaceInitiate({ prs: s.prs, ci: s.ci, sid: s.sid, ad: s.adA, random: once(s.ya) });
  const b = cpaceRespond({ prs: s.prs, ci: s.ci, sid: s.sid, ad: s.adB, random: once(s.yb), ...responder, peerMessage: a.message, peerAd: s.adA });
  return { initiator: hex(cpaceFinish(a.state, { peerMessage: b.message, peerAd: s.adB })), responder: hex(b.isk) };
}

describe('CPace properties', () => {
  it('the same PRS, CI and sid give both sides the same 64-byte ISK', () => {
    fc.assert(
      fc.property(session, (s) => {
        const { initiator, responder } = run(s);
        expect(initiator).toBe(responder);
        expect(initiator).toHaveLength(128);
      }),
      runs,
    );
  });

  it('the same holds in the symmetric setting, whichever side finishes first', () => {
    fc.assert(
      fc.property(session, fc.boolean(), (s, aFirst) => {
        const a = cpaceStartSymmetric({ prs: s.prs, ci: s.ci, sid: s.sid, ad: s.adA, random: once(s.ya) });
        const b = cpaceStartSymmetric({ prs: s.prs, ci: s.ci, sid: s.sid, ad: s.adB, random: once(s.yb) });
        const finishA = (): string => hex(cpaceFinish(a.state, { peerMessage: b.message, peerAd: s.adB }));
        const finishB = (): string => hex(cpaceFinish(b.state, { peerMessage: a.message, peerAd: s.adA }));
        const [x, y] = aFirst ? [finishA(), finishB()] : [finishB(), finishA()];
        expect(x).toBe(y);
      }),
      runs,
    );
  });

  it('a different PRS gives different keys', () => {
    fc.assert(
      fc.property(session, prs, (s, other) => {
        fc.pre(hex(other) !== hex(s.prs));
        const { initiator, responder } = run(s, { prs: other });
        expect(initiator).not.toBe(responder);
      }),
      runs,
    );
  });

  it('a different sid (another Noise session) gives different keys', () => {
    fc.assert(
      fc.property(session, bytes(64), (s, other) => {
        fc.pre(hex(other) !== hex(s.sid));
        const { initiator, responder } = run(s, { sid: other });
        expect(initiator).not.toBe(responder);
      }),
      runs,
    );
  });

  it('a different CI gives different keys', () => {
    fc.assert(
      fc.property(session, bytes(), (s, other) => {
        fc.pre(hex(other) !== hex(s.ci));
        const { initiator, responder } = run(s, { ci: other });
        expect(initiator).not.toBe(responder);
      }),
      runs,
    );
  });

  it('associated data changed in transit gives different keys', () => {
    fc.assert(
      fc.property(session, bytes(16), (s, forged) => {
        fc.pre(hex(forged) !== hex(s.adA));
        const a = cpaceInitiate({ prs: s.prs, ci: s.ci, sid: s.sid, ad: s.adA, random: once(s.ya) });
        const b = cpaceRespond({ prs: s.prs, ci: s.ci, sid: s.sid, ad: s.adB, random: once(s.yb), peerMessage: a.message, peerAd: forged });
        expect(hex(cpaceFinish(a.state, { peerMessage: b.message, peerAd: s.adB }))).not.toBe(hex(b.isk));
      }),
      runs,
    );
  });

  it('a share replayed from an earlier run yields a key that matches no key of that run', () => {
    fc.assert(
      fc.property(session, bytes(64), scalar, (s, laterSid, later) => {
        // Run 1, honest, observed by an attacker who replays its shares into run 2 (same code, a later session).
        const a1 = cpaceInitiate({ prs: s.prs, ci: s.ci, sid: s.sid, ad: s.adA, random: once(s.ya) });
        const b1 = cpaceRespond({ prs: s.prs, ci: s.ci, sid: s.sid, ad: s.adB, random: once(s.yb), peerMessage: a1.message, peerAd: s.adA });
        const isk1 = hex(b1.isk);
        const a2 = cpaceInitiate({ prs: s.prs, ci: s.ci, sid: laterSid, ad: s.adA, random: once(later) });
        const replayedToInitiator = hex(cpaceFinish(a2.state, { peerMessage: b1.message, peerAd: s.adB }));
        const b2 = cpaceRespond({ prs: s.prs, ci: s.ci, sid: laterSid, ad: s.adB, random: once(later), peerMessage: a1.message, peerAd: s.adA });
        for (const key of [replayedToInitiator, hex(b2.isk)]) expect(key).not.toBe(isk1);
        expect(replayedToInitiator).not.toBe(hex(b2.isk));
      }),
      runs,
    );
  });

  it('a peer share is accepted exactly when it is a canonical ristretto255 encoding other than the identity', () => {
    const decodes = (b: Uint8Array): boolean => {
      try {
        return !ristretto255.Point.fromBytes(b).is0();
      } catch {
        return false;
      }
    };
    const candidate = fc.oneof(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => ristretto255.Point.BASE.multiply(BigInt(`0x${hex(b)}`) % (2n ** 252n) || 1n).toBytes()),
      fc.uint8Array({ maxLength: 64 }),
      fc.constant(new Uint8Array(32)),
    );
    fc.assert(
      fc.property(session, candidate, (s, peerMessage) => {
        const { state } = cpaceInitiate({ prs: s.prs, ci: s.ci, sid: s.sid, random: once(s.ya) });
        const finish = (): Uint8Array => cpaceFinish(state, { peerMessage });
        if (decodes(peerMessage)) expect(finish()).toHaveLength(64);
        else expect(finish).toThrow(expect.objectContaining({ code: 'protocol_error' }));
      }),
      runs,
    );
  });

  it('odd (negative) and out-of-range encodings are always refused, by both roles', () => {
    const odd = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Uint8Array.from(b, (x, i) => (i === 0 ? x | 1 : x)));
    const high = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Uint8Array.from(b, (x, i) => (i === 31 ? x | 0x80 : x)));
    fc.assert(
      fc.property(session, fc.oneof(odd, high), (s, peerMessage) => {
        const { state } = cpaceInitiate({ prs: s.prs, ci: s.ci, sid: s.sid, random: once(s.ya) });
        expect(() => cpaceFinish(state, { peerMessage })).toThrow(expect.objectContaining({ code: 'protocol_error' }));
        expect(() => cpaceRespond({ prs: s.prs, ci: s.ci, sid: s.sid, peerMessage })).toThrow(expect.objectContaining({ code: 'protocol_error' }));
      }),
      runs,
    );
  });
});
