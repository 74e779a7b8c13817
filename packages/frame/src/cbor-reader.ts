/**
 * The token level of the CBOR decoder: heads, arguments and declared lengths,
 * each checked against the bytes present, and the walk that estimates what
 * an item will cost in heap before anything of it is decoded.
 *
 * What decoding may cost is bounded in heap, not only in input bytes: one
 * byte of CBOR can become an object of tens of bytes (`a0` is `{}`). Before
 * allocating anything, the decoder walks the input and adds up an estimate of
 * the V8 heap the result will take ({@link DECODED_COST}); above
 * `maxDecodedBytes` it throws `MessageTooLargeError` without decoding.
 */
import { MessageTooLargeError, ProtocolError, type Value } from '@peernet/interface';
import { DEFAULT_MAX_DEPTH, MAX_BIGNUM_BYTES, TWO_32, floatBytes, floatView } from './cbor-common.js';

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

/** The empty input a reader holds between uses, so it keeps no caller's bytes alive. */
export const EMPTY = new Uint8Array(0);

/** Reads CBOR heads and walks items for their cost; the decoder builds values on top of it. */
export class CborReader {
  data: Uint8Array = EMPTY;
  pos = 0;
  end = 0;
  maxDepth = DEFAULT_MAX_DEPTH;
  // Estimated heap of what the input decodes to, added up by `cost`, and its limit.
  charged = 0;
  budget = 0;

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
        const n = this.bignum(ai, start).length;
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

  /**
   * Reads a bignum's tag (2 positive, 3 negative: the only tags allowed) and
   * the header of its byte string; leaves `pos` at the magnitude.
   */
  protected bignum(ai: number, start: number): { negative: boolean; length: number } {
    const tag = this.arg(ai, start);
    if (tag !== 2 && tag !== 3) this.fail(`unsupported tag ${tag}`, start);
    const contentStart = this.pos;
    if (contentStart >= this.end) this.fail('unexpected end of input', contentStart);
    const cb = this.data[contentStart]!;
    if (cb >>> 5 !== 2) this.fail('bignum content is not a byte string', contentStart);
    this.pos = contentStart + 1;
    const length = this.length(cb & 0x1f, contentStart, 1);
    if (length > MAX_BIGNUM_BYTES) this.fail(`bignum longer than ${MAX_BIGNUM_BYTES} bytes`, contentStart);
    return { negative: tag === 3, length };
  }

  protected fail(reason: string, offset: number): never {
    throw new ProtocolError(`invalid CBOR: ${reason} at offset ${offset}`);
  }

  protected need(n: number, start: number): void {
    if (this.end - this.pos < n) this.fail('unexpected end of input', start);
  }

  /** The argument of a head; beyond 2^53 only approximate, which is fine for lengths and tags. */
  protected arg(ai: number, start: number): number {
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
  protected length(ai: number, start: number, unit: number): number {
    const n = this.arg(ai, start);
    const left = this.end - this.pos;
    if (n * unit > left) this.fail(`declared length ${n} exceeds the ${left} bytes left`, start);
    return n;
  }

  /** A value of major type 7: `false`, `true`, `null` or a float; the other simple values are refused. */
  protected simple(ai: number, start: number): Value {
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
