/**
 * The CBOR (RFC 8949) encoder for the PeerNet value set, run on every message
 * without per-value garbage.
 *
 * Choices, where the RFC leaves room:
 * - Preferred serialization (RFC 8949 §4.1): shortest heads, and floats in
 *   the shortest of half/single/double that is exact. Every NaN is written
 *   as the half-precision quiet NaN `f9 7e00`; NaN payloads are not
 *   preserved. Map keys keep the object's own key order.
 * - Text strings with a lone surrogate have no UTF-8 form. They are refused
 *   rather than replaced with U+FFFD as `TextEncoder` does: replacement would
 *   alter data silently and could turn two distinct map keys into duplicates
 *   the peer must reject.
 * - Objects are encoded when their prototype is `Object.prototype` (of any
 *   realm) or `null`: their own enumerable string keys; symbol keys are
 *   ignored. Bignum magnitudes are capped at {@link MAX_BIGNUM_BYTES}.
 * - `undefined` follows JSON: a map entry whose value is `undefined` is left
 *   out, and `undefined` elsewhere (an array element, a hole, the value
 *   itself) is written as null.
 * - A value outside the set is refused with `BadRequestError` naming where it
 *   is (`args.when: Date is not a wire value`). The path is collected only
 *   while the error unwinds, so valid values pay nothing for it.
 */
import { BadRequestError, MessageTooLargeError, formatValuePath, type WireValue } from '@peernet/interface';
import {
  DEFAULT_MAX_DEPTH,
  MAX_BIGNUM_BYTES,
  MAX_DEPTH_LIMIT,
  MAX_SAFE_BIG,
  MIN_SAFE_BIG,
  TWO_32,
  checkLimit,
  copy,
  floatBytes,
  floatView,
  getPrototypeOf,
  isUint8Array,
} from './cbor-common.js';

/** Options of {@link encodeValue}. */
export interface EncodeOptions {
  /** Deepest nesting of arrays and maps allowed (default 64); also what stops cyclic structures. */
  maxDepth?: number;
  /** Largest encoding allowed, headroom not counted (default 2^32−1, the largest a u32 prefix can carry). */
  maxBytes?: number;
  /** Zeroed bytes reserved before the encoding, e.g. for a length prefix (default 0). */
  headroom?: number;
  /** What the value is called in error messages, before the path inside it (default `value`). */
  label?: string;
}

const MAX_U32 = 0xffff_ffff;
const MAX_U64_BIG = 0xffff_ffff_ffff_ffffn;
const INITIAL_CAPACITY = 1024;
// A buffer that grew for one large message is dropped afterwards rather than kept forever.
const RETAINED_CAPACITY = 1 << 20;
const SHORT_STRING = 64;
const MAX_HEADROOM = 1 << 16;

const textEncoder = new TextEncoder();
const ObjectPrototype = Object.prototype;

const nativeIsWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function isWellFormed(text: string): boolean {
  return nativeIsWellFormed !== undefined ? nativeIsWellFormed.call(text) : !LONE_SURROGATE.test(text);
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
  return typeof ctor === 'string' && ctor !== '' ? ctor : 'an object with a custom prototype';
}

/**
 * Thrown inside the encoder when a part of the value cannot be encoded. Each
 * array or map it unwinds through adds its index or key, innermost first;
 * the entry points turn it into a `BadRequestError` with the whole path.
 */
class Unencodable {
  readonly reason: string;
  readonly path: (string | number)[] = [];

  constructor(reason: string) {
    this.reason = reason;
  }

  /** The error to raise: `<label><path>: <reason>`, the first `skip` segments of the path left out. */
  toError(label: string, skip = 0): BadRequestError {
    const valuePath = this.path.reverse().slice(skip);
    return new BadRequestError(`${formatValuePath(label, valuePath)}: ${this.reason}`, { valuePath });
  }
}

// Adds the place of a failed element to an unwinding Unencodable; passes other errors on.
function within(error: unknown, segment: string | number): unknown {
  if (error instanceof Unencodable) error.path.push(segment);
  return error;
}

function notWire(what: string): Unencodable {
  return new Unencodable(`${what} is not a wire value`);
}

class Encoder {
  buf: Uint8Array<ArrayBuffer> = new Uint8Array(INITIAL_CAPACITY);
  pos = 0;
  busy = false;
  private maxDepth = DEFAULT_MAX_DEPTH;
  private maxBytes = MAX_U32;
  private headroom = 0;

  encode(value: unknown, options: EncodeOptions | undefined): Uint8Array {
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

  /** See `appendValue`; an `Unencodable` escapes for the caller to name. */
  append(value: unknown, target: Uint8Array<ArrayBuffer>, offset: number): AppendResult {
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
      case 'undefined':
        // An array element or the whole value; map entries are left out before this.
        this.ensure(1);
        this.buf[this.pos++] = 0xf6;
        return;
      default:
        throw notWire(typeof v);
    }
  }

  private object(v: object, depth: number): void {
    if (Array.isArray(v)) {
      if (depth >= this.maxDepth) this.tooDeep();
      const n = v.length;
      this.head(0x80, n);
      let i = 0;
      try {
        for (; i < n; i++) this.value(v[i], depth + 1);
      } catch (error) {
        throw within(error, i);
      }
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
      throw notWire(describe(v));
    }
    if (depth >= this.maxDepth) this.tooDeep();
    const keys = Object.keys(v);
    const n = keys.length;
    const start = this.pos;
    this.head(0xa0, n);
    let key = '';
    let omitted = 0;
    try {
      for (let i = 0; i < n; i++) {
        key = keys[i]!;
        const item = (v as Record<string, unknown>)[key];
        if (item === undefined) {
          omitted++;
          continue;
        }
        this.string(key);
        this.value(item, depth + 1);
      }
    } catch (error) {
      throw within(error, key);
    }
    if (omitted !== 0) this.recount(start, n, n - omitted);
  }

  /** Rewrites the head of the map at `start` for `count` entries instead of `declared`, moving the entries if it shrinks. */
  private recount(start: number, declared: number, count: number): void {
    const from = start + headSize(declared);
    const to = start + headSize(count);
    const end = this.pos;
    // Room for a head past the end, so writing the new one at `start` cannot grow (and cut) the buffer.
    this.ensure(9);
    if (to !== from) this.buf.copyWithin(to, from, end);
    this.pos = start;
    this.head(0xa0, count);
    this.pos = end - (from - to);
  }

  private tooDeep(): never {
    throw new Unencodable(`nesting deeper than ${this.maxDepth} levels (or a cyclic structure)`);
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
    if (n > MAX_BIGNUM_BYTES) throw notWire(`a bigint of more than ${MAX_BIGNUM_BYTES} bytes`);
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

function loneSurrogate(): Unencodable {
  return notWire('a string with a lone surrogate (it has no UTF-8 form)');
}

const sharedEncoder = new Encoder();

/**
 * Encodes a value as CBOR. Throws `BadRequestError` naming the place of
 * anything outside the value set (functions, symbols, class instances such
 * as `Date` or `Map`, lone surrogates, nesting beyond `maxDepth`) and
 * `MessageTooLargeError` above `maxBytes`. `undefined` follows JSON's rules.
 */
export function encodeValue(value: WireValue | undefined, options?: EncodeOptions): Uint8Array {
  return encodeLabelled(value, options, options?.label ?? 'value', 0);
}

/** `encodeValue` with the first `skip` segments of an error's path left out (an envelope names its payload). */
export function encodeLabelled(value: unknown, options: EncodeOptions | undefined, label: string, skip: number): Uint8Array {
  try {
    // A getter may encode while an encoding is under way; it gets its own buffer.
    return (sharedEncoder.busy ? new Encoder() : sharedEncoder).encode(value, options);
  } catch (error) {
    throw error instanceof Unencodable ? error.toError(label, skip) : error;
  }
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
 * buffer. The result object is shared and valid until the next call. The
 * in-place writer of a write path that encodes straight into its own buffer
 * (behind room left for a header: see `writeEnvelopeHeader`).
 */
export function appendValue(value: WireValue | undefined, target: Uint8Array<ArrayBuffer>, offset: number): AppendResult {
  return appendLabelled(value, target, offset, 'value', 0);
}

/** `appendValue` with the first `skip` segments of an error's path left out (an envelope names its payload). */
export function appendLabelled(
  value: unknown,
  target: Uint8Array<ArrayBuffer>,
  offset: number,
  label: string,
  skip: number,
): AppendResult {
  try {
    return (sharedEncoder.busy ? new Encoder() : sharedEncoder).append(value, target, offset);
  } catch (error) {
    throw error instanceof Unencodable ? error.toError(label, skip) : error;
  }
}
