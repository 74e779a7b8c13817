import { HandshakeFailedError, ProtocolError, isErrorCode, isPeerNetError, type PeerNetError } from '@peernet/interface';

// The codes a failed handshake keeps; anything else becomes handshake_failed.
const HANDSHAKE_CODES = ['untrusted_peer', 'peer_mismatch', 'handshake_failed', 'timeout', 'aborted'];

/** What closes a session that failed during the handshake, as the error the dialler sees. */
export function asHandshakeError(error: unknown): PeerNetError {
  if (isPeerNetError(error) && isErrorCode(error.code)) {
    if (HANDSHAKE_CODES.includes(error.code)) return error;
    return new HandshakeFailedError(error.message, { cause: error });
  }
  return new HandshakeFailedError(messageOf(error), { cause: error });
}

/** What closes an open session that broke: typed errors as they are, anything else as `protocol_error`. */
export function asProtocolError(error: unknown): PeerNetError {
  if (isPeerNetError(error) && isErrorCode(error.code)) return error;
  return new ProtocolError(messageOf(error), { cause: error });
}

/** The message of an error, or the text of anything else thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Makes an error without a stack trace. For the close reasons raised by stream
 * events: their frames would all be node's stream internals, and capturing them
 * costs more than the rest of closing a session (tens of µs per close here).
 */
export function withoutStack<T>(make: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
