/** The parts joined into one array. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** An encoded CBOR array of `count` copies of the one-byte item `item` (0xa0 `{}`, 0x80 `[]`, 0x00 `0`). */
export function denseArray(item: number, count: number): Uint8Array {
  const out = new Uint8Array(5 + count).fill(item);
  out[0] = 0x9a;
  new DataView(out.buffer).setUint32(1, count);
  return out;
}
