import { AbortedError, TimeoutError, type CallOptions, type PeerNetError, type Value } from '@peernet/interface';
import { EnvelopeType } from '@peernet/frame';
import type { Session } from './session.js';

interface PendingCall {
  resolve(value: Value): void;
  reject(error: Error): void;
  timer: unknown;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * The calling side of one connection: call ids, timeouts and cancellation,
 * matching replies to calls, and pings.
 */
export class Calls {
  readonly #session: Session;
  readonly #callTimeoutMs: number;
  #nextId = 1;
  // Outgoing calls, by id. Created on first use, as the pings: an idle session holds neither.
  #pending: Map<number, PendingCall> | undefined;
  // Outgoing pings, by nonce (hex).
  #pings: Map<string, Waiter> | undefined;

  constructor(session: Session, callTimeoutMs: number) {
    this.#session = session;
    this.#callTimeoutMs = callTimeoutMs;
  }

  /** `Connection.call`: sends a call envelope and settles with the reply, a timeout, an abort or a close. */
  call(name: string, args: Value, options: CallOptions): Promise<Value> {
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(new AbortedError('call aborted before it was sent'));
    const session = this.#session;
    const closed = session.closedError();
    if (closed) return Promise.reject(closed);
    const id = this.#nextId++;
    try {
      session.outbox.enqueue({ type: EnvelopeType.Call, id, name, args }, true);
    } catch (error) {
      return Promise.reject(error);
    }
    const timeout = options.timeoutMs ?? options.timeout ?? this.#callTimeoutMs;
    return new Promise<Value>((resolve, reject) => {
      const pending: PendingCall = { resolve, reject, timer: undefined, signal, onAbort: undefined };
      pending.timer = session.clock.setTimeout(() => {
        this.#cancel(id, new TimeoutError(`call to '${name}' timed out after ${timeout} ms`));
      }, timeout);
      if (signal) {
        pending.onAbort = () => this.#cancel(id, new AbortedError(`call to '${name}' aborted`));
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      (this.#pending ??= new Map()).set(id, pending);
    });
  }

  /** `Connection.ping`: resolves with the round-trip time once the pong arrives. */
  ping(options: { timeoutMs?: number; timeout?: number; signal?: AbortSignal }): Promise<number> {
    const session = this.#session;
    const closed = session.closedError();
    if (closed) return Promise.reject(closed);
    const nonce = new Uint8Array(8);
    globalThis.crypto.getRandomValues(nonce);
    const key = hex(nonce);
    const started = session.clock.now();
    const timeout = options.timeoutMs ?? options.timeout ?? this.#callTimeoutMs;
    return new Promise<number>((resolve, reject) => {
      const finish = (error?: Error): void => {
        this.#pings?.delete(key);
        session.clock.clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(session.clock.now() - started);
      };
      const onAbort = (): void => finish(new AbortedError('ping aborted'));
      const timer = session.clock.setTimeout(() => finish(new TimeoutError(`no pong within ${timeout} ms`)), timeout);
      if (options.signal?.aborted) return finish(new AbortedError('ping aborted'));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      (this.#pings ??= new Map()).set(key, { resolve: () => finish(), reject: finish });
      session.outbox.enqueue({ type: EnvelopeType.Ping, nonce });
    });
  }

  /** True while call `id` waits for its reply. */
  has(id: number): boolean {
    return this.#pending?.has(id) === true;
  }

  /** True while a call of ours is outstanding. */
  busy(): boolean {
    return this.#pending !== undefined && this.#pending.size > 0;
  }

  /** Settles call `id` with its reply; a reply to a call we gave up on (timeout, abort) is ignored. */
  settle(id: number, result: Value, error: PeerNetError | undefined): void {
    const pending = this.#pending?.get(id);
    if (!pending) return;
    this.#forget(id, pending);
    if (error) pending.reject(error);
    else pending.resolve(result);
  }

  /** A pong arrived: the ping with its nonce, if any still waits, resolves. */
  pong(nonce: Uint8Array): void {
    this.#pings?.get(hex(nonce))?.resolve();
  }

  /** On close: every outstanding call fails. */
  failCalls(closed: () => Error): void {
    for (const [id, pending] of this.#pending ?? []) {
      this.#forget(id, pending);
      pending.reject(closed());
    }
  }

  /** On close: every outstanding ping fails. */
  failPings(closed: () => Error): void {
    for (const ping of this.#pings?.values() ?? []) ping.reject(closed());
  }

  #cancel(id: number, error: PeerNetError): void {
    const pending = this.#pending?.get(id);
    if (!pending) return;
    this.#forget(id, pending);
    pending.reject(error);
    const session = this.#session;
    if (session.phase !== 'closed' && session.send) session.outbox.enqueue({ type: EnvelopeType.Cancel, id });
  }

  #forget(id: number, pending: PendingCall): void {
    this.#pending?.delete(id);
    this.#session.clock.clearTimeout(pending.timer);
    if (pending.signal && pending.onAbort) pending.signal.removeEventListener('abort', pending.onAbort);
    this.#session.checkDrained();
  }
}

function hex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}
