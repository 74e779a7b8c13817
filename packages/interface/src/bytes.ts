/**
 * True if `a` and `b` hold the same bytes. The time taken depends only on the
 * lengths, which must be public: comparing keys and MACs must not tell an
 * attacker how many leading bytes matched.
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}
