import { channel, type Channel } from 'node:diagnostics_channel';

/**
 * The `node:diagnostics_channel` names PeerNet publishes on. They are
 * stable: subscribe with `diagnostics_channel.subscribe(name, fn)`. Every
 * message is a plain object of strings and numbers (JSON-safe); peer ids are
 * their text form.
 */
export const DIAGNOSTICS_CHANNELS = {
  /** A handshake ended without a session: `{ peer?, initiator, code, reason }` (`peer`: the id proven in the handshake, else the one dialled). */
  handshakeRefused: 'peernet:handshake:refused',
  /** A call or send was refused before its handler ran: `{ peer, name, code }`. */
  callRefused: 'peernet:call:refused',
  /** A discovery packet was dropped (malformed, forged, off-link, stale): `{ discovery, from, reason }`. */
  discoveryDropped: 'peernet:discovery:dropped',
  /** A rate limit or budget turned work away: `{ limit, from?, peer? }`. */
  rateLimited: 'peernet:rate-limited',
  /** A session stopped reading from its peer, or started again: `{ peer, state: 'paused' | 'resumed', cause: 'handlers-busy' | 'peer-not-reading', queuedBytes }`. */
  backpressure: 'peernet:backpressure',
  /** A newer session took an older one's place for the same peer: `{ peer, reason }`. */
  sessionReplaced: 'peernet:session:replaced',
} as const;

/** One of the channel names in `DIAGNOSTICS_CHANNELS`. */
export type DiagnosticsChannelName = (typeof DIAGNOSTICS_CHANNELS)[keyof typeof DIAGNOSTICS_CHANNELS];

const channels = new Map<string, Channel>();

/**
 * Publishes `message` on a PeerNet channel. Costs one property read when
 * nobody listens, so it is safe on hot paths; build an expensive message
 * only after `hasDiagnosticsSubscribers` says someone does.
 */
export function publishDiagnostic(name: DiagnosticsChannelName, message: Record<string, unknown>): void {
  const ch = channelOf(name);
  if (ch.hasSubscribers) ch.publish(message);
}

/** True when something listens on the channel. */
export function hasDiagnosticsSubscribers(name: DiagnosticsChannelName): boolean {
  return channelOf(name).hasSubscribers;
}

function channelOf(name: string): Channel {
  let ch = channels.get(name);
  if (ch === undefined) channels.set(name, (ch = channel(name)));
  return ch;
}
