export { assertBytes, bytesEqual, isAllZero } from './bytes.js';
export { PeerId, isPeerId } from './peer-id.js';
export type { PeerIdLike } from './peer-id.js';
export type { DuplexStream } from './stream.js';
export type {
  DialOptions, ListenOptions, Listener, Rendezvous, Transport, TransportAddress, TransportContext, TransportFactory,
} from './transport.js';
export type { DiscoveredPeer, Discovery, DiscoveryEvents } from './discovery.js';
export { formatValuePath } from './value.js';
export type { NotAWireValue, Value, WireCompatible, WireResult, WireValue } from './value.js';
export type {
  Authorize, CallOptions, ExposedHandler, ExposedStreamHandler, Handler, HandlerContext, HandlerLookup, OpenStreamOptions,
  StreamContext, StreamHandler, StreamHandlerLookup,
} from './handler.js';
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
  PairingFailedError,
  InviteClosedError,
  InviterNotFoundError,
  PermissionDeniedError,
  ProtocolError,
  RefusedByPeerError,
  StreamResetError,
  TooManyStreamsError,
  TimeoutError,
  UnsafePermissionsError,
  UntrustedPeerError,
  LOCAL_ERROR_CODES,
  WIRE_ERROR_CODES,
  describeError,
  errorFromWire,
  errorMessage,
  isErrorCode,
  isPeerNetError,
  isPermissionError,
  isWireErrorCode,
  permissionDenied,
  withoutStack,
} from './errors.js';
export type { BadRequestErrorOptions, ErrorCode, FileErrorOptions, InviteClosedReason, LocalErrorCode, PeerNetErrorOptions, PermissionDeniedErrorOptions, UnsafePermissionsErrorOptions, WireErrorCode } from './errors.js';
export { MAX_TIMER_MS, systemClock } from './clock.js';
export type { Clock } from './clock.js';
export { TypedEmitter } from './emitter.js';
export type { EventMap } from './emitter.js';
export { OptionsReader, describeValue } from './options.js';
export type { NumberRule } from './options.js';
export {
  formatIpv4,
  inSubnet,
  ipv4Addresses,
  networkAddresses,
  parseIpv4,
  readSystemInterfaces,
} from './network.js';
export type { InterfaceTable, Ipv4InterfaceAddress, NetworkChange, NetworkMonitor, ReadInterfaces } from './network.js';
export { DIAGNOSTICS_CHANNELS, hasDiagnosticsSubscribers, publishDiagnostic } from './diagnostics.js';
export type { DiagnosticsChannelName } from './diagnostics.js';
