import {
  systemClock, type Clock, type DuplexStream, type HandlerContext, type HandlerLookup, type OptionsReader, type PeerId,
  type StreamHandlerLookup,
} from '@peernet/interface';
import type { CryptoProvider, KeyPair } from '@peernet/noise';

/** Who we are, as the connection needs it. An `Identity` from `@peernet/identity` fits. */
export interface LocalIdentity {
  readonly id: PeerId;
  /** The Noise static key pair; read once per identity object and kept for its connections. */
  noiseKeyPair(): KeyPair;
}

/** The trust check run on the remote identity. A `TrustStore` from `@peernet/trust` fits. */
export interface TrustCheck {
  has(id: PeerId): boolean;
}

/**
 * Pairing sessions (docs/pairing.md): a session in which the peer need not be
 * paired, and which serves only the pairing handlers.
 */
export interface PairingAccess {
  /** Initiator: ask for a pairing session; the responder need not be trusted (it still must be `expectedPeer`). */
  request?: boolean | undefined;
  /** Responder: whether to admit `peer`, which asks for a pairing session (called once, after it proved its id). */
  admit?: ((peer: PeerId) => boolean) | undefined;
  /** Responder: what a pairing session serves, instead of `handlers` (no streams either way). */
  handlers?: HandlerLookup | undefined;
}

/** Largest envelope a pairing session carries, either way: its messages are a few hundred bytes. */
export const PAIRING_MAX_MESSAGE_BYTES = 4096;

/**
 * Timer functions, the older name of the connection's clock option.
 * @deprecated Pass a `Clock` from `@peernet/interface` as `clock`.
 */
export type Timers = Pick<Clock, 'setTimeout' | 'clearTimeout'>;

/** Options of `openConnection`. */
export interface ConnectionOptions {
  /** The byte stream, already connected. The connection owns it from now on. */
  stream: DuplexStream;
  /** Our identity. */
  identity: LocalIdentity;
  /** Whom we trust; checked during the handshake. */
  trust: TrustCheck;
  /** True when we dialled. */
  initiator: boolean;
  /** The peer we dialled (required for initiators): reaching anyone else is `peer_mismatch`. */
  expectedPeer?: PeerId | undefined;
  /** Handlers callable by the peer (none when omitted: everything is `no_such_handle`). */
  handlers?: HandlerLookup | undefined;
  /** Stream handlers the peer may open streams to (none when omitted: every open is `no_such_handle`). */
  streamHandlers?: StreamHandlerLookup | undefined;
  /**
   * Receive window of each byte stream, in bytes (default 256 KiB, at most
   * 16 MiB): what the peer may send ahead of the application's reading, and
   * so what one stream can hold in memory on either side.
   */
  streamWindowBytes?: number | undefined;
  /** Byte streams open at once on this connection, both directions together (default 1,024); the peer's excess opens are refused with `too_many_streams`. */
  maxStreams?: number | undefined;
  /** The peer's stream opens whose `authorize` is still running (default 64); beyond it they are refused with `too_many_streams`. */
  maxPendingStreams?: number | undefined;
  /** Time for the whole handshake, including the responder's confirmation (default 10 s). */
  handshakeTimeoutMs?: number | undefined;
  /** Default timeout of `call` (default 5 s). */
  callTimeoutMs?: number | undefined;
  /** Largest envelope sent or accepted (default 16 MiB). */
  maxMessageBytes?: number | undefined;
  /**
   * Largest estimated JS heap, in bytes, that one received envelope may
   * decode to (default 64 MiB); a peer that sends more is disconnected with
   * `message_too_large`, before anything is decoded. The arguments held by
   * this connection's running handlers together stay within it too: when
   * the next call would pass it, the connection stops reading until enough
   * handlers finish. The estimate is an upper bound of V8's real cost
   * (`{}` counts 64 bytes, a small integer in an array 8, a string 24 + 2 per
   * UTF-8 byte, a byte string 208 + its length).
   */
  maxDecodedBytes?: number | undefined;
  /** Handlers running at once for this peer; beyond it the connection stops reading (default 256). */
  maxConcurrentHandlers?: number | undefined;
  /** Bytes queued behind a stream that does not drain before `send`/`call` are refused and reading stops until it drains (default 64 MiB). */
  maxQueuedBytes?: number | undefined;
  /** Aborts the handshake. */
  signal?: AbortSignal | undefined;
  /** Pairing sessions: asking for one (initiator), admitting one (responder). Absent: every session needs trust both ways. */
  pairing?: PairingAccess | undefined;
  /** Crypto provider for Noise (the package default when omitted). */
  crypto?: CryptoProvider | undefined;
  /** Clock and timers of every deadline and of ping round trips (`systemClock` when omitted). */
  clock?: Clock | undefined;
  /** @deprecated The older name of `clock`; used only when `clock` is absent (ping times then use `performance.now()`). */
  timers?: Timers | undefined;
  /** Called when a handler of a one-way `send` fails; there is nobody to reply to. */
  onHandlerError?: ((error: unknown, context: HandlerContext) => void) | undefined;
}

/** The connection's clock: `clock`, or the older `timers` with the monotonic system time. */
export function clockOf(reader: OptionsReader): Clock {
  const clock = reader.object<Clock, undefined>('clock', ['now', 'setTimeout', 'clearTimeout'], undefined);
  if (clock !== undefined) return clock;
  const timers = reader.object<Timers, undefined>('timers', ['setTimeout', 'clearTimeout'], undefined);
  if (timers === undefined) return systemClock;
  return { now: () => performance.now(), setTimeout: timers.setTimeout.bind(timers), clearTimeout: timers.clearTimeout.bind(timers) };
}
