// The byte-string encodings of draft-irtf-cfrg-cpace-21 (section 6.3 and
// appendix A). Every variable-length input is length-prefixed before it is
// hashed, so no two different input tuples can hash the same bytes
// (a prefix-free encoding, which also makes SHA-512 length extension moot).

/** `a || b || ...`. */
export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** `prepend_len(data)`: the LEB128 encoding of `data.length`, then `data` (appendix A.1.1). */
export function prependLen(data: Uint8Array): Uint8Array {
  const length: number[] = [];
  let n = data.length;
  // Seven bits a byte, least significant first; the top bit says "more follows".
  do {
    const low = n & 0x7f;
    n = Math.floor(n / 128);
    length.push(n === 0 ? low : low | 0x80);
  } while (n !== 0);
  return concat(Uint8Array.from(length), data);
}

/** `lv_cat(a0, a1, ...)`: each argument with its length prepended, concatenated (appendix A.1.3). */
export function lvCat(...parts: readonly Uint8Array[]): Uint8Array {
  return concat(...parts.map(prependLen));
}

/** True if `a` sorts after `b` byte by byte, a longer string after its own prefix (appendix A.3.1). */
export function lexicographicallyLarger(a: Uint8Array, b: Uint8Array): boolean {
  const common = Math.min(a.length, b.length);
  for (let i = 0; i < common; i++) {
    if (a[i] !== b[i]) return (a[i] as number) > (b[i] as number);
  }
  return a.length > b.length;
}

const OC = new Uint8Array([0x6f, 0x63]); // b"oc"

/** `o_cat(a, b)`: b"oc", then the larger of the two strings, then the other (appendix A.3.2). */
export function oCat(a: Uint8Array, b: Uint8Array): Uint8Array {
  return lexicographicallyLarger(a, b) ? concat(OC, a, b) : concat(OC, b, a);
}

/**
 * `generator_string(DSI, PRS, CI, sid, s_in_bytes)` (section 8.1, appendix A.2):
 * `lv_cat(DSI, PRS, zero_bytes(len_zpad), CI, sid)`. The zero padding fills the
 * hash's first input block with DSI and PRS alone, so for a short PRS the work
 * of hashing does not depend on its length, and that block never mixes the
 * secret with session data an observer knows.
 */
export function generatorString(dsi: Uint8Array, prs: Uint8Array, ci: Uint8Array, sid: Uint8Array, sInBytes: number): Uint8Array {
  // The trailing 1 is the length byte of the padding itself (a single byte as long as len_zpad < 128).
  const zpad = Math.max(0, sInBytes - 1 - prependLen(prs).length - prependLen(dsi).length);
  return lvCat(dsi, prs, new Uint8Array(zpad), ci, sid);
}

/** `transcript_ir(Ya, ADa, Yb, ADb) = lv_cat(Ya, ADa) || lv_cat(Yb, ADb)`: the initiator's message first (appendix A.3.4). */
export function transcriptIr(ya: Uint8Array, ada: Uint8Array, yb: Uint8Array, adb: Uint8Array): Uint8Array {
  return concat(lvCat(ya, ada), lvCat(yb, adb));
}

/** `transcript_oc(Ya, ADa, Yb, ADb) = o_cat(lv_cat(Ya, ADa), lv_cat(Yb, ADb))`: the same bytes whichever side is "a" (appendix A.3.6). */
export function transcriptOc(ya: Uint8Array, ada: Uint8Array, yb: Uint8Array, adb: Uint8Array): Uint8Array {
  return oCat(lvCat(ya, ada), lvCat(yb, adb));
}
