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

/** Any envelope of wire protocol v1. */
export type Envelope =
  | CallEnvelope
  | ReplyEnvelope
  | ErrorEnvelope
  | SendEnvelope
  | PingEnvelope
  | PongEnvelope
  | CancelEnvelope;

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
  /** Call and reply. */
  id: number;
  /** Call and send. */
  name: string;
  /** Offset of the last item (arguments or result) of a call, send or reply. */
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
      case EnvelopeType.Error:
      case EnvelopeType.Ping:
      case EnvelopeType.Pong:
      case EnvelopeType.Cancel:
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
    default:
      return malformed(`unknown type ${describeType(type)}`);
  }
}
