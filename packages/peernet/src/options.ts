import {
  MAX_TIMER_MS,
  OptionsReader,
  describeValue,
  systemClock,
  type Clock,
  type Discovery,
  type NetworkMonitor,
  type Transport,
  type TransportFactory,
} from '@peernet/interface';
import type { Identity } from '@peernet/identity';
import type { TrustStore } from '@peernet/trust';
import type { CryptoProvider } from '@peernet/noise';
import { backoffOptions, pollingNetworkMonitor, type Backoff, type BackoffOptions, type RegistryOptions } from '@peernet/registry';

/** Receives PeerNet's diagnostics; `console` fits. */
export interface Logger {
  /** Detail: dial failures, and every message on the PeerNet diagnostics channels while the node runs. */
  debug?(message: string, details?: Record<string, unknown>): void;
  /** Peers coming and going, network changes. */
  info?(message: string, details?: Record<string, unknown>): void;
  /** Refused handshakes, failed dials, failing send handlers. */
  warn?(message: string, details?: Record<string, unknown>): void;
}

/** Options of `PeerNet.start`. */
export interface PeerNetOptions {
  /**
   * Directory of `identity.key` and `trust.json` (created 0700 if missing). It,
   * its files and the directories above it must not be another user's or
   * writable by others (`unsafe_permissions`): a directory of the user's own,
   * never a fixed name in a shared directory such as `/tmp/peernet`.
   */
  dataDir: string;
  /** Port the default transport listens on; 0 (default) picks a free one. */
  port?: number;
  /** Address to listen on (default `0.0.0.0`: every IPv4 interface; only paired peers get past the handshake). */
  host?: string;
  /** Transport (default TCP): the one LAN addresses without a `transport` tag are dialled on. */
  transport?: Transport;
  /**
   * More transports, each a `Transport` or a factory that gets the node's
   * id, key pair and trust decision: e.g. `dht({ bootstrap })` from
   * `@peernet/transport-dht` to reach peers by id across networks. The node
   * listens on every one; a peer's addresses say which transport dials them.
   */
  transports?: readonly (Transport | TransportFactory)[];
  /** Identity to use instead of `dataDir/identity.key`. */
  identity?: Identity;
  /** Trust store to use instead of `dataDir/trust.json`. */
  trust?: TrustStore;
  /** Time for a handshake, dialled or accepted (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Default timeout of `call` (default 5 s). */
  callTimeoutMs?: number;
  /** Largest message sent or accepted (default 16 MiB). */
  maxMessageBytes?: number;
  /**
   * Largest estimated heap, in bytes, one received message may decode to
   * (default 64 MiB); a peer that sends more is disconnected. The arguments
   * held by one peer's running handlers together stay within it too (the
   * node stops reading from that peer until enough handlers finish).
   */
  maxDecodedBytes?: number;
  /** Handlers running at once per peer (default 256). */
  maxConcurrentHandlers?: number;
  /**
   * Receive window of each byte stream (default 256 KiB, at most 16 MiB):
   * what a peer may send ahead of the reader, so what one stream can hold
   * in memory on either side.
   */
  streamWindowBytes?: number;
  /** Byte streams open at once per peer, both directions (default 1,024); a peer's excess opens get `too_many_streams`. */
  maxStreams?: number;
  /** A peer's stream opens whose `authorize` is still running (default 64); beyond it `too_many_streams`. */
  maxPendingStreams?: number;
  /**
   * Bytes that may wait behind a peer that does not read (default 64 MiB).
   * Beyond it `send`/`call` to that peer fail with `message_too_large` and
   * the node stops reading from it until it reads.
   */
  maxQueuedBytes?: number;
  /** Inbound connections allowed in their handshake at once; beyond it the oldest is dropped (default 128). */
  maxPendingHandshakes?: number;
  /** Noise crypto provider (fastest available when omitted). */
  crypto?: CryptoProvider;
  /**
   * Diagnostics (silent when omitted). With a `debug` method, it also gets
   * every message published on the PeerNet diagnostics channels while the
   * node runs, named by channel; the channels are the process's, so with
   * several nodes in one process each logger sees the others' messages too.
   */
  logger?: Logger;
  /**
   * How peers are found: `'mdns'` (DNS-SD), `'udp'` (signed broadcasts) and/or
   * your own `Discovery` instances. Default `['mdns', 'udp']`; `[]` for none
   * (then only `connect()` makes sessions).
   */
  discovery?: readonly ('mdns' | 'udp' | Discovery)[];
  /**
   * Interfaces the built-in discoveries send and listen on: IPv4 addresses
   * (`'127.0.0.1'`) or names (`'eth0'`). Default: every non-internal IPv4 interface.
   */
  interfaces?: readonly string[];
  /** UDP port of the broadcast discovery (default 4040; the same on every node of a LAN). */
  udpPort?: number;
  /** Heartbeat on every session (ping every 15 s, close after 30 s without pong); `false` turns it off. */
  liveness?: { intervalMs?: number; timeoutMs?: number } | false;
  /** Reconnect schedule (500 ms doubling to 30 s, with jitter). */
  reconnect?: BackoffOptions;
  /**
   * How a paired peer's known addresses are dialled: in parallel, the best
   * evidenced first, the next one `staggerMs` later (default 250) or when one
   * fails, each with `timeoutMs` to authenticate (default 2,500), at most
   * `maxParallel` at once (default 8); at most `maxAddressesPerPeer` addresses
   * are kept per peer (default 16).
   */
  dialing?: { timeoutMs?: number; staggerMs?: number; maxParallel?: number; maxAddressesPerPeer?: number };
  /**
   * What tells the node that the machine's addresses changed. When one goes
   * away, sessions are dropped; on any change the node re-announces and
   * re-dials. Default: `pollingNetworkMonitor()` (every 2 s); `{ intervalMs }`
   * is short for `pollingNetworkMonitor({ intervalMs })`; a `NetworkMonitor`
   * of your own (a platform's change notifications) replaces it; `false`
   * turns it off.
   */
  networkMonitor?: NetworkMonitor | { intervalMs?: number } | false;
  /**
   * Time source of every timer the node and its parts arm: handshake and
   * call timeouts, heartbeats, reconnect backoff, network polls (default
   * `systemClock`).
   */
  clock?: Clock;
}

/** The options of `PeerNet.start`, checked, with the node's own defaults filled in. */
export interface NodeSettings {
  readonly dataDir: string;
  readonly port: number;
  readonly host: string;
  readonly transport: Transport | undefined;
  readonly transports: readonly (Transport | TransportFactory)[];
  readonly identity: Identity | undefined;
  readonly trust: TrustStore | undefined;
  /** Passed to every `Connection` as they are; undefined ones take the connection's defaults. */
  readonly connection: {
    readonly handshakeTimeoutMs: number | undefined;
    readonly callTimeoutMs: number | undefined;
    readonly maxMessageBytes: number | undefined;
    readonly maxDecodedBytes: number | undefined;
    readonly maxConcurrentHandlers: number | undefined;
    readonly streamWindowBytes: number | undefined;
    readonly maxStreams: number | undefined;
    readonly maxPendingStreams: number | undefined;
    readonly maxQueuedBytes: number | undefined;
    readonly crypto: CryptoProvider | undefined;
  };
  readonly callTimeoutMs: number;
  readonly maxPendingHandshakes: number;
  readonly logger: Logger;
  readonly discovery: readonly ('mdns' | 'udp' | Discovery)[];
  readonly interfaces: readonly string[] | undefined;
  readonly udpPort: number | undefined;
  readonly liveness: { readonly intervalMs: number; readonly timeoutMs: number } | false;
  readonly reconnect: Backoff;
  readonly dialing: Partial<RegistryOptions>;
  readonly networkMonitor: NetworkMonitor | false;
  readonly clock: Clock;
}

const OWNER = 'PeerNet.start';
const TIMEOUT = { min: 1, max: MAX_TIMER_MS } as const;

/** Checks every option of `PeerNet.start`; throws `invalid_argument` naming the first bad one. */
export function readOptions(options: PeerNetOptions): NodeSettings {
  const reader = new OptionsReader(OWNER, options);
  const dataDir = reader.string('dataDir', undefined);
  if (dataDir === undefined) throw reader.error('dataDir', 'is required: the directory of the identity and trust list');
  const clock = reader.object<Clock, Clock>('clock', ['now', 'setTimeout', 'clearTimeout'], systemClock);
  const callTimeoutMs = reader.number('callTimeoutMs', { default: undefined, ...TIMEOUT });
  return {
    dataDir,
    port: reader.integer('port', { default: 0, min: 0, max: 65_535 }),
    host: reader.string('host', '0.0.0.0'),
    transport: reader.object<Transport, undefined>('transport', ['dial', 'listen'], undefined),
    transports: readTransports(reader),
    identity: reader.object<Identity, undefined>('identity', ['noiseKeyPair'], undefined),
    trust: reader.object<TrustStore, undefined>('trust', ['has', 'add', 'remove', 'list', 'on', 'off'], undefined),
    connection: {
      handshakeTimeoutMs: reader.number('handshakeTimeoutMs', { default: undefined, ...TIMEOUT }),
      callTimeoutMs,
      maxMessageBytes: reader.integer('maxMessageBytes', { default: undefined, min: 1 }),
      maxDecodedBytes: reader.integer('maxDecodedBytes', { default: undefined, min: 1 }),
      maxConcurrentHandlers: reader.integer('maxConcurrentHandlers', { default: undefined, min: 1 }),
      streamWindowBytes: reader.integer('streamWindowBytes', { default: undefined, min: 1, max: 16 * 1024 * 1024 }),
      maxStreams: reader.integer('maxStreams', { default: undefined, min: 1 }),
      maxPendingStreams: reader.integer('maxPendingStreams', { default: undefined, min: 1 }),
      maxQueuedBytes: reader.integer('maxQueuedBytes', { default: undefined, min: 1 }),
      crypto: reader.object<CryptoProvider, undefined>('crypto', [], undefined),
    },
    callTimeoutMs: callTimeoutMs ?? 5_000,
    maxPendingHandshakes: reader.integer('maxPendingHandshakes', { default: 128, min: 1 }),
    logger: reader.object<Logger, Logger>('logger', [], {}),
    discovery: readDiscovery(reader),
    interfaces: stringList(reader, 'interfaces', undefined, true),
    udpPort: reader.integer('udpPort', { default: undefined, min: 1, max: 65_535 }),
    liveness: readLiveness(reader),
    reconnect: backoffOptions(reader.raw('reconnect') as BackoffOptions | undefined, `${OWNER} reconnect`),
    dialing: readDialing(reader),
    networkMonitor: readNetworkMonitor(reader, clock),
    clock,
  };
}

/** An array option; with `stringsOnly`, of non-empty strings. */
function stringList<D extends readonly unknown[] | undefined>(
  reader: OptionsReader,
  name: string,
  fallback: D,
  stringsOnly: boolean,
): readonly string[] | D {
  const value = reader.raw(name);
  if (value === undefined) return fallback;
  if (!Array.isArray(value)) throw reader.error(name, 'must be an array');
  if (stringsOnly && !value.every((item) => typeof item === 'string' && item !== '')) {
    throw reader.error(name, 'must hold only non-empty strings');
  }
  return value as string[];
}

/** The `transports` option: `Transport` objects and factories. */
function readTransports(reader: OptionsReader): NodeSettings['transports'] {
  const list = reader.raw('transports') ?? [];
  if (!Array.isArray(list)) throw reader.error('transports', 'must be an array of transports or transport factories');
  list.forEach((t: unknown, i) => {
    const isTransport = typeof t === 'object' && t !== null && typeof (t as Transport).dial === 'function';
    if (typeof t !== 'function' && !isTransport) {
      throw reader.error('transports', `[${i}] is ${describeValue(t)}: use a Transport or a factory such as dht()`);
    }
  });
  return list as NodeSettings['transports'];
}

/** The `discovery` option: built-in names and `Discovery` objects. */
function readDiscovery(reader: OptionsReader): NodeSettings['discovery'] {
  const list = stringList(reader, 'discovery', ['mdns', 'udp'], false) as readonly unknown[];
  for (const d of list) {
    const isDiscovery = typeof d === 'object' && d !== null && typeof (d as Discovery).start === 'function';
    if (d !== 'mdns' && d !== 'udp' && !isDiscovery) {
      throw reader.error('discovery', `has an unknown discovery ${describeValue(d)}: use 'mdns', 'udp' or a Discovery`);
    }
  }
  return list as NodeSettings['discovery'];
}

function readLiveness(reader: OptionsReader): NodeSettings['liveness'] {
  const value = reader.raw('liveness');
  if (value === false) return false;
  const nested = new OptionsReader(`${OWNER} liveness`, value);
  return {
    intervalMs: nested.number('intervalMs', { default: 15_000, ...TIMEOUT }),
    timeoutMs: nested.number('timeoutMs', { default: 30_000, ...TIMEOUT }),
  };
}

/** The `dialing` option under the registry's names. */
function readDialing(reader: OptionsReader): Partial<RegistryOptions> {
  const nested = new OptionsReader(`${OWNER} dialing`, reader.raw('dialing'));
  const dialing: Partial<Record<keyof RegistryOptions, number>> = {
    dialTimeoutMs: nested.number('timeoutMs', { default: undefined, ...TIMEOUT }),
    dialStaggerMs: nested.number('staggerMs', { default: undefined, min: 0, max: MAX_TIMER_MS }),
    maxParallelDials: nested.integer('maxParallel', { default: undefined, min: 1 }),
    maxAddressesPerPeer: nested.integer('maxAddressesPerPeer', { default: undefined, min: 1 }),
  };
  return Object.fromEntries(Object.entries(dialing).filter(([, v]) => v !== undefined));
}

function readNetworkMonitor(reader: OptionsReader, clock: Clock): NetworkMonitor | false {
  const value = reader.raw('networkMonitor');
  if (value === false) return false;
  if (typeof value === 'object' && value !== null && 'watch' in value) {
    return reader.object<NetworkMonitor, undefined>('networkMonitor', ['watch'], undefined) as NetworkMonitor;
  }
  const nested = new OptionsReader(`${OWNER} networkMonitor`, value);
  return pollingNetworkMonitor({ intervalMs: nested.number('intervalMs', { default: 2_000, ...TIMEOUT }), clock });
}
