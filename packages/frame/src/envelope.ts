/**
 * The envelopes of wire protocol v1: CBOR arrays whose first element is the
 * type. Decoding checks the shape strictly; a peer that sends anything else
 * has broken the protocol, and the caller closes the connection.
 *
 * Integers and integral floats are the same `number` once decoded, so an `id`
 * written as a float with an integral value is accepted.
 */
import { InvalidArgumentError, ProtocolError, type Value } from '@peernet/interface';
import { isUint8Array } from './cbor-common.js';
import { ENVELOPE_HEADER_BYTES } from './constants.js';
import { decodeOwnedValue, decodeValue, envelopeReader, plain, type DecodeOptions } from './cbor-decoder.js';
import { appendLabelled, encodeLabelled, type AppendResult, type EncodeOptions } from './cbor-encoder.js';

/** The envelope type numbers (first element of the array). */
export const EnvelopeType = {
  Call: 1,
  Reply: 2,
  Error: 3,
  Send: 4,
  Ping: 5,
  Pong: 6,
  Cancel: 7,
  StreamOpen: 8,
  StreamAccept: 9,
  StreamData: 10,
  StreamCredit: 11,
  StreamEnd: 12,
  StreamReset: 13,
} as const;

/** One of the envelope type numbers. */
export type EnvelopeType = (typeof EnvelopeType)[keyof typeof EnvelopeType];

/** Longest handler name, in UTF-8 bytes; names are identifiers, not payload. */
export const MAX_NAME_BYTES = 256;

/** Size of a ping/pong nonce in bytes. */
export const NONCE_BYTES = 8;

/** `[1, id, name, args]`: a call that expects a reply. */
export interface CallEnvelope {
  type: typeof EnvelopeType.Call;
  id: number;
  name: string;
  args: Value;
}

/** `[2, id, result]`: a successful reply. */
export interface ReplyEnvelope {
  type: typeof EnvelopeType.Reply;
  id: number;
  result: Value;
}

/** `[3, id, code, message]`: a failure reply. */
export interface ErrorEnvelope {
  type: typeof EnvelopeType.Error;
  id: number;
  code: string;
  message: string;
}

/** `[4, name, args]`: a one-way send. */
export interface SendEnvelope {
  type: typeof EnvelopeType.Send;
  name: string;
  args: Value;
}

/** `[5, nonce]`: a liveness ping. */
export interface PingEnvelope {
  type: typeof EnvelopeType.Ping;
  nonce: Uint8Array;
}

/** `[6, nonce]`: the answer to a ping, echoing its nonce. */
export interface PongEnvelope {
  type: typeof EnvelopeType.Pong;
  nonce: Uint8Array;
}

/** `[7, id]`: the caller gave up on an outstanding call. */
export interface CancelEnvelope {
  type: typeof EnvelopeType.Cancel;
  id: number;
}

/** `[8, stream, name, window]`: open a byte stream to handler `name`, granting `window` bytes of credit. */
export interface StreamOpenEnvelope {
  type: typeof EnvelopeType.StreamOpen;
  stream: number;
  name: string;
  window: number;
}

/** `[9, stream, window]`: the stream is accepted; the acceptor grants `window` bytes of credit. */
export interface StreamAcceptEnvelope {
  type: typeof EnvelopeType.StreamAccept;
  stream: number;
  window: number;
}

/** `[10, stream, bytes]`: stream data, within the credit granted. */
export interface StreamDataEnvelope {
  type: typeof EnvelopeType.StreamData;
  stream: number;
  data: Uint8Array;
}

/** `[11, stream, credit]`: the reader consumed data; the writer may send `credit` more bytes. */
export interface StreamCreditEnvelope {
  type: typeof EnvelopeType.StreamCredit;
  stream: number;
  credit: number;
}

/** `[12, stream]`: the sender writes no more data on this stream (half-close). */
export interface StreamEndEnvelope {
  type: typeof EnvelopeType.StreamEnd;
  stream: number;
}

/** `[13, stream, code, message]`: the stream is aborted both ways (or its open refused). */
export interface StreamResetEnvelope {
  type: typeof EnvelopeType.StreamReset;
  stream: number;
  code: string;
  message: string;
}

/** The envelopes that carry a byte stream (types 8 to 13). */
export type StreamEnvelope =
  | StreamOpenEnvelope
  | StreamAcceptEnvelope
  | StreamDataEnvelope
  | StreamCreditEnvelope
  | StreamEndEnvelope
  | StreamResetEnvelope;

/** Any envelope of wire protocol v1. */
export type Envelope =
  | CallEnvelope
  | ReplyEnvelope
  | ErrorEnvelope
  | SendEnvelope
  | PingEnvelope
  | PongEnvelope
  | CancelEnvelope
  | StreamEnvelope;

function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if ((c & 0xfc00) === 0xd800 && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isName(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME_BYTES) return false;
  return value.length * 3 <= MAX_NAME_BYTES || utf8Length(value) <= MAX_NAME_BYTES;
}

function isNonce(value: unknown): value is Uint8Array {
  return isUint8Array(value) && value.byteLength === NONCE_BYTES;
}

function invalid(reason: string): never {
  throw new InvalidArgumentError(`cannot encode envelope: ${reason}`);
}

function checkId(id: unknown): number {
  return isId(id) ? id : invalid('id must be a safe non-negative integer');
}

function checkName(name: unknown): string {
  return isName(name) ? name : invalid(`name must be a non-empty string of at most ${MAX_NAME_BYTES} UTF-8 bytes`);
}

function checkNonce(nonce: unknown): Uint8Array {
  return isNonce(nonce) ? nonce : invalid(`nonce must be ${NONCE_BYTES} bytes`);
}

function checkString(value: unknown, field: string): string {
  return typeof value === 'string' ? value : invalid(`${field} must be a string`);
}

/**
 * Encodes an envelope as its CBOR array (no length prefix; use
 * `options.headroom` to reserve room for one). Throws `InvalidArgumentError`
 * for a malformed envelope, and `BadRequestError` for arguments or a result
 * that cannot be encoded, naming the place from `args` or `result`.
 */
export function encodeEnvelope(envelope: Envelope, options?: EncodeOptions): Uint8Array {
  const items = envelopeValue(envelope);
  return encodeLabelled(items, options, payloadLabel(items), 1);
}

/**
 * Encodes an envelope into `target` from `offset` (see `appendValue`): the
 * in-place writer of a write path, which leaves room for the u32 header
 * before `offset` and fills it in with `writeEnvelopeHeader` afterwards.
 * Errors as for {@link encodeEnvelope}.
 */
export function appendEnvelope(envelope: Envelope, target: Uint8Array<ArrayBuffer>, offset: number): AppendResult {
  const items = envelopeValue(envelope);
  return appendLabelled(items, target, offset, payloadLabel(items), 1);
}

// Only the payload (the last item) of a call, send or reply can fail to encode: it is named from there.
function payloadLabel(items: readonly unknown[]): string {
  return items[0] === EnvelopeType.Reply ? 'result' : 'args';
}

function envelopeValue(envelope: Envelope): unknown[] {
  const e = envelope as unknown as Partial<Record<string, unknown>> | null;
  if (typeof e !== 'object' || e === null) invalid('not an object');
  switch (e.type) {
    case EnvelopeType.Call:
      return [1, checkId(e.id), checkName(e.name), e.args as Value];
    case EnvelopeType.Reply:
      return [2, checkId(e.id), e.result as Value];
    case EnvelopeType.Error:
      return [3, checkId(e.id), checkString(e.code, 'code'), checkString(e.message, 'message')];
    case EnvelopeType.Send:
      return [4, checkName(e.name), e.args as Value];
    case EnvelopeType.Ping:
      return [5, checkNonce(e.nonce)];
    case EnvelopeType.Pong:
      return [6, checkNonce(e.nonce)];
    case EnvelopeType.Cancel:
      return [7, checkId(e.id)];
    case EnvelopeType.StreamOpen:
      return [8, checkId(e.stream), checkName(e.name), checkId(e.window)];
    case EnvelopeType.StreamAccept:
      return [9, checkId(e.stream), checkId(e.window)];
    case EnvelopeType.StreamData:
      return isUint8Array(e.data) ? [10, checkId(e.stream), e.data] : invalid('data must be a Uint8Array');
    case EnvelopeType.StreamCredit:
      return [11, checkId(e.stream), checkId(e.credit)];
    case EnvelopeType.StreamEnd:
      return [12, checkId(e.stream)];
    case EnvelopeType.StreamReset:
      return [13, checkId(e.stream), checkString(e.code, 'code'), checkString(e.message, 'message')];
    default:
      return invalid('unknown type');
  }
}

function malformed(reason: string): never {
  throw new ProtocolError(`invalid envelope: ${reason}`);
}

function expectLength(items: Value[], length: number, kind: string): void {
  if (items.length !== length) malformed(`${kind} has ${items.length} elements, expected ${length}`);
}

function readId(value: Value | undefined): number {
  // -0 (a float) is normalised so that ids compare and print as plain 0.
  return isId(value) ? value + 0 : malformed('id is not an unsigned integer below 2^53');
}

function readCount(value: Value | undefined, field: string): number {
  return isId(value) ? value + 0 : malformed(`${field} is not an unsigned integer below 2^53`);
}

function readName(value: Value | undefined): string {
  return isName(value) ? value : malformed(`name is not a non-empty string of at most ${MAX_NAME_BYTES} UTF-8 bytes`);
}

function readNonce(value: Value | undefined): Uint8Array {
  return isNonce(value) ? value : malformed(`nonce is not ${NONCE_BYTES} bytes`);
}

function readString(value: Value | undefined, field: string): string {
  return typeof value === 'string' ? value : malformed(`${field} is not a string`);
}

function describeType(value: Value | undefined): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return `of kind ${typeof value}`;
}

/**
 * Decodes and validates one envelope (the CBOR array without its length
 * prefix). Anything of unknown shape throws `ProtocolError`.
 */
export function decodeEnvelope(bytes: Uint8Array, options?: DecodeOptions): Envelope {
  return envelopeOf(decodeValue(bytes, options));
}

/** `decodeEnvelope` for bytes handed over for good (a freshly decrypted message): large byte strings may be views into them. */
export function decodeOwnedEnvelope(bytes: Uint8Array, options?: DecodeOptions): Envelope {
  return envelopeOf(decodeOwnedValue(bytes, options));
}

/**
 * What a received envelope says before its payload: enough to route a call,
 * a send or a reply (and to refuse it) before its arguments or result are
 * decoded. Filled by `readEnvelopeHead`.
 */
export interface EnvelopeHead {
  type: EnvelopeType;
  /** The envelope's bytes as a plain Uint8Array, for `payloadCost` and `decodePayload`. */
  bytes: Uint8Array;
  /** Call and reply; the stream id of stream data. */
  id: number;
  /** Call and send. */
  name: string;
  /** Offset of the last item (arguments or result) of a call, send or reply; the byte string of stream data. */
  payload: number;
}

/** A fresh `EnvelopeHead`, to reuse for every envelope a connection receives. */
export function emptyHead(): EnvelopeHead {
  return { type: EnvelopeType.Call, bytes: new Uint8Array(0), id: 0, name: '', payload: 0 };
}

/**
 * Reads the type and, for a call, send or reply, the fields before the
 * payload into `head`, checking the shape as `decodeEnvelope` does; the
 * payload itself is neither decoded nor checked (`payloadCost` and
 * `decodePayload` do that when it is wanted). For the other types only the
 * type is read: decode them whole. Throws `ProtocolError` for a malformed
 * head.
 */
export function readEnvelopeHead(bytes: Uint8Array, head: EnvelopeHead): EnvelopeType {
  const data = plain(bytes);
  head.bytes = data;
  const reader = envelopeReader;
  try {
    const length = reader.begin(data);
    if (length <= 0) return malformed('not a non-empty array');
    const type = reader.small(MAX_NAME_BYTES);
    switch (type) {
      case EnvelopeType.Call:
        expectCount(length, 4, 'call');
        head.id = readId(reader.small(0));
        head.name = readName(reader.small(MAX_NAME_BYTES));
        break;
      case EnvelopeType.Send:
        expectCount(length, 3, 'send');
        head.name = readName(reader.small(MAX_NAME_BYTES));
        break;
      case EnvelopeType.Reply:
        expectCount(length, 3, 'reply');
        head.id = readId(reader.small(0));
        break;
      case EnvelopeType.StreamData:
        expectCount(length, 3, 'stream data');
        head.id = readId(reader.small(0));
        break;
      case EnvelopeType.Error:
      case EnvelopeType.Ping:
      case EnvelopeType.Pong:
      case EnvelopeType.Cancel:
      case EnvelopeType.StreamOpen:
      case EnvelopeType.StreamAccept:
      case EnvelopeType.StreamCredit:
      case EnvelopeType.StreamEnd:
      case EnvelopeType.StreamReset:
        head.type = type;
        return type;
      default:
        return malformed(`unknown type ${type === undefined ? 'of kind object' : describeType(type)}`);
    }
    head.type = type;
    head.payload = reader.offset;
    return type;
  } finally {
    reader.end();
  }
}

function expectCount(count: number, length: number, kind: string): void {
  if (count !== length) malformed(`${kind} has ${count} elements, expected ${length}`);
}

function envelopeOf(items: Value): Envelope {
  if (!Array.isArray(items) || items.length === 0) return malformed('not a non-empty array');
  const type = items[0];
  switch (type) {
    case EnvelopeType.Call:
      expectLength(items, 4, 'call');
      return { type, id: readId(items[1]), name: readName(items[2]), args: items[3]! };
    case EnvelopeType.Reply:
      expectLength(items, 3, 'reply');
      return { type, id: readId(items[1]), result: items[2]! };
    case EnvelopeType.Error:
      expectLength(items, 4, 'error reply');
      return {
        type,
        id: readId(items[1]),
        code: readString(items[2], 'code'),
        message: readString(items[3], 'message'),
      };
    case EnvelopeType.Send:
      expectLength(items, 3, 'send');
      return { type, name: readName(items[1]), args: items[2]! };
    case EnvelopeType.Ping:
      expectLength(items, 2, 'ping');
      return { type, nonce: readNonce(items[1]) };
    case EnvelopeType.Pong:
      expectLength(items, 2, 'pong');
      return { type, nonce: readNonce(items[1]) };
    case EnvelopeType.Cancel:
      expectLength(items, 2, 'cancel');
      return { type, id: readId(items[1]) };
    case EnvelopeType.StreamOpen:
      expectLength(items, 4, 'stream open');
      return { type, stream: readId(items[1]), name: readName(items[2]), window: readCount(items[3], 'window') };
    case EnvelopeType.StreamAccept:
      expectLength(items, 3, 'stream accept');
      return { type, stream: readId(items[1]), window: readCount(items[2], 'window') };
    case EnvelopeType.StreamData: {
      expectLength(items, 3, 'stream data');
      const data = items[2];
      return isUint8Array(data) ? { type, stream: readId(items[1]), data } : malformed('stream data is not a byte string');
    }
    case EnvelopeType.StreamCredit:
      expectLength(items, 3, 'stream credit');
      return { type, stream: readId(items[1]), credit: readCount(items[2], 'credit') };
    case EnvelopeType.StreamEnd:
      expectLength(items, 2, 'stream end');
      return { type, stream: readId(items[1]) };
    case EnvelopeType.StreamReset:
      expectLength(items, 4, 'stream reset');
      return {
        type,
        stream: readId(items[1]),
        code: readString(items[2], 'code'),
        message: readString(items[3], 'message'),
      };
    default:
      return malformed(`unknown type ${describeType(type)}`);
  }
}

/**
 * The bytes of a stream data envelope whose head `readEnvelopeHead` read (its
 * stream id is `head.id`): a view into `head.bytes`, not a copy. Throws
 * `ProtocolError` unless the last item is one definite-length byte string
 * that ends the envelope.
 */
export function streamDataOf(head: EnvelopeHead): Uint8Array {
  const bytes = head.bytes;
  const at = head.payload;
  const ib = bytes[at];
  if (ib === undefined || ib >>> 5 !== 2) return malformed('stream data is not a byte string');
  const ai = ib & 0x1f;
  let length: number;
  let start: number;
  if (ai < 24) [length, start] = [ai, at + 1];
  else if (ai === 24) [length, start] = [bytes[at + 1] ?? -1, at + 2];
  else if (ai === 25) [length, start] = [((bytes[at + 1] ?? 0) << 8) | (bytes[at + 2] ?? 0), at + 3];
  else if (ai === 26) [length, start] = [readU32(bytes, at + 1), at + 5];
  // A u64 length is valid CBOR (the decoder takes it): only its low half can be non-zero here.
  else if (ai === 27 && readU32(bytes, at + 1) === 0) [length, start] = [readU32(bytes, at + 5), at + 9];
  else return malformed('stream data length is not a definite length below 2^32');
  if (start + length !== bytes.length || start > bytes.length) return malformed('stream data length does not match the envelope');
  return bytes.subarray(start, start + length);
}

function readU32(bytes: Uint8Array, at: number): number {
  if (at + 4 > bytes.length) return -1;
  return ((bytes[at]! << 24) >>> 0) + (bytes[at + 1]! << 16) + (bytes[at + 2]! << 8) + bytes[at + 3]!;
}

/** Most bytes `writeStreamDataHead` writes: the u32 envelope header and the CBOR head of `[10, stream, bytes]`. */
export const STREAM_DATA_HEAD_MAX_BYTES = ENVELOPE_HEADER_BYTES + 1 + 1 + 9 + 5;

/**
 * Writes the u32 envelope header and the CBOR head of a stream data
 * envelope carrying `length` bytes into `target` at `offset`, and returns
 * where the bytes themselves go: a sender seals them from the application's
 * buffer, by reference, after this head. Room for
 * `STREAM_DATA_HEAD_MAX_BYTES` must be there.
 */
export function writeStreamDataHead(target: Uint8Array, offset: number, stream: number, length: number): number {
  checkId(stream);
  if (!Number.isSafeInteger(length) || length < 0 || length > 0xffff_ffff - (STREAM_DATA_HEAD_MAX_BYTES - ENVELOPE_HEADER_BYTES)) invalid('stream data length must fit in the u32 envelope header with its head');
  let at = offset + ENVELOPE_HEADER_BYTES;
  target[at++] = 0x83;
  target[at++] = EnvelopeType.StreamData;
  at = writeUint(target, at, 0, stream);
  at = writeUint(target, at, 2, length);
  const envelopeLength = at - offset - ENVELOPE_HEADER_BYTES + length;
  target[offset] = envelopeLength >>> 24;
  target[offset + 1] = (envelopeLength >>> 16) & 0xff;
  target[offset + 2] = (envelopeLength >>> 8) & 0xff;
  target[offset + 3] = envelopeLength & 0xff;
  return at;
}

// A CBOR head of major type `major` with argument `value` (a safe integer), shortest form.
function writeUint(target: Uint8Array, at: number, major: number, value: number): number {
  const m = major << 5;
  if (value < 24) target[at++] = m | value;
  else if (value < 0x100) {
    target[at++] = m | 24;
    target[at++] = value;
  } else if (value < 0x1_0000) {
    target[at++] = m | 25;
    target[at++] = value >>> 8;
    target[at++] = value & 0xff;
  } else if (value < 0x1_0000_0000) {
    target[at++] = m | 26;
    target[at++] = value >>> 24;
    target[at++] = (value >>> 16) & 0xff;
    target[at++] = (value >>> 8) & 0xff;
    target[at++] = value & 0xff;
  } else {
    target[at++] = m | 27;
    const high = Math.floor(value / 0x1_0000_0000);
    const low = value >>> 0;
    for (const [word, shift] of [[high, 24], [high, 16], [high, 8], [high, 0], [low, 24], [low, 16], [low, 8], [low, 0]] as const) {
      target[at++] = (word >>> shift) & 0xff;
    }
  }
  return at;
}
