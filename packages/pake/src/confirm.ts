// Explicit key confirmation as draft-irtf-cfrg-cpace-21 suggests it (section
// "Key confirmation"): each side sends a tag over the message it sent, keyed
// by a key both derive from the session key. A side that checks the peer's
// tag knows the peer derived the same ISK, so the same password.
import { hmac } from '@noble/hashes/hmac.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { InvalidArgumentError, bytesEqual } from '@peernet/interface';
import { concat, lvCat } from './encoding.js';
import { CPACE_ISK_LENGTH } from './pake.js';

/** Length in bytes of a confirmation tag: one HMAC-SHA512 output. */
export const CPACE_TAG_LENGTH = 64;

const CPACE_MAC = new TextEncoder().encode('CPaceMac');
const EMPTY = new Uint8Array(0);

/** The tags of one finished run: make ours, check the peer's. */
export interface CpaceConfirmation {
  /** `MAC(mac_key, lv_cat(message, ad))`: the tag over a share this side sent (its own `message` and `ad`). */
  tag(message: Uint8Array, ad?: Uint8Array): Uint8Array;
  /** True if `tag` is the peer's tag over the share (and associated data) the peer sent; compared in constant time. */
  verify(tag: Uint8Array, message: Uint8Array, ad?: Uint8Array): boolean;
}

/** Key confirmation for a run that ended with `isk` in session `sid`: `mac_key = SHA-512("CPaceMac" || sid || ISK)`, tags are HMAC-SHA512. */
export function cpaceKeyConfirmation(options: { sid: Uint8Array; isk: Uint8Array }): CpaceConfirmation {
  const { sid, isk } = options;
  if (!(sid instanceof Uint8Array)) throw new InvalidArgumentError('CPace: sid must be a Uint8Array');
  if (!(isk instanceof Uint8Array) || isk.length !== CPACE_ISK_LENGTH) {
    throw new InvalidArgumentError(`CPace: isk must be ${CPACE_ISK_LENGTH} bytes`);
  }
  const macKey = sha512(concat(CPACE_MAC, sid, isk));
  const tag = (message: Uint8Array, ad: Uint8Array = EMPTY): Uint8Array => hmac(sha512, macKey, lvCat(message, ad));
  return {
    tag,
    verify: (peerTag, message, ad) =>
      peerTag instanceof Uint8Array && peerTag.length === CPACE_TAG_LENGTH && bytesEqual(peerTag, tag(message, ad)),
  };
}
