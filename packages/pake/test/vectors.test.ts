import { ristretto255 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { ProtocolError } from '@peernet/interface';
import { calculateGenerator, DSI, DSI_ISK, intermediateSessionKey, sampleScalar, scalarFromBytes, scalarMult, scalarMultVfy } from '../src/cpace.js';
import { concat, generatorString, lvCat, transcriptIr, transcriptOc } from '../src/encoding.js';
import { cpaceFinish, cpaceInitiate, cpaceRespond, cpaceStartSymmetric } from '../src/index.js';
import { fixedRandom, hex, section, toHex } from './helpers.js';

// Appendix B.3 of draft-irtf-cfrg-cpace-21: CPace with ristretto255 and SHA-512.
const generator = section('B.3.1.1 calculate_generator');
const v = section('B.3.9 exchange');
const listings = section('B.3.5-B.3.6 text listings');
const points = section('B.3.11.1 scalar_mult_vfy');
const valid = section('B.3.11.1 scalar_mult_vfy', 'Valid');
const b = (name: string): Uint8Array => hex(v(name));
const common = { prs: b('PRS'), ci: b('CI'), sid: b('sid') };

describe('CPACE-RISTR255-SHA512 test vectors (draft-irtf-cfrg-cpace-21 appendix B.3)', () => {
  it('B.3.1: the generator string hashes to the listed 64 bytes and derives g', () => {
    const string = generatorString(DSI, hex(generator('PRS')), hex(generator('CI')), hex(generator('sid')), 128);
    expect(toHex(sha512(string))).toBe(generator('hash result'));
    expect(toHex(calculateGenerator(b('PRS'), b('CI'), b('sid')).toBytes())).toBe(generator('encoded generator g'));
    expect(v('g')).toBe(generator('encoded generator g'));
  });

  it('B.3.2 and B.3.3: ya and yb give the shares Ya and Yb', () => {
    const g = calculateGenerator(b('PRS'), b('CI'), b('sid'));
    expect(toHex(scalarMult(scalarFromBytes(b('ya')), g))).toBe(v('Ya'));
    expect(toHex(scalarMult(scalarFromBytes(b('yb')), g))).toBe(v('Yb'));
  });

  it('B.3.2 and B.3.3: sample_scalar keeps the vector scalars as they are (both are below 2^252)', () => {
    expect(sampleScalar(fixedRandom(b('ya')))).toBe(scalarFromBytes(b('ya')));
    expect(sampleScalar(fixedRandom(b('yb')))).toBe(scalarFromBytes(b('yb')));
  });

  it('B.3.4: both sides compute the same K', () => {
    expect(toHex(scalarMultVfy(scalarFromBytes(b('ya')), b('Yb')))).toBe(v('K'));
    expect(toHex(scalarMultVfy(scalarFromBytes(b('yb')), b('Ya')))).toBe(v('K'));
  });

  it('B.3.5: transcript_ir, the ISK hash input and ISK_IR', () => {
    const transcript = transcriptIr(b('Ya'), b('ADa'), b('Yb'), b('ADb'));
    expect(toHex(transcript)).toBe(listings('transcript_ir(Ya,ADa,Yb,ADb)'));
    expect(toHex(DSI_ISK)).toBe(listings('DSI_ISK'));
    expect(toHex(concat(lvCat(DSI_ISK, b('sid'), b('K')), transcript))).toBe(listings('lv_cat(DSI,sid,K)||transcript_ir(Ya,ADa,Yb,ADb)'));
    expect(toHex(intermediateSessionKey(b('sid'), b('K'), transcript))).toBe(v('ISK_IR'));
  });

  it('B.3.6: transcript_oc, the ISK hash input and ISK_SY', () => {
    const transcript = transcriptOc(b('Ya'), b('ADa'), b('Yb'), b('ADb'));
    expect(toHex(transcript)).toBe(listings('transcript_oc(Ya,ADa,Yb,ADb)'));
    expect(toHex(concat(lvCat(DSI_ISK, b('sid'), b('K')), transcript))).toBe(listings('lv_cat(DSI,sid,K)||transcript_oc(Ya,ADa,Yb,ADb)'));
    expect(toHex(intermediateSessionKey(b('sid'), b('K'), transcript))).toBe(v('ISK_SY'));
  });

  it('B.3.7: the transcripts also give the listed sid_output values', () => {
    // sid_output is not part of the API (PeerNet always has a sid), but it pins both transcripts once more.
    const label = new TextEncoder().encode('CPaceSidOutput');
    expect(toHex(sha512(concat(label, transcriptIr(b('Ya'), b('ADa'), b('Yb'), b('ADb')))))).toBe(v('sid_output_ir'));
    expect(toHex(sha512(concat(label, transcriptOc(b('Ya'), b('ADa'), b('Yb'), b('ADb')))))).toBe(v('sid_output_oc'));
  });

  it('B.3.9 through the public API, initiator-responder: Ya, Yb and ISK_IR on both sides', () => {
    const a = cpaceInitiate({ ...common, ad: b('ADa'), random: fixedRandom(b('ya')) });
    expect(toHex(a.message)).toBe(v('Ya'));
    const r = cpaceRespond({ ...common, ad: b('ADb'), random: fixedRandom(b('yb')), peerMessage: a.message, peerAd: b('ADa') });
    expect(toHex(r.message)).toBe(v('Yb'));
    expect(toHex(r.isk)).toBe(v('ISK_IR'));
    expect(toHex(cpaceFinish(a.state, { peerMessage: r.message, peerAd: b('ADb') }))).toBe(v('ISK_IR'));
  });

  it('B.3.9 through the public API, symmetric: ISK_SY on both sides', () => {
    const a = cpaceStartSymmetric({ ...common, ad: b('ADa'), random: fixedRandom(b('ya')) });
    const c = cpaceStartSymmetric({ ...common, ad: b('ADb'), random: fixedRandom(b('yb')) });
    expect([toHex(a.message), toHex(c.message)]).toEqual([v('Ya'), v('Yb')]);
    expect(toHex(cpaceFinish(c.state, { peerMessage: a.message, peerAd: b('ADa') }))).toBe(v('ISK_SY'));
    expect(toHex(cpaceFinish(a.state, { peerMessage: c.message, peerAd: b('ADb') }))).toBe(v('ISK_SY'));
  });

  it('B.3.10: scalar_mult and scalar_mult_vfy agree on the valid case', () => {
    const s = scalarFromBytes(hex(valid('s')));
    const x = hex(valid('X'));
    expect(toHex(scalarMult(s, ristretto255.Point.fromBytes(x)))).toBe(valid('G.scalar_mult(s,decode(X))'));
    expect(toHex(scalarMultVfy(s, x))).toBe(valid('G.scalar_mult_vfy(s,X)'));
  });

  describe.each([
    ['Y_i1 (not an encoding of a group element)', points('Invalid Y1')],
    ['Y_i2 (the identity, G.I)', points('Invalid Y2')],
  ])('B.3.11: %s', (_name, invalid) => {
    const s = scalarFromBytes(hex(valid('s')));

    it('scalar_mult_vfy returns G.I', () => {
      expect(toHex(scalarMultVfy(s, hex(invalid)))).toBe('00'.repeat(32));
    });

    it('the responder aborts when it is the initiator share', () => {
      const attempt = (): unknown => cpaceRespond({ ...common, peerMessage: hex(invalid) });
      expect(attempt).toThrow(ProtocolError);
      expect(attempt).toThrow(expect.objectContaining({ code: 'protocol_error' }));
    });

    it('the initiator aborts when it is the responder share', () => {
      const { state } = cpaceInitiate(common);
      expect(() => cpaceFinish(state, { peerMessage: hex(invalid) })).toThrow(expect.objectContaining({ code: 'protocol_error' }));
    });

    it('a symmetric party aborts when it is the peer share', () => {
      const { state } = cpaceStartSymmetric(common);
      expect(() => cpaceFinish(state, { peerMessage: hex(invalid) })).toThrow(expect.objectContaining({ code: 'protocol_error' }));
    });
  });
});

