export { Connection, PROLOGUE, openConnection } from './connection.js';
export type { CallOptions, ConnectionOptions, LocalIdentity, Timers, TrustCheck } from './connection.js';
export type { Authorize, ExposedHandler, Handler, HandlerContext, HandlerLookup } from './handlers.js';
export { decodeHandshakePayload, encodeHandshakePayload, PAYLOAD_VERSION } from './handshake-payload.js';
export type { HandshakePayload } from './handshake-payload.js';
export { decodeValue, encodeValue } from './cbor.js';
export type { Value } from './cbor.js';
export { EnvelopeType, decodeEnvelope, encodeEnvelope } from './envelope.js';
export type { Envelope } from './envelope.js';
