export { Connection, openConnection } from './connection.js';
export { PROLOGUE } from './handshake.js';
export type { ConnectionOptions, LocalIdentity, Timers, TrustCheck } from './options.js';
export type { ExposedHandler, HandlerLookup } from './handlers.js';
// Kept for compatibility: these now belong to @peernet/interface (the handler
// and call types, the value model) and @peernet/frame (the wire codecs).
export type { Authorize, CallOptions, Handler, HandlerContext, Value } from '@peernet/interface';
export {
  EnvelopeType,
  PAYLOAD_VERSION,
  decodeEnvelope,
  decodeHandshakePayload,
  decodeValue,
  encodeEnvelope,
  encodeHandshakePayload,
  encodeValue,
} from '@peernet/frame';
export type { Envelope, HandshakePayload } from '@peernet/frame';
