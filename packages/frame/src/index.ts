export {
  DEFAULT_MAX_MESSAGE_BYTES,
  EnvelopeDecoder,
  HANDSHAKE_FRAME_MAX_BYTES,
  MAX_NOISE_MESSAGE_BYTES,
  NoiseFrameDecoder,
} from './decoder.js';
export type { DecoderOptions } from './decoder.js';
export { MAX_PLAINTEXT_PER_MESSAGE, encodeFrame, encodeFrames, packEnvelopes } from './encoder.js';
export type { PackOptions } from './encoder.js';
