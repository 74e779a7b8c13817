import {
  HandshakeFailedError, ProtocolError, errorMessage, isErrorCode, isPeerNetError, type PeerNetError,
} from '@peernet/interface';

// The codes a failed handshake keeps; anything else becomes handshake_failed.
const HANDSHAKE_CODES = ['untrusted_peer', 'peer_mismatch', 'handshake_failed', 'timeout', 'aborted'];

/** What closes a session that failed during the handshake, as the error the dialler sees. */
export function asHandshakeError(error: unknown): PeerNetError {
  if (isPeerNetError(error) && isErrorCode(error.code)) {
    if (HANDSHAKE_CODES.includes(error.code)) return error;
    return new HandshakeFailedError(error.message, { cause: error });
  }
  return new HandshakeFailedError(errorMessage(error), { cause: error });
}

/** What closes an open session that broke: typed errors as they are, anything else as `protocol_error`. */
export function asProtocolError(error: unknown): PeerNetError {
  if (isPeerNetError(error) && isErrorCode(error.code)) return error;
  return new ProtocolError(errorMessage(error), { cause: error });
}
