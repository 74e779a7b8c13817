export { Connection, openConnection } from './connection.js';
export { PROLOGUE } from './handshake.js';
export type { ConnectionOptions, LocalIdentity, PairingAccess, Timers, TrustCheck } from './options.js';
export { PAIRING_MAX_MESSAGE_BYTES } from './options.js';
// Kept for compatibility: the types now belong to @peernet/interface, the codecs to @peernet/frame.
export type { Authorize, CallOptions, ExposedHandler, Handler, HandlerContext, HandlerLookup, Value, WireCompatible, WireValue } from '@peernet/interface';
export { EnvelopeType, PAYLOAD_VERSION, decodeEnvelope, decodeHandshakePayload } from '@peernet/frame';
export { decodeValue, encodeEnvelope, encodeHandshakePayload, encodeValue } from '@peernet/frame';
export type { Envelope, HandshakePayload } from '@peernet/frame';
export { DEFAULT_STREAM_WINDOW_BYTES, MAX_STREAM_WINDOW_BYTES } from './streams.js';
