// The transport suite's harness: the listeners, dials and streams one test
// opens, tracked so that the test can wait on them and close them all.
import {
  type DialOptions,
  type DuplexStream,
  type Listener,
  type PeerNetError,
  type Transport,
  type TransportAddress,
  isPeerNetError,
} from '@peernet/interface';
import { Queue, nextEvent, withTimeout } from './util.js';
import type { TransportSuiteContext } from './transport-suite.js';

interface Tracked {
  closed: boolean;
  errors: Error[];
  whenClosed: Promise<void>;
}

export interface Accepted {
  stream: DuplexStream;
  remote: TransportAddress;
}

export interface Connected {
  listener: Listener;
  client: DuplexStream;
  server: DuplexStream;
  remote: TransportAddress;
}

/** Checks what the suite needs of a context from `setup()`. */
export function checkContext(context: TransportSuiteContext): TransportSuiteContext {
  if (context.listenAddress.port !== 0) {
    throw new Error(`listenAddress.port must be 0 (got ${context.listenAddress.port})`);
  }
  return context;
}

/** Everything one test opens, so that it can all be closed and checked afterwards. */
export class Harness {
  readonly transport: Transport;
  readonly listenAddress: TransportAddress;
  readonly unusedAddress: TransportAddress | undefined;
  readonly timeout: number;
  /** Where listeners come from: with `addressing: 'key'`, a fresh context of their own each. */
  readonly #listenerContext: () => Promise<TransportSuiteContext>;
  readonly #streams = new Map<DuplexStream, Tracked>();
  readonly #listeners: Listener[] = [];
  /** Contexts made for listeners, for `teardown` after the test. */
  readonly extraContexts: TransportSuiteContext[] = [];

  constructor(
    context: TransportSuiteContext,
    timeout: number,
    freshContext: (() => Promise<TransportSuiteContext>) | undefined,
  ) {
    this.transport = context.transport;
    this.listenAddress = context.listenAddress;
    this.unusedAddress = context.unusedAddress;
    this.timeout = timeout;
    this.#listenerContext =
      freshContext === undefined
        ? () => Promise.resolve(context)
        : async () => {
            const made = await withTimeout(freshContext(), timeout, 'setup() of a transport to listen on');
            this.extraContexts.push(made);
            return checkContext(made);
          };
  }

  track(stream: DuplexStream): DuplexStream {
    if (this.#streams.has(stream)) return stream;
    const tracked: Tracked = { closed: false, errors: [], whenClosed: Promise.resolve() };
    tracked.whenClosed = new Promise<void>((resolve) =>
      stream.once('close', () => {
        tracked.closed = true;
        resolve();
      }),
    );
    // Also keeps a stream error from becoming an uncaught exception.
    stream.on('error', (error) => tracked.errors.push(error));
    this.#streams.set(stream, tracked);
    return stream;
  }

  errorsOf(stream: DuplexStream): Error[] {
    return this.#streams.get(stream)?.errors ?? [];
  }

  closed(stream: DuplexStream, what = "'close'"): Promise<void> {
    const tracked = this.#streams.get(stream);
    if (tracked === undefined) throw new Error('stream is not tracked by the suite');
    return withTimeout(tracked.whenClosed, this.timeout, what);
  }

  async listen(onStream?: (stream: DuplexStream) => void): Promise<{ listener: Listener; accepted: Queue<Accepted> }> {
    const accepted = new Queue<Accepted>();
    const { transport, listenAddress } = await this.#listenerContext();
    const listener = await withTimeout(
      transport.listen({
        host: listenAddress.host,
        port: listenAddress.port,
        onStream: (stream, remote) => {
          this.track(stream);
          onStream?.(stream);
          accepted.push({ stream, remote });
        },
      }),
      this.timeout,
      'listen()',
    );
    this.#listeners.push(listener);
    return { listener, accepted };
  }

  async dial(address: TransportAddress, options?: DialOptions): Promise<DuplexStream> {
    return this.track(await withTimeout(this.transport.dial(address, options), this.timeout, 'dial()'));
  }

  /** Dials and resolves with the error the dial must fail with; a stream it yields instead is closed. */
  async dialError(address: TransportAddress, options?: DialOptions): Promise<PeerNetError> {
    let dialing: Promise<DuplexStream>;
    try {
      dialing = this.transport.dial(address, options);
    } catch (error) {
      throw new Error(`dial() threw synchronously instead of returning a rejected promise: ${String(error)}`);
    }
    const outcome = await withTimeout(
      dialing.then(
        (stream) => this.track(stream),
        (error: unknown) => ({ error }),
      ),
      this.timeout,
      'the dial to fail',
    );
    if (!('error' in outcome)) {
      outcome.destroy();
      throw new Error(`dial to ${JSON.stringify(address)} succeeded but was expected to fail`);
    }
    const { error } = outcome;
    if (!isPeerNetError(error)) throw new Error(`dial failed with a non-PeerNet error: ${String(error)}`);
    return error;
  }

  async connect(onStream?: (stream: DuplexStream) => void): Promise<Connected> {
    const { listener, accepted } = await this.listen(onStream);
    const client = await this.dial(listener.address);
    const { stream: server, remote } = await accepted.next(this.timeout, 'the listener to accept the dial');
    return { listener, client, server, remote };
  }

  /** Closes every listener and destroys every stream still open; reports what did not close. */
  async cleanup(): Promise<string[]> {
    const problems: string[] = [];
    for (const listener of this.#listeners) {
      try {
        await withTimeout(listener.close(), this.timeout, 'listener.close()');
      } catch (error) {
        problems.push(String(error));
      }
    }
    const waits: Promise<void>[] = [];
    for (const [stream, tracked] of this.#streams) {
      if (tracked.closed) continue;
      stream.destroy();
      waits.push(
        withTimeout(tracked.whenClosed, this.timeout, "'close' after destroy()").catch((error: unknown) => {
          problems.push(String(error));
        }),
      );
    }
    await Promise.all(waits);
    return problems;
  }
}

/** Writes `data` in pieces of 1..`maxPiece` bytes (seeded sizes), waiting for `'drain'` whenever asked to. */
export async function writeInPieces(
  stream: DuplexStream,
  data: Uint8Array,
  maxPiece: number,
  seed: number,
  timeout: number,
): Promise<void> {
  let x = seed >>> 0 || 1;
  let offset = 0;
  while (offset < data.length) {
    // xorshift32: reproducible piece sizes without storing them
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const piece = data.subarray(offset, offset + 1 + ((x >>> 0) % maxPiece));
    offset += piece.length;
    if (!stream.write(piece)) {
      const { event } = await nextEvent(stream, ['drain', 'close'], timeout, "'drain'");
      if (event !== 'drain') throw new Error(`stream emitted '${event}' while the writer waited for 'drain'`);
    }
  }
}

export function expectCode(error: PeerNetError, code: string, what: string): void {
  if (error.code !== code) {
    throw new Error(`${what}: expected a PeerNetError with code '${code}', got '${error.code}' (${error.message})`);
  }
}
