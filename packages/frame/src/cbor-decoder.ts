/**
 * The CBOR (RFC 8949) decoder for the PeerNet value set, safe on hostile bytes.
 *
 * Choices, where the RFC leaves room:
 * - Non-shortest heads and floats are accepted (the RFC allows them, and
 *   rejecting them buys no safety). Whether an integer decodes as `number`
 *   or `bigint` depends only on its value, never on how it was written:
 *   values within ±(2^53−1) are `number`, all others `bigint`, and a bignum
 *   (tag 2/3) holding a small value decodes as `number` too.
 * - Byte strings decode as copies, so a decoded value never keeps the whole
 *   received frame alive (but see `decodeOwnedValue`).
 * - Bignum magnitudes are capped at {@link MAX_BIGNUM_BYTES}: larger numbers
 *   belong in a byte string, and the cap bounds the cost of conversion.
 * - The heap a value will take is estimated and bounded before decoding (see
 *   `cbor-reader.ts` and {@link DECODED_COST}).
 * - Maps decode as ordinary objects (prototype `Object.prototype`); keys such
 *   as `__proto__` and `constructor` become own data properties, and
 *   `Object.prototype` is never written.
 */
import { InvalidArgumentError, type Value } from '@peernet/interface';
import {
  DEFAULT_MAX_DEPTH,
  MAX_BIGNUM_BYTES,
  MAX_DEPTH_LIMIT,
  MAX_SAFE_BIG,
  MIN_SAFE_BIG,
  TWO_32,
  checkLimit,
  copy,
  getPrototypeOf,
  isUint8Array,
} from './cbor-common.js';
import { CborReader, DECODED_COST, DEFAULT_MAX_DECODED_BYTES, EMPTY, EXACT_ARRAY_MAX } from './cbor-reader.js';

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

// Longest text decoded by concatenation (V8 makes flat strings below 13 characters).
const SHORT_TEXT = 12;
// ignoreBOM: a leading U+FEFF is data, not a marker to strip.
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const ObjectPrototype = Object.prototype;
const defineProperty = Object.defineProperty;
const hasOwn = Object.hasOwn;
const fromCharCode = String.fromCharCode;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

// Map keys up to KEY_CACHE_MAX bytes are remembered in a direct-mapped cache;
// a peer that thrashes it only slows its own decoding down.
const KEY_CACHE_MAX = 16;
const KEY_CACHE_SLOTS = 1024;
const keyCacheLength = new Uint8Array(KEY_CACHE_SLOTS);
const keyCacheBytes = new Uint8Array(KEY_CACHE_SLOTS * KEY_CACHE_MAX);
const keyCacheText: string[] = new Array<string>(KEY_CACHE_SLOTS).fill('');

class Decoder extends CborReader {
  // Set when the caller hands the input over (see decodeOwnedValue).
  shareLarge = false;

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
    const { negative, length: n } = this.bignum(ai, start);
    const d = this.data;
    const p = this.pos;
    this.pos = p + n;
    let hex = '0x0';
    for (let i = p; i < p + n; i++) hex += HEX[d[i]!]!;
    const magnitude = BigInt(hex);
    const value = negative ? -1n - magnitude : magnitude;
    return value >= MIN_SAFE_BIG && value <= MAX_SAFE_BIG ? Number(value) : value;
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
 * buffer is returned as a view into it instead of a copy. Internal: the
 * connection hands its envelopes over through `decodeOwnedEnvelope`.
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
 * the end of `bytes` (see {@link decodedCost}); `budget` is `maxDecodedBytes`.
 * For a read path that routes an envelope on its head before its payload.
 */
export function payloadCost(bytes: Uint8Array, offset: number, budget: number): number {
  // Nested in the envelope's array, as when the envelope is decoded whole.
  return sharedDecoder.cost(bytes, offset, 1, DEFAULT_MAX_DEPTH, budget);
}

/**
 * Decodes the last item of an envelope, from `offset` to the end of `bytes`,
 * as `decodeOwnedValue` does; its cost must have been checked with
 * `payloadCost`. For a read path that routes an envelope on its head first.
 */
export function decodePayload(bytes: Uint8Array, offset: number): Value {
  return sharedDecoder.decode(bytes, offset, 1, DEFAULT_MAX_DEPTH, true);
}
