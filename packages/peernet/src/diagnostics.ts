import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { DIAGNOSTICS_CHANNELS } from '@peernet/interface';
import type { Logger } from './options.js';

/**
 * Hands every message on the PeerNet diagnostics channels to `logger.debug`,
 * the channel's name as the message and the published object as details.
 * Returns how to stop. The channels belong to the process, not to a node:
 * their messages carry no local id to sort them by, so every logger
 * subscribed sees them all.
 */
export function logDiagnostics(logger: Logger): () => void {
  const debug = logger.debug;
  // Subscribing has a cost on hot paths (publishers build their messages), so only when someone reads them.
  if (typeof debug !== 'function') return () => undefined;
  const forward = (message: unknown, name: string | symbol): void => {
    debug.call(logger, String(name), message as Record<string, unknown>);
  };
  const names = Object.values(DIAGNOSTICS_CHANNELS);
  for (const name of names) subscribe(name, forward);
  return () => {
    for (const name of names) unsubscribe(name, forward);
  };
}
