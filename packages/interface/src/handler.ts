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
