import type { Duplex } from 'node:stream';
import type { PeerId } from './peer-id.js';
import type { WireValue } from './value.js';

/** What a handler learns about the call it serves. */
export interface HandlerContext {
  /** The authenticated peer that sent the call or send. */
  readonly peer: PeerId;
  /** The handle name the peer used. */
  readonly name: string;
  /** Aborted when the caller cancels (timeout, AbortSignal) or the connection closes. */
  readonly signal: AbortSignal;
  /** True for `send` (no reply is expected), false for `call`. */
  readonly oneWay: boolean;
}

/**
 * A function exposed under a name. Its return value, awaited, is the reply
 * (`undefined` → `null`). `Result` is its return type; `expose` checks that
 * it can travel (see `WireResult`).
 */
export type Handler<Result = WireValue | void | Promise<WireValue | void>> = (
  args: WireValue,
  context: HandlerContext,
) => Result;

/** Decides whether `peer` may use a handler; false, a rejection or a throw means `forbidden`. */
export type Authorize = (peer: PeerId, name: string) => boolean | Promise<boolean>;

/** Options of a call to a peer's handler. */
export interface CallOptions {
  /** Milliseconds before the call fails with `timeout` (the connection's default when omitted). */
  timeoutMs?: number | undefined;
  /**
   * Milliseconds before the call fails with `timeout`; read only when `timeoutMs` is not given.
   * @deprecated Use `timeoutMs`, like every other duration of the API.
   */
  timeout?: number | undefined;
  /** Aborts the call: it fails with `aborted` and the peer is told to cancel. */
  signal?: AbortSignal | undefined;
}

/** A handler as registered by `expose`. */
export interface ExposedHandler {
  readonly handler: Handler;
  readonly authorize?: Authorize | undefined;
  /** Send the stack trace of a thrown error to the caller (off by default: stacks leak internals). */
  readonly exposeErrorStack?: boolean | undefined;
}

/** Where a connection looks handlers up, at the moment each envelope arrives. */
export interface HandlerLookup {
  get(name: string): ExposedHandler | undefined;
}

/** What a stream handler learns about the stream it serves. */
export interface StreamContext {
  /** The authenticated peer that opened the stream. */
  readonly peer: PeerId;
  /** The stream name the peer opened. */
  readonly name: string;
  /** Aborted when the stream is reset or destroyed, or the connection closes. */
  readonly signal: AbortSignal;
}

/**
 * Serves one byte stream the peer opened: a Node `Duplex` of bytes. The
 * handler owns the stream; a throw or a rejection resets it with
 * `handler_error`.
 */
export type StreamHandler = (stream: Duplex, context: StreamContext) => void | Promise<void>;

/** A stream handler and its authorisation, as a connection looks it up. */
export interface ExposedStreamHandler {
  readonly handler: StreamHandler;
  readonly authorize?: Authorize | undefined;
}

/** Where a connection looks stream handlers up, when each open arrives. */
export interface StreamHandlerLookup {
  get(name: string): ExposedStreamHandler | undefined;
}

/** Options of opening a byte stream to a peer's stream handler. */
export interface OpenStreamOptions {
  /** Milliseconds before the open fails with `timeout` (the connection's call timeout when omitted). */
  timeoutMs?: number | undefined;
  /** Aborts the open (it fails with `aborted`); after the open, destroy the stream instead. */
  signal?: AbortSignal | undefined;
}
