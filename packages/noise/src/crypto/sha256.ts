// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) for the short inputs of a
// handshake: about twenty hashes and HMACs of 32 to 130 bytes per side, where
// node:crypto's cost is the hash object it builds for each call, not the
// hashing (a handshake profile spent as much in them as in X25519). Internal:
// the default provider uses it below a few blocks and node:crypto above.

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);
const IV = Int32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
const BLOCK = 64;

// Scratch shared by every call: hashing is synchronous and never re-entered.
const state = new Int32Array(8);
const schedule = new Int32Array(64);
const block = new Uint8Array(BLOCK);
const innerDigest = new Uint8Array(32);

/** Mixes the 64 bytes at `bytes[at]` into `state`. */
function compress(bytes: Uint8Array, at: number): void {
  const w = schedule;
  for (let i = 0; i < 16; i++, at += 4) {
    w[i] = (bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15]!;
    const y = w[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  let f = state[5]!;
  let g = state[6]!;
  let h = state[7]!;
  for (let i = 0; i < 64; i++) {
    const sigma1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + sigma1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
    const sigma0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (sigma0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}

/**
 * Hashes `chunks` on top of `state`, which has absorbed `prefixBytes` bytes
 * already (whole blocks), pads, and writes the digest into `out`.
 */
function finish(chunks: readonly Uint8Array[], prefixBytes: number, out: Uint8Array): Uint8Array {
  let fill = 0;
  let total = prefixBytes;
  for (const chunk of chunks) {
    const n = chunk.length;
    total += n;
    let at = 0;
    if (fill > 0) {
      const take = Math.min(BLOCK - fill, n);
      block.set(take === n ? chunk : chunk.subarray(0, take), fill);
      fill += take;
      at = take;
      if (fill < BLOCK) continue;
      compress(block, 0);
      fill = 0;
    }
    for (; at + BLOCK <= n; at += BLOCK) compress(chunk, at);
    if (at < n) {
      block.set(at === 0 ? chunk : chunk.subarray(at), 0);
      fill = n - at;
    }
  }
  // Padding: 0x80, zeros, and the message length in bits as a 64-bit big-endian integer.
  block[fill++] = 0x80;
  if (fill > BLOCK - 8) {
    block.fill(0, fill);
    compress(block, 0);
    fill = 0;
  }
  block.fill(0, fill, BLOCK - 8);
  const high = Math.floor(total / 0x2000_0000);
  const low = (total * 8) >>> 0;
  block[56] = high >>> 24;
  block[57] = high >>> 16;
  block[58] = high >>> 8;
  block[59] = high;
  block[60] = low >>> 24;
  block[61] = low >>> 16;
  block[62] = low >>> 8;
  block[63] = low;
  compress(block, 0);
  for (let i = 0, at = 0; i < 8; i++, at += 4) {
    const word = state[i]!;
    out[at] = word >>> 24;
    out[at + 1] = word >>> 16;
    out[at + 2] = word >>> 8;
    out[at + 3] = word;
  }
  return out;
}

/** SHA-256 of the concatenation of `chunks`. */
export function sha256Of(chunks: readonly Uint8Array[]): Uint8Array {
  state.set(IV);
  const digest = finish(chunks, 0, new Uint8Array(32));
  // The last block may hold secret input (HKDF's keys pass through here as HMAC's).
  block.fill(0);
  return digest;
}

/** Absorbs the 64-byte block `key ^ pad` (key zero-padded), starting a fresh hash. */
function startKeyed(key: Uint8Array, pad: number): void {
  state.set(IV);
  const n = key.length;
  for (let i = 0; i < n; i++) block[i] = key[i]! ^ pad;
  block.fill(pad, n);
  compress(block, 0);
}

/** HMAC-SHA256 of `data` under `key`. */
export function hmacSha256Of(key: Uint8Array, data: Uint8Array): Uint8Array {
  const k = key.length > BLOCK ? sha256Of([key]) : key;
  startKeyed(k, 0x36);
  finish([data], BLOCK, innerDigest);
  startKeyed(k, 0x5c);
  const mac = finish([innerDigest], BLOCK, new Uint8Array(32));
  block.fill(0);
  innerDigest.fill(0);
  if (k !== key) k.fill(0);
  return mac;
}
