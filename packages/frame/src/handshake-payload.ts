import { HandshakeFailedError, InvalidArgumentError } from '@peernet/interface';

/** Version byte of the v1 handshake payload. */
export const PAYLOAD_VERSION = 1;
const KEY_BYTES = 32;

/**
 * Extension byte 0, bit 0, of the initiator's payload: it asks for a pairing
 * session (docs/pairing.md), not a session between paired peers. A node that
 * does not know the bit treats the dial as any other and refuses a stranger.
 */
export const PAIRING_REQUEST_FLAG = 0x01;

/** What a peer says about itself inside the encrypted handshake. */
export interface HandshakePayload {
  /** The peer's Ed25519 public key, i.e. its PeerId bytes. */
  readonly identityKey: Uint8Array;
  /** Reserved extension bytes (empty in v1). */
  readonly extensions: Uint8Array;
}

/** Lays out `u8 version | 32-byte Ed25519 key | u8 n | n extension bytes`. */
export function encodeHandshakePayload(payload: HandshakePayload): Uint8Array {
  const { identityKey, extensions } = payload;
  if (identityKey.length !== KEY_BYTES) throw new InvalidArgumentError('identityKey must be 32 bytes');
  if (extensions.length > 255) throw new InvalidArgumentError('extensions must be at most 255 bytes');
  const out = new Uint8Array(1 + KEY_BYTES + 1 + extensions.length);
  out[0] = PAYLOAD_VERSION;
  out.set(identityKey, 1);
  out[1 + KEY_BYTES] = extensions.length;
  out.set(extensions, 2 + KEY_BYTES);
  return out;
}

/**
 * Reads the fixed layout; anything else (wrong version, wrong size, a length
 * byte that disagrees with the bytes present) is a handshake failure. There
 * is deliberately no general decoder on bytes from an unauthenticated peer.
 */
export function decodeHandshakePayload(bytes: Uint8Array): HandshakePayload {
  if (bytes.length < 2 + KEY_BYTES) {
    throw new HandshakeFailedError(`handshake payload of ${bytes.length} bytes is too short`);
  }
  if (bytes[0] !== PAYLOAD_VERSION) {
    throw new HandshakeFailedError(`unsupported handshake payload version ${String(bytes[0])}`);
  }
  const n = bytes[1 + KEY_BYTES] as number;
  if (bytes.length !== 2 + KEY_BYTES + n) {
    throw new HandshakeFailedError(
      `handshake payload declares ${n} extension bytes but carries ${bytes.length - 2 - KEY_BYTES}`,
    );
  }
  return {
    identityKey: bytes.slice(1, 1 + KEY_BYTES),
    extensions: bytes.slice(2 + KEY_BYTES),
  };
}
