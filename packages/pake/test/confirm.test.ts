import { CPACE_TAG_LENGTH, cpaceFinish, cpaceInitiate, cpaceKeyConfirmation, cpaceRespond } from '../src/index.js';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

function run(codeA: string, codeB: string, sid = utf8('session one')) {
  const ci = utf8('a|b');
  const a = cpaceInitiate({ prs: utf8(codeA), ci, sid, ad: utf8('ADa') });
  const b = cpaceRespond({ prs: utf8(codeB), ci, sid, ad: utf8('ADb'), peerMessage: a.message, peerAd: utf8('ADa') });
  const iskA = cpaceFinish(a.state, { peerMessage: b.message, peerAd: utf8('ADb') });
  return { a, b, iskA, iskB: b.isk, sid };
}

describe('cpaceKeyConfirmation', () => {
  it('accepts the peer tag over its own share when both used the same code', () => {
    const { a, b, iskA, iskB, sid } = run('7-violet-anchor-orbit', '7-violet-anchor-orbit');
    const confirmA = cpaceKeyConfirmation({ sid, isk: iskA });
    const confirmB = cpaceKeyConfirmation({ sid, isk: iskB });
    const ta = confirmA.tag(a.message, utf8('ADa'));
    const tb = confirmB.tag(b.message, utf8('ADb'));
    expect(ta).toHaveLength(CPACE_TAG_LENGTH);
    expect(confirmB.verify(ta, a.message, utf8('ADa'))).toBe(true);
    expect(confirmA.verify(tb, b.message, utf8('ADb'))).toBe(true);
    // A tag is bound to the message it covers: A's tag does not pass as B's.
    expect(confirmA.verify(ta, b.message, utf8('ADb'))).toBe(false);
    expect(confirmB.verify(ta, a.message, utf8('other'))).toBe(false);
  });

  it('refuses the tags of a run with a different code', () => {
    const { a, b, iskA, iskB, sid } = run('7-violet-anchor-orbit', '7-violet-anchor-otter');
    const confirmA = cpaceKeyConfirmation({ sid, isk: iskA });
    const confirmB = cpaceKeyConfirmation({ sid, isk: iskB });
    expect(confirmB.verify(confirmA.tag(a.message, utf8('ADa')), a.message, utf8('ADa'))).toBe(false);
    expect(confirmA.verify(confirmB.tag(b.message, utf8('ADb')), b.message, utf8('ADb'))).toBe(false);
  });

  it('keys the tag with the session id too (same ISK, other sid: other tag)', () => {
    const { a, iskA, sid } = run('x', 'x');
    const tag = cpaceKeyConfirmation({ sid, isk: iskA }).tag(a.message);
    expect(cpaceKeyConfirmation({ sid: utf8('session two'), isk: iskA }).verify(tag, a.message)).toBe(false);
  });

  it('rejects malformed tags and inputs', () => {
    const { a, iskA, sid } = run('x', 'x');
    const confirm = cpaceKeyConfirmation({ sid, isk: iskA });
    const tag = confirm.tag(a.message);
    expect(confirm.verify(tag.subarray(0, 32), a.message)).toBe(false);
    expect(confirm.verify('tag' as unknown as Uint8Array, a.message)).toBe(false);
    expect(() => cpaceKeyConfirmation({ sid, isk: new Uint8Array(32) })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });
});
