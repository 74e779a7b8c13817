import { type AddressInfo, type Server, Socket, createServer } from 'node:net';
import {
  AbortedError,
  DIAGNOSTICS_CHANNELS,
  type DialOptions,
  type DuplexStream,
  InvalidArgumentError,
  type ListenOptions,
  type Listener,
  MAX_TIMER_MS,
  OptionsReader,
  type PeerNetError,
  TimeoutError,
  type Transport,
  type TransportAddress,
  hasDiagnosticsSubscribers,
  publishDiagnostic,
} from '@peernet/interface';
import { checkDialAddress, checkHost, checkPort, formatAddress, normalizeHost } from './address.js';
import { dialError, listenError } from './errors.js';

/** Options of the `tcp()` factory. */
export interface TcpOptions {
  /**
   * Address `listen` binds when it is given no `host`. Default `'127.0.0.1'`:
   * nothing is reachable from other machines unless the caller asks for it
   * (`'0.0.0.0'`, `'::'` or one interface's address).
   */
  host?: string;
  /**
   * Milliseconds a dial may spend connecting before it fails with a
   * `TimeoutError`. Default 10 000; 0 leaves it to the operating system
   * (about two minutes on Linux for a host that does not answer).
   */
  connectTimeoutMs?: number;
  /** @deprecated The old name of `connectTimeoutMs`, read only when that is absent. */
  connectTimeout?: number;
  /**
   * TCP keep-alive probes on every socket, dialled and accepted. Default
   * false: PeerNet's liveness pings detect dead peers at the application level.
   */
  keepAlive?: boolean;
  /** Idle milliseconds before the first keep-alive probe; 0 (default) keeps the system's setting. */
  keepAliveInitialDelayMs?: number;
  /** @deprecated The old name of `keepAliveInitialDelayMs`, read only when that is absent. */
  keepAliveInitialDelay?: number;
  /**
   * Most accepted connections a listener keeps open at once. Beyond it a new
   * connection is closed as soon as it is accepted (the dialler sees it end),
   * `onStream` is not called, and the refusal is published on the
   * `DIAGNOSTICS_CHANNELS.rateLimited` channel. Default: no limit.
   */
  maxConnections?: number;
  /** Length of the kernel's queue of connections not yet accepted. Default 511. */
  backlog?: number;
}

/** A TCP listener. */
export interface TcpListener extends Listener {
  /**
   * Stops accepting and destroys every stream this listener accepted that is
   * still open; resolves once the listener and all of those sockets are closed.
   * Idempotent. (`close()` leaves accepted streams to their owner.)
   */
  closeAll(): Promise<void>;
}

/** The TCP `Transport`; `listen` resolves to a `TcpListener`. */
export interface TcpTransport extends Transport {
  readonly name: 'tcp';
  listen(options: ListenOptions): Promise<TcpListener>;
}

const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_BACKLOG = 511;

interface ResolvedOptions {
  host: string;
  connectTimeoutMs: number;
  keepAlive: boolean;
  keepAliveInitialDelayMs: number;
  maxConnections: number | undefined;
  backlog: number;
}

/** Creates a `Transport` over TCP (node:net) named `'tcp'`. */
export function tcp(options: TcpOptions = {}): TcpTransport {
  const resolved = resolveOptions(options);
  return {
    name: 'tcp',
    dial: (address, dialOptions) => dial(resolved, address, dialOptions),
    listen: (listenOptions) => listen(resolved, listenOptions),
  };
}

function resolveOptions(options: TcpOptions): ResolvedOptions {
  const reader = new OptionsReader('tcp', options);
  // Timer-backed values stop at MAX_TIMER_MS: a longer delay would fire at once.
  return {
    host: checkHost(reader.raw('host') ?? DEFAULT_HOST, 'tcp option host'),
    connectTimeoutMs: reader.integer('connectTimeoutMs', {
      default: DEFAULT_CONNECT_TIMEOUT_MS,
      max: MAX_TIMER_MS,
      alias: 'connectTimeout',
    }),
    keepAlive: reader.boolean('keepAlive', false),
    keepAliveInitialDelayMs: reader.integer('keepAliveInitialDelayMs', {
      default: 0,
      max: MAX_TIMER_MS,
      alias: 'keepAliveInitialDelay',
    }),
    maxConnections: reader.integer('maxConnections', { default: undefined, min: 1, max: MAX_TIMER_MS }),
    backlog: reader.integer('backlog', { default: DEFAULT_BACKLOG, min: 1, max: MAX_TIMER_MS }),
  };
}

function configure(socket: Socket, options: ResolvedOptions): void {
  // PeerNet writes small request/reply records; Nagle would hold each one back for an ACK.
  socket.setNoDelay(true);
  if (options.keepAlive) socket.setKeepAlive(true, options.keepAliveInitialDelayMs);
}

function dial(options: ResolvedOptions, address: TransportAddress, dialOptions: DialOptions = {}): Promise<DuplexStream> {
  return new Promise<DuplexStream>((resolve, reject) => {
    let target: TransportAddress;
    try {
      target = checkDialAddress(address);
    } catch (error) {
      reject(error);
      return;
    }
    const label = formatAddress(target);
    const signal = dialOptions?.signal;
    if (signal?.aborted === true) {
      reject(new AbortedError(`dial to ${label} aborted`, { cause: signal.reason }));
      return;
    }

    const socket = new Socket({ allowHalfOpen: true });
    configure(socket, options);
    let timer: NodeJS.Timeout | undefined;

    const cleanup = (): void => {
      socket.off('connect', onConnect);
      socket.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
      if (timer !== undefined) clearTimeout(timer);
    };
    const fail = (error: PeerNetError): void => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onConnect = (): void => {
      cleanup();
      resolve(socket);
    };
    const onError = (error: Error): void => fail(dialError(error, label));
    const onAbort = (): void => fail(new AbortedError(`dial to ${label} aborted`, { cause: signal?.reason }));

    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (options.connectTimeoutMs > 0) {
      timer = setTimeout(
        () => fail(new TimeoutError(`cannot connect to ${label}: no answer within ${options.connectTimeoutMs} ms`)),
        options.connectTimeoutMs,
      );
    }
    try {
      socket.connect({ host: target.host, port: target.port });
    } catch (error) {
      fail(dialError(error, label));
    }
  });
}

async function listen(options: ResolvedOptions, listenOptions: ListenOptions): Promise<TcpListener> {
  if (typeof listenOptions !== 'object' || listenOptions === null || typeof listenOptions.onStream !== 'function') {
    throw new InvalidArgumentError('listen options must include an onStream function');
  }
  const host = checkHost(listenOptions.host ?? options.host, 'listen host');
  const port = checkPort(listenOptions.port ?? 0, 'listen port', true);
  const server = createServer({ allowHalfOpen: true });
  if (options.maxConnections !== undefined) server.maxConnections = options.maxConnections;

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      server.off('listening', onListening);
      reject(listenError(error, formatAddress({ host, port })));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port, backlog: options.backlog });
  });
  return new TcpListenerImpl(server, options, listenOptions.onStream);
}

class TcpListenerImpl implements TcpListener {
  readonly address: TransportAddress;
  readonly #server: Server;
  readonly #accepted = new Set<Socket>();
  #closing: Promise<void> | undefined;

  constructor(server: Server, options: ResolvedOptions, onStream: ListenOptions['onStream']) {
    this.#server = server;
    const bound = server.address() as AddressInfo;
    this.address = { host: normalizeHost(bound.address), port: bound.port };
    // Accept failures (EMFILE, ECONNABORTED, ...) are transient and the server keeps
    // listening; without a listener Node would turn them into an uncaught exception.
    server.on('error', () => {});
    // Node closes a connection beyond `maxConnections` itself and reports it only here.
    server.on('drop', (dropped?: { remoteAddress?: string; remotePort?: number }) => {
      if (!hasDiagnosticsSubscribers(DIAGNOSTICS_CHANNELS.rateLimited)) return;
      const host = dropped?.remoteAddress;
      const from = host === undefined ? 'unknown' : formatAddress({ host: normalizeHost(host), port: dropped?.remotePort ?? 0 });
      publishDiagnostic(DIAGNOSTICS_CHANNELS.rateLimited, { limit: 'max-connections', from });
    });
    server.on('connection', (socket: Socket) => {
      const remoteHost = socket.remoteAddress;
      const remotePort = socket.remotePort;
      if (remoteHost === undefined || remotePort === undefined) {
        // The dialler reset the connection before we saw it: nothing to hand over.
        socket.destroy();
        return;
      }
      configure(socket, options);
      this.#accepted.add(socket);
      socket.once('close', () => this.#accepted.delete(socket));
      try {
        onStream(socket, { host: normalizeHost(remoteHost), port: remotePort });
      } catch (error) {
        // Same as a throwing 'connection' listener on a net.Server, minus the leaked socket.
        socket.destroy();
        throw error;
      }
    });
  }

  close(): Promise<void> {
    this.#closing ??= this.#stopListening();
    return this.#closing;
  }

  async closeAll(): Promise<void> {
    const closed = [...this.#accepted].map(
      (socket) =>
        new Promise<void>((resolve) => {
          if (socket.closed) resolve();
          else socket.once('close', () => resolve());
          socket.destroy();
        }),
    );
    await Promise.all([this.close(), ...closed]);
  }

  async #stopListening(): Promise<void> {
    // The port is released at once; the server's own 'close' event would wait
    // for every accepted socket to close, which is not this method's business.
    this.#server.close();
    // libuv frees the listening handle in the closing phase of the loop; two
    // setImmediate turns always span one such phase, whatever phase we are in now.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
