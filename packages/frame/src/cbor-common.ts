// What the CBOR encoder and decoder share: the limits both enforce, and
// helpers for the typed arrays they read and write.
import { InvalidArgumentError } from '@peernet/interface';

/** Nesting depth (arrays and maps) allowed by default, when encoding and when decoding. */
export const DEFAULT_MAX_DEPTH = 64;

/** The largest `maxDepth` accepted; both directions recurse, so the cap keeps the stack bounded. */
export const MAX_DEPTH_LIMIT = 1024;

/** Largest magnitude, in bytes, of a bignum (tag 2/3) that is encoded or decoded. */
export const MAX_BIGNUM_BYTES = 1024;

/** 2^32, for splitting and joining 64-bit heads. */
export const TWO_32 = 0x1_0000_0000;
/** The safe integer range as bigints: within it an integer is a `number`. */
export const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
export const MIN_SAFE_BIG = -MAX_SAFE_BIG;

// One scratch buffer for float conversion: both directions are synchronous.
export const floatView = new DataView(new ArrayBuffer(8));
export const floatBytes = new Uint8Array(floatView.buffer);
export const getPrototypeOf = Object.getPrototypeOf;

// The %TypedArray%.prototype[@@toStringTag] getter reads an internal slot, so it
// recognises Uint8Arrays from other realms (jest sandboxes, vm contexts) and
// cannot be spoofed by an object that merely claims the tag.
const typedArrayTag = Object.getOwnPropertyDescriptor(getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!
  .get as (this: unknown) => string | undefined;

/** True for a Uint8Array (Buffer included) of any realm. */
export function isUint8Array(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array || typedArrayTag.call(value) === 'Uint8Array';
}

/** `value` if it is an integer from 0 to `max`; otherwise throws `InvalidArgumentError` naming the option. */
export function checkLimit(name: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer from 0 to ${max}`);
  }
  return value;
}

/** A fresh Uint8Array with bytes [start, end) of a plain Uint8Array. */
export function copy(from: Uint8Array, start: number, end: number): Uint8Array {
  const n = end - start;
  // Filling by hand beats slice() only for the shortest copies (measured on Node 20: even at 16 bytes slice() wins).
  if (n >= 16) return from.slice(start, end);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = from[start + i]!;
  return out;
}
