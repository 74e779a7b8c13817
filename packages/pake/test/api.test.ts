import { InvalidArgumentError, PeerNetError, ProtocolError } from '@peernet/interface';
import {
  CPACE_ISK_LENGTH,
  CPACE_MESSAGE_LENGTH,
  CPACE_SUITE,
  cpaceFinish,
  cpaceInitiate,
  cpaceRespond,
  cpaceStartSymmetric,
  type CpaceOptions,
  type CpaceState,
} from '../src/index.js';
import { sampleScalar } from '../src/cpace.js';
import { fixedRandom } from './helpers.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const base: CpaceOptions = { prs: text('4821-tulip-harbor'), ci: text('peernet/pair/1'), sid: new Uint8Array(32).fill(9) };
const invalidArgument = expect.objectContaining({ code: 'invalid_argument' });

describe('CPace API', () => {
  it('names its suite and sizes', () => {
    expect([CPACE_SUITE, CPACE_MESSAGE_LENGTH, CPACE_ISK_LENGTH]).toEqual(['CPACE-RISTR255-SHA512', 32, 64]);
  });

  it('runs a full exchange with the default random source', () => {
    const a = cpaceInitiate(base);
    const b = cpaceRespond({ ...base, peerMessage: a.message });
    expect(a.message).toHaveLength(CPACE_MESSAGE_LENGTH);
    expect(b.isk).toHaveLength(CPACE_ISK_LENGTH);
    expect(cpaceFinish(a.state, { peerMessage: b.message })).toEqual(b.isk);
    // Fresh scalars: a second run between the same parties gives a new share and a new key.
    const again = cpaceInitiate(base);
    expect(again.message).not.toEqual(a.message);
    expect(cpaceFinish(again.state, { peerMessage: cpaceRespond({ ...base, peerMessage: again.message }).message })).not.toEqual(b.isk);
  });

  it('an empty ci and sid are allowed, as the draft allows', () => {
    const options = { prs: text('code'), ci: new Uint8Array(0), sid: new Uint8Array(0) };
    const a = cpaceInitiate(options);
    expect(cpaceFinish(a.state, { peerMessage: cpaceRespond({ ...options, peerMessage: a.message }).message })).toHaveLength(64);
  });

  it('a state is single use, even after a refused share', () => {
    const a = cpaceInitiate(base);
    const b = cpaceRespond({ ...base, peerMessage: a.message });
    cpaceFinish(a.state, { peerMessage: b.message });
    expect(() => cpaceFinish(a.state, { peerMessage: b.message })).toThrow(/already finished/);
    const c = cpaceInitiate(base);
    expect(() => cpaceFinish(c.state, { peerMessage: new Uint8Array(32) })).toThrow(ProtocolError);
    expect(() => cpaceFinish(c.state, { peerMessage: b.message })).toThrow(InvalidArgumentError);
  });

  it('a state exposes its setting only, and cannot be forged', () => {
    const { state } = cpaceInitiate(base);
    expect(Object.keys(state)).toEqual(['setting']);
    expect(Object.isFrozen(state)).toBe(true);
    expect(cpaceStartSymmetric(base).state.setting).toBe('symmetric');
    const forged: CpaceState = { setting: 'initiator' };
    expect(() => cpaceFinish(forged, { peerMessage: new Uint8Array(32) })).toThrow(invalidArgument);
  });

  it('copies its inputs: changing a buffer after the call changes nothing', () => {
    const prs = text('code'), sid = new Uint8Array(32).fill(1), ad = text('A');
    const a = cpaceInitiate({ prs, ci: base.ci, sid, ad });
    const b = cpaceRespond({ prs: text('code'), ci: base.ci, sid: new Uint8Array(32).fill(1), peerMessage: a.message.slice(), peerAd: text('A') });
    prs.fill(0);
    sid.fill(0);
    ad.fill(0);
    a.message.fill(0);
    expect(cpaceFinish(a.state, { peerMessage: b.message })).toEqual(b.isk);
  });

  it.each([
    ['prs', 'a string', { prs: 'code' }],
    ['prs', 'empty', { prs: new Uint8Array(0) }],
    ['ci', 'missing', { ci: undefined }],
    ['sid', 'an array of numbers', { sid: [1, 2, 3] }],
    ['ad', 'a string', { ad: 'hello' }],
    ['random', 'a number', { random: 42 }],
  ])('refuses %s given as %s with invalid_argument', (name, _what, override) => {
    const options = { ...base, ...override } as unknown as CpaceOptions;
    for (const call of [() => cpaceInitiate(options), () => cpaceStartSymmetric(options), () => cpaceRespond({ ...options, peerMessage: new Uint8Array(32) })]) {
      expect(call).toThrow(invalidArgument);
      expect(call).toThrow(new RegExp(name));
    }
  });

  it('refuses a peer share or peer AD that is not bytes with invalid_argument, and a bad share with protocol_error', () => {
    const peerMessage = cpaceInitiate(base).message;
    expect(() => cpaceRespond({ ...base, peerMessage: 'x' as unknown as Uint8Array })).toThrow(invalidArgument);
    expect(() => cpaceRespond({ ...base, peerMessage, peerAd: 'x' as unknown as Uint8Array })).toThrow(invalidArgument);
    expect(() => cpaceFinish(cpaceInitiate(base).state, null as unknown as { peerMessage: Uint8Array })).toThrow(invalidArgument);
    for (const bad of [new Uint8Array(0), peerMessage.subarray(0, 31), new Uint8Array([...peerMessage, 0])]) {
      let error: unknown;
      try {
        cpaceRespond({ ...base, peerMessage: bad });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(PeerNetError);
      expect(error).toMatchObject({ code: 'protocol_error', name: 'ProtocolError' });
      expect(String((error as Error).message)).toMatch(/peer's share is not a valid ristretto255 element/);
    }
  });

  it('refuses a random source that returns the wrong length, and redraws a zero scalar', () => {
    expect(() => cpaceInitiate({ ...base, random: () => new Uint8Array(31) })).toThrow(invalidArgument);
    // Zero after masking (only the top nibble set) is drawn again; the second draw is used.
    const top = new Uint8Array(32);
    top[31] = 0xf0;
    const one = new Uint8Array(32);
    one[0] = 1;
    expect(sampleScalar(fixedRandom(top, one))).toBe(1n);
    expect(() => cpaceInitiate({ ...base, random: () => new Uint8Array(32) })).toThrow(/zero scalar/);
  });

  it('clears the bits above 252, as the draft recommends', () => {
    expect(sampleScalar(fixedRandom(new Uint8Array(32).fill(0xff)))).toBe(2n ** 252n - 1n);
  });
});
