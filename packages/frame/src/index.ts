export {
  AEAD_TAG_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  ENVELOPE_HEADER_BYTES,
  HANDSHAKE_FRAME_MAX_BYTES,
  MAX_ENVELOPE_LENGTH,
  MAX_NOISE_MESSAGE_BYTES,
  MAX_PLAINTEXT_PER_MESSAGE,
  NOISE_HEADER_BYTES,
} from './constants.js';
export { EnvelopeDecoder, NoiseFrameDecoder } from './frame-decoder.js';
export type { DecoderOptions } from './frame-decoder.js';
export {
  encodeFrame,
  encodeFrames,
  packEnvelopes,
  sealedLength,
  writeEnvelopeHeader,
  writeNoiseHeader,
} from './frame-writer.js';
export type { PackOptions } from './frame-writer.js';
export type { Value, WireValue } from '@peernet/interface';
export { DEFAULT_MAX_DEPTH, MAX_BIGNUM_BYTES } from './cbor-common.js';
export { appendValue, encodeValue } from './cbor-encoder.js';
export type { AppendResult, EncodeOptions } from './cbor-encoder.js';
export { DECODED_COST, DEFAULT_MAX_DECODED_BYTES, MAX_DECODED_COST_PER_BYTE } from './cbor-reader.js';
export { decodePayload, decodeValue, decodedCost, payloadCost } from './cbor-decoder.js';
export type { DecodeOptions } from './cbor-decoder.js';
export {
  EnvelopeType,
  MAX_NAME_BYTES,
  NONCE_BYTES,
  STREAM_DATA_HEAD_MAX_BYTES,
  appendEnvelope,
  decodeEnvelope,
  decodeOwnedEnvelope,
  emptyHead,
  encodeEnvelope,
  readEnvelopeHead,
  streamDataOf,
  writeStreamDataHead,
} from './envelope.js';
export type {
  CallEnvelope,
  CancelEnvelope,
  Envelope,
  EnvelopeHead,
  ErrorEnvelope,
  PingEnvelope,
  PongEnvelope,
  ReplyEnvelope,
  SendEnvelope,
  StreamAcceptEnvelope,
  StreamCreditEnvelope,
  StreamDataEnvelope,
  StreamEndEnvelope,
  StreamEnvelope,
  StreamOpenEnvelope,
  StreamResetEnvelope,
} from './envelope.js';
export { PAIRING_REQUEST_FLAG, PAYLOAD_VERSION, decodeHandshakePayload, encodeHandshakePayload } from './handshake-payload.js';
export type { HandshakePayload } from './handshake-payload.js';
