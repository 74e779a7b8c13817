/**
 * CBOR (RFC 8949) for the PeerNet value set: a decoder that is safe on hostile
 * bytes and an encoder that runs on every message without per-value garbage.
 *
 * Choices, where the RFC leaves room:
 * - The encoder writes preferred serialization (RFC 8949 §4.1): shortest
 *   heads, and floats in the shortest of half/single/double that is exact.
 *   Every NaN is written as the half-precision quiet NaN `f9 7e00`; NaN
 *   payloads are not preserved. Map keys keep the object's own key order.
 * - The decoder accepts non-shortest heads and floats (the RFC allows them,
 *   and rejecting them buys no safety). Whether an integer decodes as
 *   `number` or `bigint` depends only on its value, never on how it was
 *   written: values within ±(2^53−1) are `number`, all others `bigint`, and a
 *   bignum (tag 2/3) holding a small value decodes as `number` too.
 * - Text strings with a lone surrogate have no UTF-8 form. The encoder
 *   rejects them rather than replacing them with U+FFFD as `TextEncoder`
 *   does: replacement would alter data silently and could turn two distinct
 *   map keys into duplicates the peer must reject.
 * - Byte strings decode as copies, so a decoded value never keeps the whole
 *   received frame alive.
 * - Bignum magnitudes are capped at {@link MAX_BIGNUM_BYTES}: larger numbers
 *   belong in a byte string, and the cap bounds the cost of conversion.
 * - What decoding may cost is bounded in heap, not only in input bytes: one
 *   byte of CBOR can become an object of tens of bytes (`a0` is `{}`). Before
 *   allocating anything, the decoder walks the input and adds up an estimate
 *   of the V8 heap the result will take ({@link DECODED_COST}); above
 *   `maxDecodedBytes` it throws `MessageTooLargeError` without decoding.
 * - Maps decode as ordinary objects (prototype `Object.prototype`); keys such
 *   as `__proto__` and `constructor` become own data properties, and
 *   `Object.prototype` is never written. The encoder takes objects whose
 *   prototype is `Object.prototype` (of any realm) or `null`, and writes their
 *   own enumerable string keys; symbol keys are ignored.
 */
import { InvalidArgumentError, MessageTooLargeError, ProtocolError } from '@peernet/interface';

/** The values that travel in envelopes. */
export type Value = null | boolean | number | bigint | string | Uint8Array | Value[] | { [key: string]: Value };

/** Nesting depth (arrays and maps) allowed by default, when encoding and when decoding. */
export const DEFAULT_MAX_DEPTH = 64;

/** The largest `maxDepth` accepted; both directions recurse, so the cap keeps the stack bounded. */
export const MAX_DEPTH_LIMIT = 1024;

/** Largest magnitude, in bytes, of a bignum (tag 2/3) that is encoded or decoded. */
export const MAX_BIGNUM_BYTES = 1024;

/** Options of {@link encodeValue}. */
export interface EncodeOptions {
  /** Deepest nesting of arrays and maps allowed (default 64); also what stops cyclic structures. */
  maxDepth?: number;
  /** Largest encoding allowed, headroom not counted (default 2^32−1, the largest a u32 prefix can carry). */
  maxBytes?: number;
  /** Zeroed bytes reserved before the encoding, e.g. for a length prefix (default 0). */
  headroom?: number;
}

/** Options of {@link decodeValue}. */
export interface DecodeOptions {
  /** Deepest nesting of arrays and maps accepted (default 64). */
  maxDepth?: number;
  /**
   * Largest estimated heap, in bytes, the decoded value may take (default 64 MiB,
   * {@link DEFAULT_MAX_DECODED_BYTES}); above it decoding throws `MessageTooLargeError`
   * before anything is allocated. See {@link DECODED_COST} for the estimate.
   */
  maxDecodedBytes?: number;
}

/** Default of `maxDecodedBytes`: 64 MiB of estimated heap, four times the default largest message. */
export const DEFAULT_MAX_DECODED_BYTES = 64 * 1024 * 1024;

/**
 * The estimated V8 heap cost, in bytes, of each kind of decoded item (64-bit
 * Node without pointer compression, measured on Node 20; an upper bound, so
 * a budget in these units is never exceeded by what is really allocated):
 *
 * - every item costs a `slot`: its pointer in the array or object holding it;
 * - integers written in up to 16 bits and `true`/`false`/`null` cost
 *   nothing more; floats and 32-bit integers a `number` (a HeapNumber),
 *   64-bit integers `bigint` + 8 (they may decode as a BigInt);
 * - a text string of n UTF-8 bytes costs `string` + 2n (its header, and at
 *   most two bytes per unit: UTF-16 never needs more units than UTF-8 bytes);
 *   the empty string costs nothing;
 * - a byte string of n bytes costs `bytes` + n (the Uint8Array and its
 *   ArrayBuffer, then the bytes, on or off the heap);
 * - a bignum of n bytes costs `bigint` + n;
 * - an array costs `array` (empty: `emptyArray`), arrays longer than
 *   {@link EXACT_ARRAY_MAX} also `growth` per element and 16 slots (they are
 *   grown, not allocated at their size);
 * - a map costs `map`, then per entry `entry` (property storage and hidden
 *   classes, measured up to the dictionary mode of large or odd-keyed
 *   objects) plus its key as a string.
 *
 * For scale: `{}` is 64 bytes, `[]` 40, `0` in an array 8, `"abc"` 38, an
 * empty byte string 216.
 */
export const DECODED_COST = {
  slot: 8,
  number: 16,
  bigint: 24,
  string: 24,
  bytes: 208,
  array: 48,
  emptyArray: 32,
  growth: 4,
  map: 56,
  entry: 128,
} as const;

/**
 * The most one input byte can cost in {@link DECODED_COST} units: an empty
 * byte string (`40`) is one byte and 216 of heap. So n bytes never decode to
 * more than 216 n, whatever they hold.
 */
export const MAX_DECODED_COST_PER_BYTE = DECODED_COST.slot + DECODED_COST.bytes;

/** Arrays up to this length are allocated at their size; longer ones grow as they fill. */
export const EXACT_ARRAY_MAX = 1 << 20;

const MAX_U32 = 0xffff_ffff;
const TWO_32 = 0x1_0000_0000;
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE_BIG = -MAX_SAFE_BIG;
const MAX_U64_BIG = 0xffff_ffff_ffff_ffffn;
const INITIAL_CAPACITY = 1024;
// A buffer that grew for one large message is dropped afterwards rather than kept forever.
const RETAINED_CAPACITY = 1 << 20;
const SHORT_STRING = 64;
// Longest text decoded by concatenation (V8 makes flat strings below 13 characters).
const SHORT_TEXT = 12;
const MAX_HEADROOM = 1 << 16;

const floatView = new DataView(new ArrayBuffer(8));
const floatBytes = new Uint8Array(floatView.buffer);
const textEncoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is data, not a marker to strip.
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const EMPTY = new Uint8Array(0);
const ObjectPrototype = Object.prototype;
const getPrototypeOf = Object.getPrototypeOf;
const defineProperty = Object.defineProperty;
const hasOwn = Object.hasOwn;
const fromCharCode = String.fromCharCode;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

// The %TypedArray%.prototype[@@toStringTag] getter reads an internal slot, so it
// recognises Uint8Arrays from other realms (jest sandboxes, vm contexts) and
// cannot be spoofed by an object that merely claims the tag.
const typedArrayTag = Object.getOwnPropertyDescriptor(getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!
  .get as (this: unknown) => string | undefined;

/** True for a Uint8Array (Buffer included) of any realm. */
export function isUint8Array(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array || typedArrayTag.call(value) === 'Uint8Array';
}

const nativeIsWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function isWellFormed(text: string): boolean {
  return nativeIsWellFormed !== undefined ? nativeIsWellFormed.call(text) : !LONE_SURROGATE.test(text);
}

function checkLimit(name: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer from 0 to ${max}`);
  }
  return value;
}

function headSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x1_0000 ? 3 : n < TWO_32 ? 5 : 9;
}

/** Half-precision bits of a float32 given by its bits, or -1 when it is not exactly representable. */
function toHalf(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7f_ffff;
  if (exponent === 0xff) return mantissa === 0 ? sign | 0x7c00 : -1;
  // Zero is exact; float32 subnormals lie below the half-precision range.
  if (exponent === 0) return mantissa === 0 ? sign : -1;
  const e = exponent - 127;
  if (e > 15 || e < -24) return -1;
  if (e >= -14) {
    return (mantissa & 0x1fff) === 0 ? sign | ((e + 15) << 10) | (mantissa >>> 13) : -1;
  }
  const significand = 0x80_0000 | mantissa;
  const shift = -e - 1;
  return (significand & ((1 << shift) - 1)) === 0 ? sign | (significand >>> shift) : -1;
}

function describe(value: object): string {
  const proto: unknown = getPrototypeOf(value);
  const ctor = (proto as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return typeof ctor === 'string' && ctor !== '' ? `an instance of ${ctor}` : 'an object with a custom prototype';
}

class Encoder {
  buf: Uint8Array<ArrayBuffer> = new Uint8Array(INITIAL_CAPACITY);
  pos = 0;
  busy = false;
  private maxDepth = DEFAULT_MAX_DEPTH;
  private maxBytes = MAX_U32;
  private headroom = 0;

  encode(value: Value, options: EncodeOptions | undefined): Uint8Array {
    let maxDepth = DEFAULT_MAX_DEPTH;
    let maxBytes = MAX_U32;
    let headroom = 0;
    if (options !== undefined) {
      if (options.maxDepth !== undefined) maxDepth = checkLimit('maxDepth', options.maxDepth, MAX_DEPTH_LIMIT);
      if (options.maxBytes !== undefined) maxBytes = checkLimit('maxBytes', options.maxBytes, Number.MAX_SAFE_INTEGER);
      if (options.headroom !== undefined) headroom = checkLimit('headroom', options.headroom, MAX_HEADROOM);
    }
    this.maxDepth = maxDepth;
    this.maxBytes = maxBytes;
    this.headroom = headroom;
    this.busy = true;
    try {
      this.pos = 0;
      this.ensure(headroom);
      this.buf.fill(0, 0, headroom);
      this.pos = headroom;
      this.value(value, 0);
      if (this.pos - headroom > maxBytes) {
        throw new MessageTooLargeError(`encoded value exceeds ${maxBytes} bytes`);
      }
      return copy(this.buf, 0, this.pos);
    } finally {
      this.busy = false;
      if (this.buf.length > RETAINED_CAPACITY) this.buf = new Uint8Array(INITIAL_CAPACITY);
    }
  }

  /** See `appendValue`. */
  append(value: Value, target: Uint8Array<ArrayBuffer>, offset: number): AppendResult {
    const own = this.buf;
    this.maxDepth = DEFAULT_MAX_DEPTH;
    this.maxBytes = MAX_U32;
    this.headroom = offset;
    this.busy = true;
    this.buf = target;
    this.pos = offset;
    try {
      this.value(value, 0);
      if (this.pos - offset > MAX_U32) throw new MessageTooLargeError(`encoded value exceeds ${MAX_U32} bytes`);
      appended.buffer = this.buf;
      appended.end = this.pos;
      return appended;
    } finally {
      this.busy = false;
      this.buf = own;
    }
  }

  private ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(this.pos + n);
  }

  private grow(needed: number): void {
    // Checked on growth only: a value that expands without end (a shared
    // subtree repeated exponentially) stops here long before memory runs out.
    if (this.pos - this.headroom > this.maxBytes) {
      throw new MessageTooLargeError(`encoded value exceeds ${this.maxBytes} bytes`);
    }
    let capacity = Math.max(this.buf.length * 2, INITIAL_CAPACITY);
    while (capacity < needed) capacity *= 2;
    let next: Uint8Array<ArrayBuffer>;
    try {
      next = new Uint8Array(capacity);
    } catch (cause) {
      throw new MessageTooLargeError(`encoded value too large to buffer (${needed} bytes)`, { cause });
    }
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** Writes a head; `major` is pre-shifted (major type << 5), `n` a non-negative safe integer. */
  private head(major: number, n: number): void {
    this.ensure(9);
    const buf = this.buf;
    let p = this.pos;
    if (n < 24) {
      buf[p++] = major | n;
    } else if (n < 0x100) {
      buf[p++] = major | 24;
      buf[p++] = n;
    } else if (n < 0x1_0000) {
      buf[p++] = major | 25;
      buf[p++] = n >>> 8;
      buf[p++] = n;
    } else if (n < TWO_32) {
      buf[p++] = major | 26;
      buf[p++] = n >>> 24;
      buf[p++] = n >>> 16;
      buf[p++] = n >>> 8;
      buf[p++] = n;
    } else {
      const hi = Math.floor(n / TWO_32);
      buf[p++] = major | 27;
      buf[p++] = hi >>> 24;
      buf[p++] = hi >>> 16;
      buf[p++] = hi >>> 8;
      buf[p++] = hi;
      buf[p++] = n >>> 24;
      buf[p++] = n >>> 16;
      buf[p++] = n >>> 8;
      buf[p++] = n;
    }
    this.pos = p;
  }

  private value(v: unknown, depth: number): void {
    switch (typeof v) {
      case 'number':
        this.number(v);
        return;
      case 'string':
        this.string(v);
        return;
      case 'boolean':
        this.ensure(1);
        this.buf[this.pos++] = v ? 0xf5 : 0xf4;
        return;
      case 'object':
        if (v === null) {
          this.ensure(1);
          this.buf[this.pos++] = 0xf6;
        } else {
          this.object(v, depth);
        }
        return;
      case 'bigint':
        this.bigint(v);
        return;
      default:
        throw new InvalidArgumentError(`cannot encode ${typeof v} as CBOR`);
    }
  }

  private object(v: object, depth: number): void {
    if (Array.isArray(v)) {
      if (depth >= this.maxDepth) this.tooDeep();
      const n = v.length;
      this.head(0x80, n);
      for (let i = 0; i < n; i++) this.value(v[i], depth + 1);
      return;
    }
    if (v instanceof Uint8Array) {
      this.bytes(v);
      return;
    }
    const proto: unknown = getPrototypeOf(v);
    // Plain objects only: Object.prototype of any realm, or no prototype at all.
    if (proto !== ObjectPrototype && proto !== null && getPrototypeOf(proto) !== null) {
      if (isUint8Array(v)) {
        this.bytes(v);
        return;
      }
      throw new InvalidArgumentError(`cannot encode ${describe(v)} as CBOR`);
    }
    if (depth >= this.maxDepth) this.tooDeep();
    const keys = Object.keys(v);
    const n = keys.length;
    this.head(0xa0, n);
    for (let i = 0; i < n; i++) {
      const key = keys[i]!;
      this.string(key);
      this.value((v as Record<string, unknown>)[key], depth + 1);
    }
  }

  private tooDeep(): never {
    throw new InvalidArgumentError(
      `cannot encode: nesting deeper than ${this.maxDepth} levels (or a cyclic structure)`,
    );
  }

  private number(v: number): void {
    if (Number.isSafeInteger(v)) {
      if (v > 0 || (v === 0 && 1 / v > 0)) {
        this.head(0x00, v);
        return;
      }
      if (v < 0) {
        this.head(0x20, -1 - v);
        return;
      }
      // -0 is written as a float so that it survives.
    }
    this.float(v);
  }

  private float(v: number): void {
    this.ensure(9);
    const buf = this.buf;
    const p = this.pos;
    if (v !== v) {
      buf[p] = 0xf9;
      buf[p + 1] = 0x7e;
      buf[p + 2] = 0x00;
      this.pos = p + 3;
      return;
    }
    if (Math.fround(v) === v) {
      floatView.setFloat32(0, v);
      const bits = floatView.getUint32(0);
      const half = toHalf(bits);
      if (half >= 0) {
        buf[p] = 0xf9;
        buf[p + 1] = half >>> 8;
        buf[p + 2] = half;
        this.pos = p + 3;
      } else {
        buf[p] = 0xfa;
        buf[p + 1] = bits >>> 24;
        buf[p + 2] = bits >>> 16;
        buf[p + 3] = bits >>> 8;
        buf[p + 4] = bits;
        this.pos = p + 5;
      }
      return;
    }
    floatView.setFloat64(0, v);
    buf[p] = 0xfb;
    for (let i = 0; i < 8; i++) buf[p + 1 + i] = floatBytes[i]!;
    this.pos = p + 9;
  }

  private bigint(v: bigint): void {
    if (v >= MIN_SAFE_BIG && v <= MAX_SAFE_BIG) {
      this.head(v < 0n ? 0x20 : 0x00, Number(v < 0n ? -1n - v : v));
      return;
    }
    const negative = v < 0n;
    const magnitude = negative ? -1n - v : v;
    if (magnitude <= MAX_U64_BIG) {
      this.ensure(9);
      const buf = this.buf;
      const p = this.pos;
      const hi = Number(magnitude >> 32n);
      const lo = Number(magnitude & 0xffff_ffffn);
      buf[p] = negative ? 0x3b : 0x1b;
      buf[p + 1] = hi >>> 24;
      buf[p + 2] = hi >>> 16;
      buf[p + 3] = hi >>> 8;
      buf[p + 4] = hi;
      buf[p + 5] = lo >>> 24;
      buf[p + 6] = lo >>> 16;
      buf[p + 7] = lo >>> 8;
      buf[p + 8] = lo;
      this.pos = p + 9;
      return;
    }
    let hex = magnitude.toString(16);
    if (hex.length % 2 === 1) hex = `0${hex}`;
    const n = hex.length / 2;
    if (n > MAX_BIGNUM_BYTES) {
      throw new InvalidArgumentError(`cannot encode a bigint of more than ${MAX_BIGNUM_BYTES} bytes`);
    }
    this.ensure(1);
    this.buf[this.pos++] = negative ? 0xc3 : 0xc2;
    this.head(0x40, n);
    this.ensure(n);
    const buf = this.buf;
    const p = this.pos;
    for (let i = 0; i < n; i++) buf[p + i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    this.pos = p + n;
  }

  private bytes(v: Uint8Array): void {
    const n = v.byteLength;
    this.head(0x40, n);
    this.ensure(n);
    this.buf.set(v, this.pos);
    this.pos += n;
  }

  private string(s: string): void {
    const len = s.length;
    if (len < SHORT_STRING) {
      this.shortString(s, len);
      return;
    }
    if (!isWellFormed(s)) throw loneSurrogate();
    const max = len * 3;
    this.ensure(9 + max);
    const start = this.pos;
    const reserved = headSize(max);
    const { written } = textEncoder.encodeInto(s, this.buf.subarray(start + reserved, start + reserved + max));
    const actual = headSize(written);
    if (actual !== reserved) {
      this.buf.copyWithin(start + actual, start + reserved, start + reserved + written);
    }
    this.head(0x60, written);
    this.pos += written;
  }

  // Short strings are encoded by hand, cheaper than a call into TextEncoder.
  // ASCII is assumed until a character says otherwise: then the byte length
  // equals the string length and the head can be written after the bytes.
  private shortString(s: string, len: number): void {
    // At most 3 bytes per UTF-16 unit, so the head is at most 2 bytes.
    this.ensure(2 + len * 3);
    const buf = this.buf;
    const start = this.pos;
    let p = start + (len < 24 ? 1 : 2);
    for (let i = 0; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.unicodeString(s, len);
        return;
      }
      buf[p++] = c;
    }
    if (len < 24) {
      buf[start] = 0x60 | len;
    } else {
      buf[start] = 0x78;
      buf[start + 1] = len;
    }
    this.pos = p;
  }

  private unicodeString(s: string, len: number): void {
    let n = 0;
    for (let i = 0; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c < 0xd800 || c > 0xdfff) n += 3;
      else if (c <= 0xdbff && i + 1 < len && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        n += 4;
        i++;
      } else throw loneSurrogate();
    }
    this.head(0x60, n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) {
        buf[p++] = c;
      } else if (c < 0x800) {
        buf[p++] = 0xc0 | (c >>> 6);
        buf[p++] = 0x80 | (c & 0x3f);
      } else if (c < 0xd800 || c > 0xdfff) {
        buf[p++] = 0xe0 | (c >>> 12);
        buf[p++] = 0x80 | ((c >>> 6) & 0x3f);
        buf[p++] = 0x80 | (c & 0x3f);
      } else {
        const cp = 0x1_0000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
        buf[p++] = 0xf0 | (cp >>> 18);
        buf[p++] = 0x80 | ((cp >>> 12) & 0x3f);
        buf[p++] = 0x80 | ((cp >>> 6) & 0x3f);
        buf[p++] = 0x80 | (cp & 0x3f);
      }
    }
    this.pos = p;
  }
}

/** A fresh Uint8Array with bytes [start, end) of a plain Uint8Array. */
function copy(from: Uint8Array, start: number, end: number): Uint8Array {
  const n = end - start;
  // Filling by hand beats slice() only for the shortest copies (measured on Node 20: even at 16 bytes slice() wins).
  if (n >= 16) return from.slice(start, end);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = from[start + i]!;
  return out;
}

function loneSurrogate(): InvalidArgumentError {
  return new InvalidArgumentError('cannot encode a string with a lone surrogate as CBOR text (it has no UTF-8 form)');
}

const sharedEncoder = new Encoder();

/**
 * Encodes a value as CBOR. Throws `InvalidArgumentError` for anything outside
 * the value set (undefined, functions, symbols, class instances, lone
 * surrogates, nesting beyond `maxDepth`) and `MessageTooLargeError` above `maxBytes`.
 */
export function encodeValue(value: Value, options?: EncodeOptions): Uint8Array {
  // A getter may encode while an encoding is under way; it gets its own buffer.
  return (sharedEncoder.busy ? new Encoder() : sharedEncoder).encode(value, options);
}

/** Where `appendValue` put its result. */
export interface AppendResult {
  /** `target`, or the larger buffer it was copied into when the value did not fit. */
  buffer: Uint8Array<ArrayBuffer>;
  /** Offset just after the value. */
  end: number;
}
const appended: AppendResult = { buffer: new Uint8Array(0), end: 0 };

/**
 * Encodes `value` (default limits) into `target` from `offset`. When it does
 * not fit, the bytes before `offset` and the value go into a new, larger
 * buffer. The result object is shared and valid until the next call. For the
 * connection's write path, which encodes straight into its write buffer. Internal.
 */
export function appendValue(value: Value, target: Uint8Array<ArrayBuffer>, offset: number): AppendResult {
  return (sharedEncoder.busy ? new Encoder() : sharedEncoder).append(value, target, offset);
}

// Map keys up to KEY_CACHE_MAX bytes are remembered in a direct-mapped cache;
// a peer that thrashes it only slows its own decoding down.
const KEY_CACHE_MAX = 16;
const KEY_CACHE_SLOTS = 1024;
const keyCacheLength = new Uint8Array(KEY_CACHE_SLOTS);
const keyCacheBytes = new Uint8Array(KEY_CACHE_SLOTS * KEY_CACHE_MAX);
const keyCacheText: string[] = new Array<string>(KEY_CACHE_SLOTS).fill('');

class Decoder {
  data: Uint8Array = EMPTY;
  pos = 0;
  end = 0;
  maxDepth = DEFAULT_MAX_DEPTH;
  // Set when the caller hands the input over (see decodeOwnedValue).
  shareLarge = false;
  // Estimated heap of what the input decodes to, added up by `cost`, and its limit.
  charged = 0;
  budget = 0;

  /** Decodes the one item spanning [start, end) of `data`, nested `depth` deep; its cost must have been checked by `cost`. */
  decode(data: Uint8Array, start: number, depth: number, maxDepth: number, shareLarge: boolean): Value {
    this.data = data;
    this.shareLarge = shareLarge;
    this.pos = start;
    this.end = data.length;
    this.maxDepth = maxDepth;
    try {
      const value = this.item(depth);
      if (this.pos !== this.end) this.fail(`${this.end - this.pos} trailing bytes after the item`, this.pos);
      return value;
    } finally {
      this.data = EMPTY;
    }
  }

  /**
   * The estimated heap cost of the item spanning [start, end) of `data`,
   * found without allocating. Checks the structure as `decode` does (heads,
   * lengths, nesting, tags, simple values, text keys, trailing bytes) but not
   * UTF-8 or duplicate keys. Throws `MessageTooLargeError` as soon as the
   * cost passes `budget`.
   */
  cost(data: Uint8Array, start: number, depth: number, maxDepth: number, budget: number): number {
    this.data = data;
    this.pos = start;
    this.end = data.length;
    this.maxDepth = maxDepth;
    this.budget = budget;
    this.charged = 0;
    try {
      this.charge(DECODED_COST.slot, start);
      this.skip(depth);
      if (this.pos !== this.end) this.fail(`${this.end - this.pos} trailing bytes after the item`, this.pos);
      return this.charged;
    } finally {
      this.data = EMPTY;
    }
  }

  /**
   * Decodes the item at the current position if it is small by its head
   * alone (a number, simple value, tag, or a text or byte string of at most
   * `maxLength` bytes); returns `undefined`, consuming nothing more, for
   * anything else. For the fields of an envelope's head.
   */
  small(maxLength: number): Value | undefined {
    const start = this.pos;
    if (start >= this.end) this.fail('unexpected end of input', start);
    const ib = this.data[start]!;
    const major = ib >>> 5;
    const ai = ib & 0x1f;
    // Types and ids are almost always one-byte integers, names short text: decoded here, without the general dispatch.
    if (major === 0 && ai < 24) {
      this.pos = start + 1;
      return ai;
    }
    if (major === 3) {
      this.pos = start + 1;
      const n = this.length(ai, start, 1);
      if (n > maxLength) {
        this.pos = start;
        return undefined;
      }
      return this.text(n, start);
    }
    if (major === 4 || major === 5) return undefined;
    if (major === 2) {
      this.pos = start + 1;
      const n = this.arg(ai, start);
      this.pos = start;
      if (n > maxLength) return undefined;
    }
    // Tags hold bignums only, capped at MAX_BIGNUM_BYTES.
    return this.item(1);
  }

  /** Reads the head of the array at the start of the input and returns its declared length. */
  arrayHead(): number {
    this.pos = 1;
    return this.length(this.data[0]! & 0x1f, 0, 1);
  }

  private charge(cost: number, start: number): void {
    const charged = this.charged + cost;
    this.charged = charged;
    if (charged > this.budget) {
      throw new MessageTooLargeError(
        `CBOR item at offset ${start} takes the decoded value past its budget of ${this.budget} bytes (estimated heap)`,
      );
    }
  }

  /** Moves past the next item, charging what it costs beyond its slot (containers charge their elements' slots). */
  private skip(depth: number): void {
    const start = this.pos;
    if (start >= this.end) this.fail('unexpected end of input', start);
    const ib = this.data[start]!;
    this.pos = start + 1;
    const ai = ib & 0x1f;
    switch (ib >>> 5) {
      case 0:
      case 1:
        this.arg(ai, start);
        // Up to 16 bits is always a small integer; beyond, possibly a HeapNumber or (64 bits) a BigInt.
        if (ai >= 26) this.charge(ai === 27 ? DECODED_COST.bigint + 8 : DECODED_COST.number, start);
        return;
      case 2: {
        const n = this.length(ai, start, 1);
        this.pos += n;
        this.charge(DECODED_COST.bytes + n, start);
        return;
      }
      case 3: {
        const n = this.length(ai, start, 1);
        this.pos += n;
        if (n > 0) this.charge(DECODED_COST.string + 2 * n, start);
        return;
      }
      case 4: {
        const n = this.length(ai, start, 1);
        if (depth >= this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth} levels`, start);
        // Charged in full before any element is walked: a long array over budget costs one step.
        if (n === 0) this.charge(DECODED_COST.emptyArray, start);
        else {
          // Grown by push, capacity ends at most 1.5 n + 16 slots.
          const slack = n > EXACT_ARRAY_MAX ? n * DECODED_COST.growth + 16 * DECODED_COST.slot : 0;
          this.charge(DECODED_COST.array + n * DECODED_COST.slot + slack, start);
        }
        for (let i = 0; i < n; i++) this.skip(depth + 1);
        return;
      }
      case 5: {
        const n = this.length(ai, start, 2);
        if (depth >= this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth} levels`, start);
        this.charge(DECODED_COST.map + n * (DECODED_COST.entry + DECODED_COST.slot), start);
        for (let i = 0; i < n; i++) {
          const keyStart = this.pos;
          if (keyStart >= this.end) this.fail('unexpected end of input', keyStart);
          const kb = this.data[keyStart]!;
          if (kb >>> 5 !== 3) this.fail('map key is not a text string', keyStart);
          this.pos = keyStart + 1;
          const length = this.length(kb & 0x1f, keyStart, 1);
          this.pos += length;
          if (length > 0) this.charge(DECODED_COST.string + 2 * length, keyStart);
          this.skip(depth + 1);
        }
        return;
      }
      case 6: {
        const tag = this.arg(ai, start);
        if (tag !== 2 && tag !== 3) this.fail(`unsupported tag ${tag}`, start);
        const contentStart = this.pos;
        if (contentStart >= this.end) this.fail('unexpected end of input', contentStart);
        const cb = this.data[contentStart]!;
        if (cb >>> 5 !== 2) this.fail('bignum content is not a byte string', contentStart);
        this.pos = contentStart + 1;
        const n = this.length(cb & 0x1f, contentStart, 1);
        if (n > MAX_BIGNUM_BYTES) this.fail(`bignum longer than ${MAX_BIGNUM_BYTES} bytes`, contentStart);
        this.pos += n;
        this.charge(DECODED_COST.bigint + n, start);
        return;
      }
      default:
        switch (ai) {
          case 20:
          case 21:
          case 22:
            return;
          case 25:
          case 26:
          case 27: {
            const size = ai === 25 ? 2 : ai === 26 ? 4 : 8;
            this.need(size, start);
            this.pos += size;
            this.charge(DECODED_COST.number, start);
            return;
          }
          default:
            // The same refusals as `simple`, with the same messages.
            this.simple(ai, start);
        }
    }
  }

  private fail(reason: string, offset: number): never {
    throw new ProtocolError(`invalid CBOR: ${reason} at offset ${offset}`);
  }

  private need(n: number, start: number): void {
    if (this.end - this.pos < n) this.fail('unexpected end of input', start);
  }

  /** The argument of a head; beyond 2^53 only approximate, which is fine for lengths and tags. */
  private arg(ai: number, start: number): number {
    if (ai < 24) return ai;
    const d = this.data;
    const p = this.pos;
    switch (ai) {
      case 24:
        this.need(1, start);
        this.pos = p + 1;
        return d[p]!;
      case 25:
        this.need(2, start);
        this.pos = p + 2;
        return (d[p]! << 8) | d[p + 1]!;
      case 26:
        this.need(4, start);
        this.pos = p + 4;
        return d[p]! * 0x100_0000 + ((d[p + 1]! << 16) | (d[p + 2]! << 8) | d[p + 3]!);
      case 27: {
        this.need(8, start);
        this.pos = p + 8;
        const hi = d[p]! * 0x100_0000 + ((d[p + 1]! << 16) | (d[p + 2]! << 8) | d[p + 3]!);
        const lo = d[p + 4]! * 0x100_0000 + ((d[p + 5]! << 16) | (d[p + 6]! << 8) | d[p + 7]!);
        return hi * TWO_32 + lo;
      }
      case 31:
        return this.fail('indefinite-length items are not supported', start);
      default:
        return this.fail(`reserved additional information ${ai}`, start);
    }
  }

  /** A declared length, checked against the bytes left before anything is allocated for it. */
  private length(ai: number, start: number, unit: number): number {
    const n = this.arg(ai, start);
    const left = this.end - this.pos;
    if (n * unit > left) this.fail(`declared length ${n} exceeds the ${left} bytes left`, start);
    return n;
  }

  private uint64(negative: boolean): number | bigint {
    const d = this.data;
    const p = this.pos;
    this.need(8, p - 1);
    this.pos = p + 8;
    const hi = d[p]! * 0x100_0000 + ((d[p + 1]! << 16) | (d[p + 2]! << 8) | d[p + 3]!);
    const lo = d[p + 4]! * 0x100_0000 + ((d[p + 5]! << 16) | (d[p + 6]! << 8) | d[p + 7]!);
    if (hi < 0x20_0000) {
      const n = hi * TWO_32 + lo;
      if (!negative) return n;
      if (n < Number.MAX_SAFE_INTEGER) return -1 - n;
    }
    const big = (BigInt(hi) << 32n) | BigInt(lo);
    return negative ? -1n - big : big;
  }

  private item(depth: number): Value {
    const start = this.pos;
    if (start >= this.end) this.fail('unexpected end of input', start);
    const ib = this.data[start]!;
    this.pos = start + 1;
    const ai = ib & 0x1f;
    switch (ib >>> 5) {
      case 0:
        return ai === 27 ? this.uint64(false) : this.arg(ai, start);
      case 1:
        return ai === 27 ? this.uint64(true) : -1 - this.arg(ai, start);
      case 2: {
        const n = this.length(ai, start, 1);
        const p = this.pos;
        this.pos = p + n;
        // A view retains the input's whole buffer: only when that is at most twice the byte string.
        if (this.shareLarge && n * 2 >= this.data.buffer.byteLength) return this.data.subarray(p, p + n);
        return copy(this.data, p, p + n);
      }
      case 3:
        return this.text(this.length(ai, start, 1), start);
      case 4: {
        // Every element takes at least one byte.
        const n = this.length(ai, start, 1);
        if (depth >= this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth} levels`, start);
        if (n <= EXACT_ARRAY_MAX) {
          // At its size: an array grown by push keeps up to 17 slots for one element.
          const out = new Array<Value>(n);
          for (let i = 0; i < n; i++) out[i] = this.item(depth + 1);
          return out;
        }
        const out: Value[] = [];
        for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5:
        return this.map(this.length(ai, start, 2), depth, start);
      case 6:
        return this.tag(ai, start);
      default:
        return this.simple(ai, start);
    }
  }

  private text(n: number, start: number): string {
    const d = this.data;
    const p = this.pos;
    const e = p + n;
    this.pos = e;
    // Short ASCII (most keys and names) skips the call into TextDecoder. Only
    // up to 12 characters: from 13 on, concatenation builds a rope of
    // ConsStrings that takes several times the bytes of a flat string.
    if (n <= SHORT_TEXT) {
      let s = '';
      let i = p;
      let ascii = true;
      for (; i + 4 <= e; i += 4) {
        const a = d[i]!;
        const b = d[i + 1]!;
        const c = d[i + 2]!;
        const x = d[i + 3]!;
        if (((a | b | c | x) & 0x80) !== 0) {
          ascii = false;
          break;
        }
        s += fromCharCode(a, b, c, x);
      }
      for (; ascii && i < e; i++) {
        const c = d[i]!;
        if (c >= 0x80) ascii = false;
        else s += fromCharCode(c);
      }
      if (ascii) return s;
    }
    try {
      return textDecoder.decode(d.subarray(p, e));
    } catch {
      return this.fail('invalid UTF-8 in a text string', start);
    }
  }

  /**
   * Short keys repeat from message to message. Reusing the string decoded
   * last time saves decoding it again, and lets property access on the result
   * use a string the engine has already internalized.
   */
  private cachedKey(n: number, start: number): string {
    const d = this.data;
    const p = this.pos;
    let h = n;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ d[p + i]!, 0x0100_0193);
    const slot = (h ^ (h >>> 16)) & (KEY_CACHE_SLOTS - 1);
    const base = slot * KEY_CACHE_MAX;
    if (keyCacheLength[slot] === n) {
      let i = 0;
      while (i < n && keyCacheBytes[base + i] === d[p + i]) i++;
      if (i === n) {
        this.pos = p + n;
        return keyCacheText[slot]!;
      }
    }
    const key = this.text(n, start);
    keyCacheLength[slot] = n;
    for (let i = 0; i < n; i++) keyCacheBytes[base + i] = d[p + i]!;
    keyCacheText[slot] = key;
    return key;
  }

  private map(n: number, depth: number, start: number): { [key: string]: Value } {
    if (depth >= this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth} levels`, start);
    const out: { [key: string]: Value } = {};
    for (let i = 0; i < n; i++) {
      const keyStart = this.pos;
      if (keyStart >= this.end) this.fail('unexpected end of input', keyStart);
      const ib = this.data[keyStart]!;
      if (ib >>> 5 !== 3) this.fail('map key is not a text string', keyStart);
      this.pos = keyStart + 1;
      const length = this.length(ib & 0x1f, keyStart, 1);
      const key =
        length <= KEY_CACHE_MAX && length > 0 ? this.cachedKey(length, keyStart) : this.text(length, keyStart);
      if (hasOwn(out, key)) this.fail(`duplicate map key ${JSON.stringify(key.slice(0, 64))}`, keyStart);
      const value = this.item(depth + 1);
      // Keys that Object.prototype knows ('__proto__', 'constructor', 'toString'
      // ...) are defined, not assigned: assignment would run the __proto__
      // setter, or throw where Object.prototype is frozen.
      if (key in ObjectPrototype) {
        defineProperty(out, key, { value, writable: true, enumerable: true, configurable: true });
      } else {
        out[key] = value;
      }
    }
    return out;
  }

  private tag(ai: number, start: number): number | bigint {
    const tag = this.arg(ai, start);
    if (tag !== 2 && tag !== 3) this.fail(`unsupported tag ${tag}`, start);
    const contentStart = this.pos;
    if (contentStart >= this.end) this.fail('unexpected end of input', contentStart);
    const ib = this.data[contentStart]!;
    if (ib >>> 5 !== 2) this.fail('bignum content is not a byte string', contentStart);
    this.pos = contentStart + 1;
    const n = this.length(ib & 0x1f, contentStart, 1);
    if (n > MAX_BIGNUM_BYTES) this.fail(`bignum longer than ${MAX_BIGNUM_BYTES} bytes`, contentStart);
    const d = this.data;
    const p = this.pos;
    this.pos = p + n;
    let hex = '0x0';
    for (let i = p; i < p + n; i++) hex += HEX[d[i]!]!;
    const magnitude = BigInt(hex);
    const value = tag === 2 ? magnitude : -1n - magnitude;
    return value >= MIN_SAFE_BIG && value <= MAX_SAFE_BIG ? Number(value) : value;
  }

  private simple(ai: number, start: number): Value {
    const d = this.data;
    const p = this.pos;
    switch (ai) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return this.fail('undefined is not supported', start);
      case 25: {
        this.need(2, start);
        this.pos = p + 2;
        const h = (d[p]! << 8) | d[p + 1]!;
        const exponent = (h >>> 10) & 0x1f;
        const mantissa = h & 0x3ff;
        let v: number;
        if (exponent === 0) v = mantissa * 2 ** -24;
        else if (exponent !== 31) v = (mantissa + 1024) * 2 ** (exponent - 25);
        else v = mantissa === 0 ? Infinity : NaN;
        return h & 0x8000 ? -v : v;
      }
      case 26:
        this.need(4, start);
        this.pos = p + 4;
        for (let i = 0; i < 4; i++) floatBytes[i] = d[p + i]!;
        return floatView.getFloat32(0);
      case 27:
        this.need(8, start);
        this.pos = p + 8;
        for (let i = 0; i < 8; i++) floatBytes[i] = d[p + i]!;
        return floatView.getFloat64(0);
      case 31:
        return this.fail('unexpected break', start);
      default:
        return this.fail(`unsupported simple value (additional information ${ai})`, start);
    }
  }
}

const sharedDecoder = new Decoder();

/**
 * Decodes exactly one CBOR item that must span all of `bytes`. On malformed
 * or unsupported input it throws `ProtocolError` (code `protocol_error`);
 * when the value would take more than `maxDecodedBytes` of heap (estimated,
 * see {@link DECODED_COST}) it throws `MessageTooLargeError` before
 * decoding anything. See the module notes for what is accepted.
 */
export function decodeValue(bytes: Uint8Array, options?: DecodeOptions): Value {
  return decode(bytes, options, false);
}

/**
 * `decodeValue` for input nobody else holds or changes afterwards (a freshly
 * decrypted message): a byte string that fills at least half of the input's
 * buffer is returned as a view into it instead of a copy. Internal.
 */
export function decodeOwnedValue(bytes: Uint8Array, options?: DecodeOptions): Value {
  return decode(bytes, options, true);
}

/**
 * The estimated heap cost (see {@link DECODED_COST}) of the one item spanning
 * all of `bytes`, computed without allocating. Throws `ProtocolError` where
 * the structure is invalid and `MessageTooLargeError` once the cost passes
 * `maxDecodedBytes` (default {@link DEFAULT_MAX_DECODED_BYTES}).
 */
export function decodedCost(bytes: Uint8Array, options?: DecodeOptions): number {
  const data = plain(bytes);
  return sharedDecoder.cost(data, 0, 0, maxDepthOf(options), maxDecodedOf(options));
}

function decode(bytes: Uint8Array, options: DecodeOptions | undefined, shareLarge: boolean): Value {
  const maxDepth = maxDepthOf(options);
  const data = plain(bytes);
  sharedDecoder.cost(data, 0, 0, maxDepth, maxDecodedOf(options));
  return sharedDecoder.decode(data, 0, 0, maxDepth, shareLarge);
}

function maxDepthOf(options: DecodeOptions | undefined): number {
  if (options === undefined || options.maxDepth === undefined) return DEFAULT_MAX_DEPTH;
  return checkLimit('maxDepth', options.maxDepth, MAX_DEPTH_LIMIT);
}

function maxDecodedOf(options: DecodeOptions | undefined): number {
  if (options === undefined || options.maxDecodedBytes === undefined) return DEFAULT_MAX_DECODED_BYTES;
  return checkLimit('maxDecodedBytes', options.maxDecodedBytes, Number.MAX_SAFE_INTEGER);
}

/** `bytes` as a plain Uint8Array (Buffers and other realms' arrays are viewed, so copies of byte strings are plain too). Internal. */
export function plain(bytes: Uint8Array): Uint8Array {
  if (bytes instanceof Uint8Array && getPrototypeOf(bytes) === Uint8Array.prototype) return bytes;
  if (!isUint8Array(bytes)) {
    throw new InvalidArgumentError('decodeValue expects a Uint8Array');
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Reads received envelopes field by field, so that the connection can route
 * one (and refuse it) before its payload is decoded. Internal.
 *
 * Usage: `begin` with the envelope's bytes (a plain Uint8Array nobody else
 * changes), then `small` for each head field, then `payloadCost` and
 * `payload` for the last item, all before anything else decodes.
 */
export const envelopeReader = {
  /** Starts on `bytes`; returns the length of the array it must hold, or -1 when it is not a definite-length array. */
  begin(bytes: Uint8Array): number {
    const d = sharedDecoder;
    d.data = bytes;
    d.pos = 0;
    d.end = bytes.length;
    d.maxDepth = DEFAULT_MAX_DEPTH;
    d.shareLarge = true;
    if (bytes.length === 0 || bytes[0]! >>> 5 !== 4 || (bytes[0]! & 0x1f) === 31) return -1;
    return d.arrayHead();
  },
  /** The next field if it is small by its head alone (see `Decoder.small`), else `undefined`. */
  small(maxLength: number): Value | undefined {
    return sharedDecoder.small(maxLength);
  },
  /** Where the next item starts. */
  get offset(): number {
    return sharedDecoder.pos;
  },
  /** Lets go of the input. */
  end(): void {
    sharedDecoder.data = EMPTY;
  },
};

/**
 * The estimated heap cost of the last item of an envelope, from `offset` to
 * the end of `bytes` (see {@link decodedCost}). Internal.
 */
export function payloadCost(bytes: Uint8Array, offset: number, budget: number): number {
  // Nested in the envelope's array, as when the envelope is decoded whole.
  return sharedDecoder.cost(bytes, offset, 1, DEFAULT_MAX_DEPTH, budget);
}

/**
 * Decodes the last item of an envelope, from `offset` to the end of `bytes`,
 * as `decodeOwnedValue` does; its cost must have been checked with
 * `payloadCost`. Internal.
 */
export function decodePayload(bytes: Uint8Array, offset: number): Value {
  return sharedDecoder.decode(bytes, offset, 1, DEFAULT_MAX_DEPTH, true);
}
