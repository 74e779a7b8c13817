export { bytesEqual } from './bytes.js';
export { PeerId, isPeerId } from './peer-id.js';
export type { PeerIdLike } from './peer-id.js';
export type { DuplexStream } from './stream.js';
export type { DialOptions, ListenOptions, Listener, Transport, TransportAddress } from './transport.js';
export type { DiscoveredPeer, Discovery, DiscoveryEvents } from './discovery.js';
export {
  AbortedError,
  BadRequestError,
  ConnectionClosedError,
  FileError,
  ForbiddenError,
  FrameTooLargeError,
  HandlerError,
  HandshakeFailedError,
  InvalidArgumentError,
  InvalidPeerIdError,
  MessageTooLargeError,
  NoSuchHandleError,
  NotConnectedError,
  PeerMismatchError,
  PeerNetError,
  ProtocolError,
  TimeoutError,
  UnsafePermissionsError,
  UntrustedPeerError,
  LOCAL_ERROR_CODES,
  WIRE_ERROR_CODES,
  errorFromWire,
  isErrorCode,
  isPeerNetError,
  isWireErrorCode,
} from './errors.js';
export type { ErrorCode, FileErrorOptions, LocalErrorCode, PeerNetErrorOptions, UnsafePermissionsErrorOptions, WireErrorCode } from './errors.js';
