import { sha512 } from '@noble/hashes/sha2.js';

const LABEL = new TextEncoder().encode('peernet-pair/1 sas');

/**
 * Six digits both sides of a run derive from its key and session, shown as
 * `123 456` for users who compare them: equal digits mean the two screens
 * took part in the same run. One in a million that an attacker's run shows
 * the same, and it must first have guessed the code.
 */
export function shortAuthenticationString(sid: Uint8Array, isk: Uint8Array): string {
  const input = new Uint8Array(LABEL.length + sid.length + isk.length);
  input.set(LABEL, 0);
  input.set(sid, LABEL.length);
  input.set(isk, LABEL.length + sid.length);
  const hash = sha512(input);
  // 40 bits reduced mod 10^6: the bias is below 2^-20.
  const value = ((hash[0] as number) * 2 ** 32 + (((hash[1] as number) << 24) >>> 0) + ((hash[2] as number) << 16) + ((hash[3] as number) << 8) + (hash[4] as number)) % 1_000_000;
  const digits = value.toString().padStart(6, '0');
  return `${digits.slice(0, 3)} ${digits.slice(3)}`;
}
