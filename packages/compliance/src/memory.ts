import { Duplex } from 'node:stream';
import {
  AbortedError,
  ConnectionClosedError,
  type DialOptions,
  type DuplexStream,
  InvalidArgumentError,
  type ListenOptions,
  type Listener,
  NotConnectedError,
  type Transport,
  type TransportAddress,
} from '@peernet/interface';

/** The only host a memory network knows. */
export const MEMORY_HOST = 'memory';

/** Options of `memoryNetwork()`. */
export interface MemoryNetworkOptions {
  /**
   * Bytes a stream buffers on each side of each direction: the writer's queue
   * and the reader's buffer. `write()` returns false once the writer's queue
   * reaches it, which happens when the reader stops reading. Default 16384.
   */
  highWaterMark?: number;
  /**
   * Largest chunk one `'data'` event carries; longer writes arrive split, as
   * they would from a socket. Default 65536.
   */
  chunkSize?: number;
}

/** A set of memory transports that can reach each other; each has its own port registry. */
export interface MemoryNetwork {
  /** A new transport attached to this network. */
  transport(): Transport;
  /** Ports that currently have a listener, in ascending order. */
  listeningPorts(): number[];
}

/** Options of `memoryTransport()`. */
export interface MemoryTransportOptions {
  /** The network to attach to. Default: one network shared by the whole process. */
  network?: MemoryNetwork;
}

const MAX_PORT = 65535;
const FIRST_EPHEMERAL_PORT = 49152;

/** Creates an isolated in-process network with its own port registry. */
export function memoryNetwork(options: MemoryNetworkOptions = {}): MemoryNetwork {
  return new Network(options);
}

let defaultNetwork: MemoryNetwork | undefined;

/** Creates a transport that opens in-process streams, named `'memory'`, addressed `{ host: 'memory', port }`. */
export function memoryTransport(options: MemoryTransportOptions = {}): Transport {
  const network = options.network ?? (defaultNetwork ??= memoryNetwork());
  if (!(network instanceof Network)) {
    throw new InvalidArgumentError('memoryTransport network must come from memoryNetwork()');
  }
  return network.transport();
}

function positiveInteger(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(`memoryNetwork option ${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function checkPort(port: unknown, what: string, allowZero: boolean): number {
  const min = allowZero ? 0 : 1;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < min || port > MAX_PORT) {
    throw new InvalidArgumentError(`${what} must be an integer from ${min} to ${MAX_PORT}, got ${String(port)}`);
  }
  return port;
}

function checkHost(host: unknown, what: string): string {
  if (typeof host !== 'string' || host.length === 0) {
    throw new InvalidArgumentError(`${what} must be a non-empty string, got ${String(host)}`);
  }
  return host;
}

type OnStream = ListenOptions['onStream'];

class Network implements MemoryNetwork {
  readonly highWaterMark: number;
  readonly chunkSize: number;
  readonly #listeners = new Map<number, OnStream>();
  #nextPort = 1;
  #nextEphemeral = FIRST_EPHEMERAL_PORT;

  constructor(options: MemoryNetworkOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('memoryNetwork options must be an object');
    }
    this.highWaterMark = positiveInteger(options.highWaterMark, 'highWaterMark', 16 * 1024);
    this.chunkSize = positiveInteger(options.chunkSize, 'chunkSize', 64 * 1024);
  }

  transport(): Transport {
    return {
      name: 'memory',
      dial: (address, options) => this.#dial(address, options),
      listen: (options) => this.#listen(options),
    };
  }

  listeningPorts(): number[] {
    return [...this.#listeners.keys()].sort((a, b) => a - b);
  }

  #dial(address: TransportAddress, options: DialOptions = {}): Promise<DuplexStream> {
    return new Promise<DuplexStream>((resolve, reject) => {
      let host: string;
      let port: number;
      try {
        if (typeof address !== 'object' || address === null) {
          throw new InvalidArgumentError('dial address must be an object { host, port }');
        }
        host = checkHost(address.host, 'dial host');
        port = checkPort(address.port, 'dial port', false);
      } catch (error) {
        reject(error);
        return;
      }
      const label = `${host}:${port}`;
      const signal = options?.signal;
      if (signal?.aborted === true) {
        reject(new AbortedError(`dial to ${label} aborted`, { cause: signal.reason }));
        return;
      }
      const onAbort = (): void => {
        clearImmediate(pending);
        reject(new AbortedError(`dial to ${label} aborted`, { cause: signal?.reason }));
      };
      // A dial takes one turn of the event loop, as a real connect does, so
      // callers cannot come to rely on synchronous connection setup.
      const pending = setImmediate(() => {
        signal?.removeEventListener('abort', onAbort);
        const onStream = host === MEMORY_HOST ? this.#listeners.get(port) : undefined;
        if (onStream === undefined) {
          reject(new NotConnectedError(`cannot connect to ${label}: connection refused`));
          return;
        }
        const [local, remote] = MemoryStream.pair(this.highWaterMark, this.chunkSize);
        resolve(local);
        try {
          onStream(remote, { host: MEMORY_HOST, port: this.#ephemeralPort() });
        } catch (error) {
          remote.destroy();
          throw error;
        }
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async #listen(options: ListenOptions): Promise<Listener> {
    if (typeof options !== 'object' || options === null || typeof options.onStream !== 'function') {
      throw new InvalidArgumentError('listen options must include an onStream function');
    }
    const host = checkHost(options.host ?? MEMORY_HOST, 'listen host');
    if (host !== MEMORY_HOST) {
      throw new InvalidArgumentError(`a memory transport listens on host '${MEMORY_HOST}' only, got ${JSON.stringify(host)}`);
    }
    let port = checkPort(options.port ?? 0, 'listen port', true);
    if (port === 0) port = this.#freePort();
    if (this.#listeners.has(port)) {
      throw new InvalidArgumentError(`cannot listen on ${MEMORY_HOST}:${port}: address already in use`);
    }
    const onStream = options.onStream;
    this.#listeners.set(port, onStream);
    let closing: Promise<void> | undefined;
    return {
      address: { host: MEMORY_HOST, port },
      close: () => {
        closing ??= new Promise<void>((resolve) => {
          if (this.#listeners.get(port) === onStream) this.#listeners.delete(port);
          setImmediate(resolve);
        });
        return closing;
      },
    };
  }

  #freePort(): number {
    for (let tries = 0; tries < MAX_PORT; tries++) {
      const port = this.#nextPort;
      this.#nextPort = port === MAX_PORT ? 1 : port + 1;
      if (!this.#listeners.has(port)) return port;
    }
    throw new InvalidArgumentError('cannot listen: every memory port is in use');
  }

  #ephemeralPort(): number {
    const port = this.#nextEphemeral;
    this.#nextEphemeral = port === MAX_PORT ? FIRST_EPHEMERAL_PORT : port + 1;
    return port;
  }
}

type WriteCallback = (error?: Error | null) => void;

/**
 * One end of an in-process pipe. Bytes travel one event-loop turn after
 * `write()`; a writer's callback is held while the peer's read buffer is full,
 * so a reader that pauses fills the writer's queue and `write()` returns false,
 * exactly as with a socket. `end()` is a half-close; `destroy()` ends the
 * peer's readable side after the bytes already sent, and the peer's later
 * writes fail with `ConnectionClosedError` (as a socket's would with EPIPE).
 */
class MemoryStream extends Duplex {
  #peer!: MemoryStream;
  readonly #chunkSize: number;
  /** The peer's delivery that waits for room in our read buffer. */
  #blockedDelivery: (() => void) | undefined;
  #eofSent = false;

  private constructor(highWaterMark: number, chunkSize: number) {
    super({ allowHalfOpen: true, highWaterMark, autoDestroy: true, emitClose: true });
    this.#chunkSize = chunkSize;
  }

  static pair(highWaterMark: number, chunkSize: number): [MemoryStream, MemoryStream] {
    const a = new MemoryStream(highWaterMark, chunkSize);
    const b = new MemoryStream(highWaterMark, chunkSize);
    a.#peer = b;
    b.#peer = a;
    return [a, b];
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: WriteCallback): void {
    // A copy, so neither side sees the other's later changes to the same memory.
    const data = Buffer.from(chunk);
    setImmediate(() => this.#deliver(data, 0, callback));
  }

  #deliver(data: Buffer, offset: number, callback: WriteCallback): void {
    // After a destroy has sent EOF, the rest is lost like a socket's unsent buffer.
    if (this.#eofSent) return;
    const peer = this.#peer;
    if (peer.destroyed) {
      callback(new ConnectionClosedError('the remote end of the memory stream is closed'));
      return;
    }
    let at = offset;
    while (at < data.length) {
      const piece = data.subarray(at, at + this.#chunkSize);
      at += piece.length;
      if (!peer.push(piece)) {
        peer.#blockedDelivery = () => this.#deliver(data, at, callback);
        return;
      }
    }
    callback();
  }

  override _read(): void {
    const blocked = this.#blockedDelivery;
    this.#blockedDelivery = undefined;
    blocked?.();
  }

  override _final(callback: WriteCallback): void {
    setImmediate(() => {
      this.#sendEof();
      callback();
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const peer = this.#peer;
    // Our own delivery waiting on the peer is dropped; the peer's waiting on us fails.
    peer.#blockedDelivery = undefined;
    const incoming = this.#blockedDelivery;
    this.#blockedDelivery = undefined;
    // Deliveries already scheduled run first: the peer gets the bytes sent before the destroy, then EOF.
    setImmediate(() => {
      this.#sendEof();
      incoming?.();
    });
    callback(error);
  }

  #sendEof(): void {
    if (this.#eofSent) return;
    this.#eofSent = true;
    if (!this.#peer.destroyed) this.#peer.push(null);
  }
}
