import { generatorString, lexicographicallyLarger, lvCat, oCat, prependLen, transcriptIr, transcriptOc } from '../src/encoding.js';
import { DSI } from '../src/cpace.js';
import { hex, lexicographicCases, section, toHex } from './helpers.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
const range = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i);

describe('string utilities (draft-irtf-cfrg-cpace-21 appendix A)', () => {
  it('prepend_len matches A.1.2', () => {
    const v = section('A.1.2.1 prepend_len');
    expect(toHex(prependLen(new Uint8Array(0)))).toBe(v("prepend_len(b'')"));
    expect(toHex(prependLen(ascii('1234')))).toBe(v("prepend_len(b'1234')"));
    expect(toHex(prependLen(range(127)))).toBe(v('prepend_len(bytes(range(127)))'));
    expect(toHex(prependLen(range(128)))).toBe(v('prepend_len(bytes(range(128)))'));
  });

  it('prepend_len writes LEB128 lengths of two and three bytes', () => {
    expect(toHex(prependLen(new Uint8Array(300)).subarray(0, 2))).toBe('AC02');
    expect(toHex(prependLen(new Uint8Array(16384)).subarray(0, 3))).toBe('808001');
  });

  it('lv_cat matches A.1.4', () => {
    const v = section('A.1.4.1 lv_cat');
    expect(toHex(lvCat(ascii('1234'), ascii('5'), new Uint8Array(0), ascii('678')))).toBe(v("lv_cat(b'1234',b'5',b'',b'678')"));
  });

  it('lexiographically_larger matches the cases of A.3.3', () => {
    const cases = lexicographicCases;
    expect(cases).toHaveLength(6);
    for (const [a, b, expected] of cases) expect([a, b, lexicographicallyLarger(hex(a), hex(b))]).toEqual([a, b, expected]);
  });

  it('o_cat matches A.3.3', () => {
    const v = section('A.3.3.1 o_cat');
    expect(toHex(oCat(ascii('ABCD'), ascii('BCD')))).toBe(v("o_cat(b'ABCD',b'BCD')"));
    expect(toHex(oCat(ascii('BCD'), ascii('ABCDE')))).toBe(v("o_cat(b'BCD',b'ABCDE')"));
  });

  it('transcript_ir matches A.3.5', () => {
    const v = section('A.3.5.1 transcript_ir');
    expect(toHex(transcriptIr(ascii('123'), ascii('PartyA'), ascii('234'), ascii('PartyB')))).toBe(
      v("transcript_ir(b'123',b'PartyA',b'234',b'PartyB')"),
    );
    expect(toHex(transcriptIr(ascii('3456'), ascii('PartyA'), ascii('2345'), ascii('PartyB')))).toBe(
      v("transcript_ir(b'3456',b'PartyA',b'2345',b'PartyB')"),
    );
  });

  it('transcript_oc matches A.3.7, and is the same with the parties swapped', () => {
    const v = section('A.3.7.1 transcript_oc');
    expect(toHex(transcriptOc(ascii('123'), ascii('PartyA'), ascii('234'), ascii('PartyB')))).toBe(
      v("transcript_oc(b'123',b'PartyA',b'234',b'PartyB')"),
    );
    expect(toHex(transcriptOc(ascii('3456'), ascii('PartyA'), ascii('2345'), ascii('PartyB')))).toBe(
      v("transcript_oc(b'3456',b'PartyA',b'2345',b'PartyB')"),
    );
    expect(toHex(transcriptOc(ascii('234'), ascii('PartyB'), ascii('123'), ascii('PartyA')))).toBe(
      v("transcript_oc(b'123',b'PartyA',b'234',b'PartyB')"),
    );
  });

  it('generator_string matches B.3.1, with its 100 bytes of zero padding', () => {
    const v = section('B.3.1.1 calculate_generator');
    expect(toHex(DSI)).toBe(v('DSI'));
    expect(Number(v('ZPAD length'))).toBe(100);
    const generator = generatorString(DSI, hex(v('PRS')), hex(v('CI')), hex(v('sid')), 128);
    expect(toHex(generator)).toBe(v('generator_string(G.DSI,PRS,CI,sid,H.s_in_bytes)'));
    // DSI, PRS and the padding fill exactly the first SHA-512 block.
    expect(generator.length).toBe(170);
    expect(generator[128]).toBe(0x18); // the length byte of CI opens the second block
  });

  it('a PRS longer than a block gets no padding (len_zpad = 0)', () => {
    const prs = new Uint8Array(200).fill(7);
    expect(toHex(generatorString(DSI, prs, new Uint8Array(0), new Uint8Array(0), 128))).toBe(
      toHex(lvCat(DSI, prs, new Uint8Array(0), new Uint8Array(0), new Uint8Array(0))),
    );
  });
});
