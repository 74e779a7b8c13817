import {
  AbortedError, ConnectionClosedError, DIAGNOSTICS_CHANNELS, ForbiddenError, HandlerError, NoSuchHandleError,
  ProtocolError, errorFromWire, errorMessage, hasDiagnosticsSubscribers, isPeerNetError, publishDiagnostic,
  isWireErrorCode, type ExposedHandler, type HandlerContext, type HandlerLookup, type PeerId, type PeerNetError, type Value,
} from '@peernet/interface';
import { EnvelopeType, decodePayload } from '@peernet/frame';
import { asProtocolError } from './errors.js';
import type { Session } from './session.js';

/**
 * The serving side of one connection: runs the handlers the peer calls,
 * within the handler cap and the decode budget, checks `authorize`, tracks
 * running handlers so a cancel or a close can abort them, and sends replies.
 */
export class Server {
  readonly #session: Session;
  #handlers: HandlerLookup | undefined;
  readonly #maxRunning: number;
  readonly #maxDecodedBytes: number;
  readonly #onHandlerError: ((error: unknown, context: HandlerContext) => void) | undefined;
  #running = 0;
  // Estimated heap reserved by the arguments of handlers running now (see maxDecodedBytes).
  #decodedInUse = 0;
  /** Cost of the envelope at the head of the backlog that waits until that many bytes are free; 0 when none waits. */
  waitingCost = 0;
  // Incoming calls being served, by the peer's id, so a cancel can abort them. Created on first use.
  #serving: Map<number, Serving> | undefined;
  // Handlers still running that no id reaches: sends, and calls the peer cancelled (their id may be reused).
  #detached: Set<Serving> | undefined;

  constructor(
    session: Session,
    handlers: HandlerLookup | undefined,
    maxRunning: number,
    maxDecodedBytes: number,
    onHandlerError: ((error: unknown, context: HandlerContext) => void) | undefined,
  ) {
    this.#session = session;
    this.#handlers = handlers;
    this.#maxRunning = maxRunning;
    this.#maxDecodedBytes = maxDecodedBytes;
    this.#onHandlerError = onHandlerError;
  }

  /** Serves `handlers` instead from now on (a pairing session serves only the pairing handlers). */
  useHandlers(handlers: HandlerLookup | undefined): void {
    this.#handlers = handlers;
  }

  /** True when the next envelope must wait: the handler cap is reached, or the one waiting does not fit the budget yet. */
  full(): boolean {
    return (
      this.#running >= this.#maxRunning ||
      (this.waitingCost > 0 && this.#decodedInUse + this.waitingCost > this.#maxDecodedBytes)
    );
  }

  /** True while a call of the peer's is being served. */
  busy(): boolean {
    return this.#serving !== undefined && this.#serving.size > 0;
  }

  /**
   * Runs a handler for a call (`id` set) or a send; the lookup happens now, for
   * this envelope. The arguments are decoded only once the handler exists,
   * the estimated cost of decoding them fits the budget and `authorize` (if
   * any) allowed the peer. A handler that returns a plain value completes
   * here, without a promise; only what it returns decides whether we wait.
   * Returns false, doing nothing, when the arguments must wait for budget.
   */
  serve(id: number | undefined, name: string, bytes: Uint8Array, payload: number): boolean {
    if (id !== undefined && this.#serving?.has(id)) {
      throw new ProtocolError(`call id ${id} is already in progress`);
    }
    const entry = this.#handlers?.get(name);
    if (!entry) {
      this.#refused(name, 'no_such_handle');
      if (id !== undefined) this.#replyError(id, new NoSuchHandleError(`no handler named '${name}'`));
      return true;
    }
    const session = this.#session;
    const cost = session.inbox.payloadCost(bytes, payload);
    if (this.#decodedInUse > 0 && this.#decodedInUse + cost > this.#maxDecodedBytes) {
      this.waitingCost = cost;
      return false;
    }
    const serving = new Serving(session.peer as PeerId, name, id, cost);
    let verdict: unknown = true;
    if (entry.authorize) {
      try {
        verdict = entry.authorize(serving.peer, name);
      } catch {
        verdict = false;
      }
    }
    let result: unknown;
    if (isThenable(verdict)) {
      this.#reserve(serving);
      result = Promise.resolve(verdict).then(
        (allowed) => {
          if (allowed !== true) {
            this.#refused(name, 'forbidden');
            throw new ForbiddenError(`not allowed to use '${name}'`);
          }
          // Closed meanwhile: the arguments are not worth decoding and nobody waits for a reply.
          if (session.phase === 'closed') throw new ConnectionClosedError('connection closed');
          let args: Value;
          try {
            args = decodePayload(bytes, payload);
          } catch (error) {
            session.fail(asProtocolError(error));
            throw error;
          }
          return entry.handler(args, serving);
        },
        () => {
          this.#refused(name, 'forbidden');
          throw new ForbiddenError(`not allowed to use '${name}'`);
        },
      );
    } else if (verdict !== true) {
      this.#refused(name, 'forbidden');
      this.#reserve(serving);
      this.#failed(serving, entry, new ForbiddenError(`not allowed to use '${name}'`));
      return true;
    } else {
      // A malformed payload throws here, before anything is counted: the connection closes.
      const args = decodePayload(bytes, payload);
      this.#reserve(serving);
      try {
        result = entry.handler(args, serving);
      } catch (error) {
        this.#failed(serving, entry, error);
        return true;
      }
    }
    if (isThenable(result)) {
      // Only a handler still running can be cancelled or aborted by a close: track it from here.
      serving.tracked = true;
      if (id !== undefined) (this.#serving ??= new Map()).set(id, serving);
      else (this.#detached ??= new Set()).add(serving);
      result.then(
        (value) => this.#succeeded(serving, value),
        (error: unknown) => this.#failed(serving, entry, error),
      );
    } else {
      this.#succeeded(serving, result);
    }
    return true;
  }

  /** The peer cancelled call `id`: its handler is told, and the id may come again at once. */
  cancel(id: number): void {
    const serving = this.#serving?.get(id);
    if (serving === undefined) return;
    // The call is no longer outstanding. A handler that ignores the abort keeps
    // its place under the handler cap until it returns, and its result is dropped.
    this.#serving?.delete(id);
    (this.#detached ??= new Set()).add(serving);
    serving.abort(new AbortedError('the caller cancelled the call'));
    this.#session.checkDrained();
  }

  /** On close: every running handler is told through its signal. */
  abortAll(closed: () => Error): void {
    for (const serving of this.#serving?.values() ?? []) serving.abort(closed());
    for (const serving of this.#detached ?? []) serving.abort(closed());
    this.waitingCost = 0;
  }

  /** Counts a handler run against the handler cap and its arguments against the decode budget. */
  #reserve(serving: Serving): void {
    this.#running++;
    this.#decodedInUse += serving.cost;
  }

  #succeeded(serving: Serving, value: unknown): void {
    const id = serving.id;
    if (id !== undefined && !serving.aborted) this.#reply(id, value === undefined ? null : (value as Value));
    this.#done(serving);
  }

  #failed(serving: Serving, entry: ExposedHandler, error: unknown): void {
    if (!(serving.aborted && this.#session.phase === 'closed')) {
      if (serving.id === undefined) this.#onHandlerError?.(error, serving);
      else if (!serving.aborted) this.#replyError(serving.id, handlerFailure(error, entry));
    }
    this.#done(serving);
  }

  #done(serving: Serving): void {
    const session = this.#session;
    if (serving.tracked) {
      // A cancelled call's id may already belong to a newer call: only its own entry is removed.
      if (serving.id !== undefined && this.#serving?.get(serving.id) === serving) {
        this.#serving.delete(serving.id);
        session.checkDrained();
      } else {
        this.#detached?.delete(serving);
      }
    }
    this.#running--;
    this.#decodedInUse -= serving.cost;
    if (session.inbox.paused && !session.isClosed()) {
      try {
        session.inbox.processBacklog();
      } catch (error) {
        session.fail(asProtocolError(error));
      }
    }
  }

  #reply(id: number, result: Value): void {
    if (this.#session.phase === 'closed') return;
    try {
      this.#session.outbox.enqueue({ type: EnvelopeType.Reply, id, result }, true);
    } catch (error) {
      this.#replyError(id, new HandlerError(`the handler's result could not be sent: ${errorMessage(error)}`));
    }
  }

  /** Publishes a call or send turned away before its handler ran. */
  #refused(name: string, code: 'no_such_handle' | 'forbidden'): void {
    if (!hasDiagnosticsSubscribers(DIAGNOSTICS_CHANNELS.callRefused)) return;
    publishDiagnostic(DIAGNOSTICS_CHANNELS.callRefused, { peer: String(this.#session.peer), name, code });
  }

  #replyError(id: number, error: PeerNetError): void {
    if (this.#session.phase === 'closed') return;
    this.#session.outbox.enqueue({ type: EnvelopeType.Error, id, code: error.code, message: error.message });
  }
}

/**
 * The context a handler gets, and the state of one handler run. The
 * AbortController is created only if the handler reads `signal`: most never
 * do, and one per message costs more than the rest of dispatch.
 */
class Serving implements HandlerContext {
  readonly peer: PeerId;
  readonly name: string;
  readonly id: number | undefined;
  /** Estimated heap of its decoded arguments, reserved from the connection's decode budget while it runs. */
  readonly cost: number;
  /** True once the connection tracks it (the handler returned a promise). */
  tracked = false;
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  constructor(peer: PeerId, name: string, id: number | undefined, cost: number) {
    this.peer = peer;
    this.name = name;
    this.id = id;
    this.cost = cost;
  }

  get oneWay(): boolean {
    return this.id === undefined;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function handlerFailure(error: unknown, entry: ExposedHandler): PeerNetError {
  if (isPeerNetError(error) && isWireErrorCode(error.code)) {
    return errorFromWire(error.code, error.message);
  }
  let message = errorMessage(error);
  if (entry.exposeErrorStack && error instanceof Error && error.stack) message = error.stack;
  return new HandlerError(message);
}
