import { encodeQr, formatBits, reedSolomon, renderQr, type QrCode } from '../src/qr.js';

// Published vectors: ISO/IEC 18004 format-information table (level L) and the
// "HELLO WORLD" 1-M codewords of the standard worked example.
const FORMAT_L = [
  '111011111000100',
  '111001011110011',
  '111110110101010',
  '111100010011101',
  '110011000101111',
  '110001100011000',
  '110110001000001',
  '110100101110110',
];

/** Reads a symbol back: format bits, unmasking, codeword order, byte-mode payload. */
function decode(qr: QrCode): { text: string; mask: number; codewords: number[] } {
  const { size, version, modules } = qr;
  const at = (x: number, y: number): boolean => (modules[y] as boolean[])[x] as boolean;
  let format = 0;
  for (let i = 14; i >= 9; i--) format = (format << 1) | Number(at(14 - i, 8));
  format = (format << 1) | Number(at(7, 8));
  format = (format << 1) | Number(at(8, 8));
  format = (format << 1) | Number(at(8, 7));
  for (let i = 5; i >= 0; i--) format = (format << 1) | Number(at(8, i));
  const mask = FORMAT_L.findIndex((f) => parseInt(f, 2) === format);
  if (mask < 0) throw new Error(`format bits ${format.toString(2)} are not level L`);

  const align = version >= 2 ? 4 * version + 10 : -100;
  const isFunction = (x: number, y: number): boolean =>
    x === 6 || y === 6 || (x <= 8 && y <= 8) || (x >= size - 8 && y <= 8) || (x <= 8 && y >= size - 8) ||
    (Math.abs(x - align) <= 2 && Math.abs(y - align) <= 2);
  const masks: ((x: number, y: number) => boolean)[] = [
    (x, y) => (x + y) % 2 === 0,
    (_x, y) => y % 2 === 0,
    (x) => x % 3 === 0,
    (x, y) => (x + y) % 3 === 0,
    (x, y) => (Math.floor(y / 2) + Math.floor(x / 3)) % 2 === 0,
    (x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
    (x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
    (x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
  ];
  const bits: number[] = [];
  let upward = true;
  for (let right = size - 1; right > 0; right -= 2) {
    if (right === 6) right--;
    for (let k = 0; k < size; k++) {
      const y = upward ? size - 1 - k : k;
      for (const x of [right, right - 1]) {
        if (!isFunction(x, y)) bits.push(Number(at(x, y) !== (masks[mask] as (x: number, y: number) => boolean)(x, y)));
      }
    }
    upward = !upward;
  }
  const codewords: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) codewords.push(parseInt(bits.slice(i, i + 8).join(''), 2));
  const stream = codewords.map((c) => c.toString(2).padStart(8, '0')).join('');
  expect(stream.slice(0, 4)).toBe('0100');
  const length = parseInt(stream.slice(4, 12), 2);
  const bytes = Uint8Array.from({ length }, (_, i) => parseInt(stream.slice(12 + 8 * i, 20 + 8 * i), 2));
  return { text: new TextDecoder().decode(bytes), mask, codewords };
}

describe('QR encoder', () => {
  it('computes Reed–Solomon codewords of the standard example', () => {
    const data = [32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17];
    expect(reedSolomon(data, 10)).toEqual([196, 35, 39, 119, 235, 215, 231, 226, 93, 23]);
  });

  it('computes the format information of level L', () => {
    for (let mask = 0; mask < 8; mask++) expect(formatBits(mask).toString(2).padStart(15, '0')).toBe(FORMAT_L[mask]);
  });

  it.each([
    ['a', 1],
    ['crxgfx3b46nwfxkogs4gxmlzcsabsu3uxmklb33raqjmosugdd4a', 3],
    ['x'.repeat(106), 5],
    // The longest pairing URI of `peernet invite` (a three-digit number): 98 bytes.
    ['peernet://pair/crxgfx3b46nwfxkogs4gxmlzcsabsu3uxmklb33raqjmosugdd4a?n=999&s=cHVgrXdkJmZWYORnrVv1NA', 5],
  ])('encodes %j in version %i and reads back', (text, version) => {
    const qr = encodeQr(text);
    expect(qr.version).toBe(version);
    expect(qr.size).toBe(17 + 4 * version);
    const finder = ['1111111', '1000001', '1011101', '1011101', '1011101', '1000001', '1111111'];
    const rows = qr.modules.map((r) => r.map(Number).join(''));
    for (let i = 0; i < 7; i++) {
      expect(rows[i]?.slice(0, 7)).toBe(finder[i]);
      expect(rows[i]?.slice(qr.size - 7)).toBe(finder[i]);
      expect(rows[qr.size - 7 + i]?.slice(0, 7)).toBe(finder[i]);
    }
    const decoded = decode(qr);
    expect(decoded.text).toBe(text);
    expect(decoded.mask).toBe(qr.mask);
    const dataLength = [0, 19, 34, 55, 80, 108][version] as number;
    const data = decoded.codewords.slice(0, dataLength);
    expect(decoded.codewords.slice(dataLength)).toEqual(reedSolomon(data, decoded.codewords.length - dataLength));
  });

  it('refuses text beyond version 5-L and renders for a terminal', () => {
    expect(() => encodeQr('x'.repeat(107))).toThrow(RangeError);
    const lines = renderQr('a').split('\n');
    expect(lines).toHaveLength(Math.ceil((21 + 8) / 2));
  });
});
