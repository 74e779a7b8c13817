/**
 * A small QR code encoder (ISO/IEC 18004), enough for a peer id: byte mode,
 * error correction level L, versions 1–5 (up to 106 bytes; all single-block).
 */

// Data and error-correction codewords per version (index = version), level L.
const DATA_CODEWORDS = [0, 19, 34, 55, 80, 108];
const EC_CODEWORDS = [0, 7, 10, 15, 20, 26];
// Centre of the one alignment pattern of versions 2–5.
const ALIGNMENT = [0, 0, 18, 22, 26, 30];

/** A QR symbol: `modules[y][x]` is true for a dark module. */
export interface QrCode {
  readonly version: number;
  readonly size: number;
  readonly mask: number;
  readonly modules: readonly (readonly boolean[])[];
}

/** GF(256) multiplication modulo x^8 + x^4 + x^3 + x^2 + 1. */
function gfMul(x: number, y: number): number {
  let z = 0;
  for (let i = 7; i >= 0; i--) {
    z = (z << 1) ^ ((z >>> 7) * 0x11d);
    z ^= ((y >>> i) & 1) * x;
  }
  return z;
}

/** Reed–Solomon error-correction codewords of `data` (`degree` of them). */
export function reedSolomon(data: readonly number[], degree: number): number[] {
  const divisor = new Array<number>(degree).fill(0);
  divisor[degree - 1] = 1;
  let root = 1;
  for (let i = 0; i < degree; i++) {
    for (let j = 0; j < degree; j++) {
      divisor[j] = gfMul(divisor[j] as number, root);
      if (j + 1 < degree) divisor[j] = (divisor[j] as number) ^ (divisor[j + 1] as number);
    }
    root = gfMul(root, 0x02);
  }
  const result = new Array<number>(degree).fill(0);
  for (const b of data) {
    const factor = b ^ (result.shift() as number);
    result.push(0);
    for (let i = 0; i < degree; i++) result[i] = (result[i] as number) ^ gfMul(divisor[i] as number, factor);
  }
  return result;
}

/** The 15 format bits of level L with `mask` (BCH code, then the fixed XOR mask). */
export function formatBits(mask: number): number {
  const data = (0b01 << 3) | mask; // level L = 01
  let rem = data;
  for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
  return ((data << 10) | rem) ^ 0x5412;
}

function maskBit(mask: number, x: number, y: number): boolean {
  switch (mask) {
    case 0: return (x + y) % 2 === 0;
    case 1: return y % 2 === 0;
    case 2: return x % 3 === 0;
    case 3: return (x + y) % 3 === 0;
    case 4: return (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0;
    case 5: return ((x * y) % 2) + ((x * y) % 3) === 0;
    case 6: return (((x * y) % 2) + ((x * y) % 3)) % 2 === 0;
    default: return (((x + y) % 2) + ((x * y) % 3)) % 2 === 0;
  }
}

/** The data and error-correction codewords of `bytes` in `version`. */
function codewords(bytes: Uint8Array, version: number): number[] {
  const capacity = DATA_CODEWORDS[version] as number;
  const bits: number[] = [];
  const push = (value: number, length: number): void => {
    for (let i = length - 1; i >= 0; i--) bits.push((value >>> i) & 1);
  };
  push(0b0100, 4); // byte mode
  push(bytes.length, 8);
  for (const b of bytes) push(b, 8);
  push(0, Math.min(4, capacity * 8 - bits.length)); // terminator
  while (bits.length % 8 !== 0) bits.push(0);
  const data: number[] = [];
  for (let i = 0; i < bits.length; i += 8) data.push(bits.slice(i, i + 8).reduce((acc, bit) => (acc << 1) | bit, 0));
  for (let pad = 0xec; data.length < capacity; pad ^= 0xec ^ 0x11) data.push(pad);
  return [...data, ...reedSolomon(data, EC_CODEWORDS[version] as number)];
}

class Matrix {
  readonly modules: boolean[][];
  readonly isFunction: boolean[][];
  constructor(readonly size: number) {
    this.modules = Array.from({ length: size }, () => new Array<boolean>(size).fill(false));
    this.isFunction = Array.from({ length: size }, () => new Array<boolean>(size).fill(false));
  }
  setFunction(x: number, y: number, dark: boolean): void {
    (this.modules[y] as boolean[])[x] = dark;
    (this.isFunction[y] as boolean[])[x] = true;
  }
  get(x: number, y: number): boolean {
    return (this.modules[y] as boolean[])[x] as boolean;
  }
}

function drawFunctionPatterns(m: Matrix, version: number): void {
  const { size } = m;
  for (let i = 0; i < size; i++) {
    m.setFunction(6, i, i % 2 === 0);
    m.setFunction(i, 6, i % 2 === 0);
  }
  for (const [cx, cy] of [[3, 3], [size - 4, 3], [3, size - 4]] as const) {
    for (let dy = -4; dy <= 4; dy++) {
      for (let dx = -4; dx <= 4; dx++) {
        const x = cx + dx;
        const y = cy + dy;
        if (x < 0 || y < 0 || x >= size || y >= size) continue;
        const dist = Math.max(Math.abs(dx), Math.abs(dy));
        m.setFunction(x, y, dist !== 2 && dist !== 4);
      }
    }
  }
  const a = ALIGNMENT[version] as number;
  if (a) {
    for (let dy = -2; dy <= 2; dy++) {
      for (let dx = -2; dx <= 2; dx++) m.setFunction(a + dx, a + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
    }
  }
  drawFormat(m, 0); // reserve the format areas; redrawn with the chosen mask
}

function drawFormat(m: Matrix, mask: number): void {
  const { size } = m;
  const bits = formatBits(mask);
  const bit = (i: number): boolean => ((bits >>> i) & 1) !== 0;
  for (let i = 0; i <= 5; i++) m.setFunction(8, i, bit(i));
  m.setFunction(8, 7, bit(6));
  m.setFunction(8, 8, bit(7));
  m.setFunction(7, 8, bit(8));
  for (let i = 9; i < 15; i++) m.setFunction(14 - i, 8, bit(i));
  for (let i = 0; i < 8; i++) m.setFunction(size - 1 - i, 8, bit(i));
  for (let i = 8; i < 15; i++) m.setFunction(8, size - 15 + i, bit(i));
  m.setFunction(8, size - 8, true); // the dark module
}

function placeCodewords(m: Matrix, data: readonly number[]): void {
  const { size } = m;
  let i = 0;
  for (let right = size - 1; right >= 1; right -= 2) {
    if (right === 6) right = 5;
    for (let vert = 0; vert < size; vert++) {
      for (let j = 0; j < 2; j++) {
        const x = right - j;
        const upward = ((right + 1) & 2) === 0;
        const y = upward ? size - 1 - vert : vert;
        if (!(m.isFunction[y] as boolean[])[x] && i < data.length * 8) {
          (m.modules[y] as boolean[])[x] = (((data[i >>> 3] as number) >>> (7 - (i & 7))) & 1) !== 0;
          i++;
        }
      }
    }
  }
}

function applyMask(m: Matrix, mask: number): void {
  for (let y = 0; y < m.size; y++) {
    for (let x = 0; x < m.size; x++) {
      if (!(m.isFunction[y] as boolean[])[x] && maskBit(mask, x, y)) {
        (m.modules[y] as boolean[])[x] = !(m.modules[y] as boolean[])[x];
      }
    }
  }
}

/** The standard penalty score of a masked symbol (lower is easier to scan). */
function penalty(m: Matrix): number {
  const { size } = m;
  let score = 0;
  const line = (get: (i: number) => boolean): void => {
    let run = 1;
    for (let i = 1; i <= size; i++) {
      if (i < size && get(i) === get(i - 1)) run++;
      else {
        if (run >= 5) score += run - 2;
        run = 1;
      }
    }
    const finderLike = [true, false, true, true, true, false, true];
    for (let i = 0; i + 7 <= size; i++) {
      if (!finderLike.every((v, k) => get(i + k) === v)) continue;
      const lightBefore = [1, 2, 3, 4].every((k) => i - k < 0 || !get(i - k));
      const lightAfter = [0, 1, 2, 3].every((k) => i + 7 + k >= size || !get(i + 7 + k));
      if (lightBefore || lightAfter) score += 40;
    }
  };
  for (let y = 0; y < size; y++) line((x) => m.get(x, y));
  for (let x = 0; x < size; x++) line((y) => m.get(x, y));
  let dark = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (m.get(x, y)) dark++;
      if (x + 1 < size && y + 1 < size) {
        const c = m.get(x, y);
        if (c === m.get(x + 1, y) && c === m.get(x, y + 1) && c === m.get(x + 1, y + 1)) score += 3;
      }
    }
  }
  score += Math.floor(Math.abs(dark * 20 - size * size * 10) / (size * size)) * 10;
  return score;
}

/** Encodes `text` (UTF-8) as a QR code; throws if it exceeds version 5-L (106 bytes). */
export function encodeQr(text: string): QrCode {
  const bytes = new TextEncoder().encode(text);
  // Header: 4 bits of mode and 8 of length.
  const version = [1, 2, 3, 4, 5].find((v) => 12 + bytes.length * 8 <= (DATA_CODEWORDS[v] as number) * 8);
  if (version === undefined) throw new RangeError(`text of ${bytes.length} bytes is too long for this QR encoder`);
  const data = codewords(bytes, version);
  let best: { mask: number; score: number; matrix: Matrix } | undefined;
  for (let mask = 0; mask < 8; mask++) {
    const m = new Matrix(17 + 4 * version);
    drawFunctionPatterns(m, version);
    placeCodewords(m, data);
    applyMask(m, mask);
    drawFormat(m, mask);
    const score = penalty(m);
    if (!best || score < best.score) best = { mask, score, matrix: m };
  }
  const chosen = best as { mask: number; matrix: Matrix };
  return { version, size: chosen.matrix.size, mask: chosen.mask, modules: chosen.matrix.modules };
}

/**
 * `text` as a QR code for a terminal: two module rows per line with upper-half
 * blocks, explicit black on white colours and a quiet zone of 4 modules.
 */
export function renderQr(text: string): string {
  const qr = encodeQr(text);
  const quiet = 4;
  const n = qr.size + 2 * quiet;
  const dark = (x: number, y: number): boolean => {
    const qx = x - quiet;
    const qy = y - quiet;
    return qx >= 0 && qy >= 0 && qx < qr.size && qy < qr.size && ((qr.modules[qy] as boolean[])[qx] as boolean);
  };
  const lines: string[] = [];
  for (let y = 0; y < n; y += 2) {
    let line = '';
    for (let x = 0; x < n; x++) {
      const fg = dark(x, y) ? 30 : 97;
      const bg = y + 1 < n && dark(x, y + 1) ? 40 : 107;
      line += `\x1b[${fg};${bg}m\u2580`;
    }
    lines.push(`${line}\x1b[0m`);
  }
  return lines.join('\n');
}
