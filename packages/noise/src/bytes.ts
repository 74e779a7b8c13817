export { assertBytes, bytesEqual, isAllZero } from '@peernet/interface';

/** A shared zero-length array for "no associated data" and empty payloads; never written to. */
export const EMPTY = new Uint8Array(0);

/** `a || b` in a new array. */
export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
