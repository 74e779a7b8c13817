/**
 * Every error PeerNet raises is a `PeerNetError` with a stable `code`.
 * Match on `code`, not on `instanceof`: two copies of this package can be
 * loaded in one process, and codes also cross the wire in error replies.
 */

/** The codes that may travel in a failure reply (`[3, id, code, message]`). */
export const WIRE_ERROR_CODES = [
  'not_connected',
  'timeout',
  'no_such_handle',
  'forbidden',
  'handler_error',
  'connection_closed',
  'message_too_large',
  'bad_request',
  'untrusted_peer',
  'peer_mismatch',
  'handshake_failed',
  'aborted',
  'stream_reset',
  'too_many_streams',
] as const;

/** A code that may appear on the wire. */
export type WireErrorCode = (typeof WIRE_ERROR_CODES)[number];

/** The codes of errors that are raised locally only and never sent to a peer. */
export const LOCAL_ERROR_CODES = [
  'invalid_argument',
  'invalid_peer_id',
  'invalid_keyfile',
  'insecure_keyfile',
  'corrupt_trust_store',
  'unsafe_permissions',
  'permission_denied',
  'refused_by_peer',
  'frame_too_large',
  'protocol_error',
  'noise_error',
  'decrypt_failed',
  'nonce_exhausted',
  'pairing_failed',
  'invite_closed',
  'inviter_not_found',
] as const;

/** Codes of errors that are raised locally only and never sent to a peer. */
export type LocalErrorCode = (typeof LOCAL_ERROR_CODES)[number];

/** Every stable error code. */
export type ErrorCode = WireErrorCode | LocalErrorCode;

/** Options accepted by every PeerNet error constructor. */
export interface PeerNetErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
}

/** Base class of all PeerNet errors. */
export class PeerNetError extends Error {
  /** Stable, machine-readable code. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: PeerNetErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** Options of an error about a file or directory. */
export interface FileErrorOptions extends PeerNetErrorOptions {
  /** The file or directory the error is about, when known. */
  path?: string;
}

/**
 * Base class of the errors about a file or directory (a keyfile, a trust
 * file, one of their directories), so callers can report `path` without
 * knowing which package raised the error.
 */
export class FileError extends PeerNetError {
  /** The file or directory the error is about, when known. */
  readonly path: string | undefined;

  constructor(code: ErrorCode, message: string, options?: FileErrorOptions) {
    super(code, message, options);
    this.path = options?.path;
  }
}

/** `send`/`call` to a peer without a live connection (walkie-talkie delivery). */
export class NotConnectedError extends PeerNetError {
  constructor(message = 'peer is not connected', options?: PeerNetErrorOptions) {
    super('not_connected', message, options);
  }
}

/** A call or handshake did not finish in time. */
export class TimeoutError extends PeerNetError {
  constructor(message = 'operation timed out', options?: PeerNetErrorOptions) {
    super('timeout', message, options);
  }
}

/** The remote node exposes no handler under that name. */
export class NoSuchHandleError extends PeerNetError {
  constructor(message = 'no such handle', options?: PeerNetErrorOptions) {
    super('no_such_handle', message, options);
  }
}

/** The handler's `authorize` predicate refused (or threw). */
export class ForbiddenError extends PeerNetError {
  constructor(message = 'forbidden', options?: PeerNetErrorOptions) {
    super('forbidden', message, options);
  }
}

/** The remote handler threw; the message is the handler's, the stack is not sent. */
export class HandlerError extends PeerNetError {
  constructor(message = 'handler failed', options?: PeerNetErrorOptions) {
    super('handler_error', message, options);
  }
}

/** The connection ended while the operation was outstanding. */
export class ConnectionClosedError extends PeerNetError {
  constructor(message = 'connection closed', options?: PeerNetErrorOptions) {
    super('connection_closed', message, options);
  }
}

/** A message declared or reached a size above the configured limit. */
export class MessageTooLargeError extends PeerNetError {
  constructor(message = 'message too large', options?: PeerNetErrorOptions) {
    super('message_too_large', message, options);
  }
}

/** Options of `BadRequestError`. */
export interface BadRequestErrorOptions extends PeerNetErrorOptions {
  /** Where in the value the fault lies: keys and indexes from the value's root. */
  valuePath?: readonly (string | number)[];
}

/**
 * The request could not be decoded or had the wrong shape; raised locally
 * too, with `valuePath`, for a value that cannot be encoded for the wire.
 */
export class BadRequestError extends PeerNetError {
  /**
   * Where in the value the fault lies, when this side found it while
   * encoding (never set on an error that came from the peer).
   */
  readonly valuePath: readonly (string | number)[] | undefined;

  constructor(message = 'bad request', options?: BadRequestErrorOptions) {
    super('bad_request', message, options);
    this.valuePath = options?.valuePath;
  }
}

/** The peer's key is not in the trust store. */
export class UntrustedPeerError extends PeerNetError {
  constructor(message = 'peer is not trusted', options?: PeerNetErrorOptions) {
    super('untrusted_peer', message, options);
  }
}

/** A dial reached a peer other than the one dialled. */
export class PeerMismatchError extends PeerNetError {
  constructor(message = 'reached a different peer than the one dialled', options?: PeerNetErrorOptions) {
    super('peer_mismatch', message, options);
  }
}

/** The Noise handshake failed (bad bytes, bad payload, timeout or protocol error). */
export class HandshakeFailedError extends PeerNetError {
  constructor(message = 'handshake failed', options?: PeerNetErrorOptions) {
    super('handshake_failed', message, options);
  }
}

/** The caller's `AbortSignal` fired. */
export class AbortedError extends PeerNetError {
  constructor(message = 'operation aborted', options?: PeerNetErrorOptions) {
    super('aborted', message, options);
  }
}

/** An argument had the wrong type, size or value. */
export class InvalidArgumentError extends PeerNetError {
  constructor(message: string, options?: PeerNetErrorOptions) {
    super('invalid_argument', message, options);
  }
}

/** Text or bytes that are not a valid peer id. */
export class InvalidPeerIdError extends PeerNetError {
  constructor(message: string, options?: PeerNetErrorOptions) {
    super('invalid_peer_id', message, options);
  }
}

/** Options of `UnsafePermissionsError`. */
export interface UnsafePermissionsErrorOptions extends FileErrorOptions {
  /** The file or directory at fault. */
  path: string;
  /** `owner`: another user owns it; `writable`: group or others may write to it. */
  problem: 'owner' | 'writable';
}

/**
 * A node's file (`identity.key`, `trust.json`), or a directory holding it or
 * above it, that another user owns or may write: whoever can change those
 * files can become the node or make it trust anyone, so they are refused, as
 * ssh's StrictModes refuses such an `authorized_keys`. The message names the
 * path and the fix.
 */
export class UnsafePermissionsError extends FileError {
  /** The file or directory at fault (symbolic links resolved). */
  declare readonly path: string;
  /** What is wrong with it. */
  readonly problem: 'owner' | 'writable';

  constructor(message: string, options: UnsafePermissionsErrorOptions) {
    super('unsafe_permissions', message, options);
    this.problem = options.problem;
  }
}

/** Options of `PermissionDeniedError`. */
export interface PermissionDeniedErrorOptions extends FileErrorOptions {
  /** The file or directory the operating system refused access to. */
  path: string;
}

/**
 * The operating system refused access (EACCES, EPERM) to a node's file
 * (`identity.key`, `trust.json`) or to a directory holding it: the file may
 * be perfectly sound, the process just may not read or write it, so it is
 * not reported as damaged. The message names the path and what to check.
 */
export class PermissionDeniedError extends FileError {
  /** The file or directory access was refused to. */
  declare readonly path: string;

  constructor(message: string, options: PermissionDeniedErrorOptions) {
    super('permission_denied', message, options);
  }
}

/**
 * A dialled peer proved its id in the handshake and then closed the
 * connection instead of confirming it: it has not paired this node. Only
 * pairing on the peer's side changes the answer; dialling again does not.
 */
export class RefusedByPeerError extends PeerNetError {
  constructor(message = 'the peer refused the session: it has not paired this node', options?: PeerNetErrorOptions) {
    super('refused_by_peer', message, options);
  }
}

/**
 * A byte stream was reset: the other side destroyed it (with an error of its
 * own, or none), so neither direction carries more data.
 */
export class StreamResetError extends PeerNetError {
  constructor(message = 'the stream was reset by the peer', options?: PeerNetErrorOptions) {
    super('stream_reset', message, options);
  }
}

/** The peer refused to open a byte stream: this connection has as many streams (or opens in progress) as it allows. */
export class TooManyStreamsError extends PeerNetError {
  constructor(message = 'the peer has too many streams open with this node', options?: PeerNetErrorOptions) {
    super('too_many_streams', message, options);
  }
}

/** A frame's length prefix exceeds the decoder's cap. */
export class FrameTooLargeError extends PeerNetError {
  constructor(message: string, options?: PeerNetErrorOptions) {
    super('frame_too_large', message, options);
  }
}

/** The peer broke the wire protocol (unknown envelope, bad encoding, ...). */
export class ProtocolError extends PeerNetError {
  constructor(message: string, options?: PeerNetErrorOptions) {
    super('protocol_error', message, options);
  }
}

/**
 * Pairing by invite failed: the two sides' proofs did not match (a wrong
 * code, or someone in between), or a side declined the confirmation string.
 */
export class PairingFailedError extends PeerNetError {
  constructor(message = 'pairing failed: the invite code did not match', options?: PeerNetErrorOptions) {
    super('pairing_failed', message, options);
  }
}

/** Why an invite no longer pairs anyone. */
export type InviteClosedReason = 'expired' | 'burned' | 'used' | 'cancelled' | 'stopped';

/** An invite can no longer be used: it expired, was burned by failed attempts, was used, cancelled, or its node stopped. */
export class InviteClosedError extends PeerNetError {
  /** Which of those it was. */
  readonly reason: InviteClosedReason;

  constructor(reason: InviteClosedReason, message: string, options?: PeerNetErrorOptions) {
    super('invite_closed', message, options);
    this.reason = reason;
  }
}

/** No node with an open invite of the code's number was found in time. */
export class InviterNotFoundError extends PeerNetError {
  constructor(message: string, options?: PeerNetErrorOptions) {
    super('inviter_not_found', message, options);
  }
}

const wireErrors: Record<WireErrorCode, new (message?: string) => PeerNetError> = {
  not_connected: NotConnectedError,
  timeout: TimeoutError,
  no_such_handle: NoSuchHandleError,
  forbidden: ForbiddenError,
  handler_error: HandlerError,
  connection_closed: ConnectionClosedError,
  message_too_large: MessageTooLargeError,
  bad_request: BadRequestError,
  untrusted_peer: UntrustedPeerError,
  peer_mismatch: PeerMismatchError,
  handshake_failed: HandshakeFailedError,
  aborted: AbortedError,
  stream_reset: StreamResetError,
  too_many_streams: TooManyStreamsError,
};

/** True if `code` is one of the codes allowed on the wire. */
export function isWireErrorCode(code: unknown): code is WireErrorCode {
  return typeof code === 'string' && Object.hasOwn(wireErrors, code);
}

const localCodes: ReadonlySet<string> = new Set(LOCAL_ERROR_CODES);

/**
 * True if `code` is one of PeerNet's codes, wire or local. With
 * `isPeerNetError` it tells a PeerNet error from a Node error whose `code`
 * is a string too (`ECONNRESET`, `ERR_STREAM_DESTROYED`).
 */
export function isErrorCode(code: unknown): code is ErrorCode {
  return isWireErrorCode(code) || (typeof code === 'string' && localCodes.has(code));
}

/**
 * Rebuilds the typed error for a failure reply received from a peer.
 * An unknown code becomes a `HandlerError`, so a peer cannot make us raise
 * local-only errors.
 */
export function errorFromWire(code: string, message: string): PeerNetError {
  const ErrorClass = isWireErrorCode(code) ? wireErrors[code] : HandlerError;
  return new ErrorClass(message);
}

/** True if `value` is a PeerNet error (by shape, so it works across package copies). */
export function isPeerNetError(value: unknown): value is PeerNetError {
  return value instanceof Error && typeof (value as { code?: unknown }).code === 'string';
}

/** The message of an error, or the text of anything else thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** An error's message with its `code` (an errno such as `EADDRINUSE`, or a PeerNet code) appended when the message lacks it. */
export function describeError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = errorMessage(error);
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
}

/**
 * Makes an error without a stack trace: for close reasons raised by stream
 * events, whose frames would all be node's stream internals, and whose
 * capture costs more than the rest of closing a session.
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

/** True for the errors with which the operating system refuses access (EACCES, EPERM). */
export function isPermissionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'EACCES' || code === 'EPERM';
}

/**
 * The `permission_denied` error for a node's file. Not a "corrupt" or
 * "invalid" file: the file may be intact, and repairing it would be the
 * wrong advice when only its owner or mode needs fixing.
 */
export function permissionDenied(options: {
  /** What was attempted: `read`, `write`, `create`, `use`. */
  action: string;
  /** The kind of file, e.g. `keyfile`, `trust store`. */
  what: string;
  path: string;
  cause: unknown;
}): PermissionDeniedError {
  const { action, what, path, cause } = options;
  const uid = process.platform === 'win32' ? undefined : process.geteuid?.();
  const who = uid === undefined ? 'the user running the node' : `the user running the node (uid ${uid})`;
  return new PermissionDeniedError(
    `cannot ${action} ${what} ${path}: permission denied. Check the owner and mode of '${path}' and of the directories above it: ` +
      `${who} must be able to enter its directory and to read and write the file; normally both are that user's own, the directory mode 0700 and the file 0600`,
    { path, cause },
  );
}
