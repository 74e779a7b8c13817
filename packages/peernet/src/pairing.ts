import { NotConnectedError, type PeerId } from '@peernet/interface';
import { joinInvite, type JoinHost, type JoinOptions, type JoinResult } from '@peernet/pairing';
import type { Registry } from '@peernet/registry';
import type { TrustStore } from '@peernet/trust';
import type { Transports } from './transports.js';

/** A node's `JoinHost`: what discovery knows from its registry, id addresses from its transports, trust from its store, the rest from the node. */
export function joinHost(
  id: PeerId,
  registry: Registry,
  transports: Transports,
  trust: TrustStore,
  node: Pick<JoinHost, 'openPairing' | 'pair' | 'connect'> & { waitForPeer(peer: PeerId, options: { timeoutMs: number }): Promise<void> },
): JoinHost {
  const rendezvous = transports.rendezvous();
  return {
    id,
    known: () => registry.peers(),
    idAddresses: (peer) => transports.idAddresses(peer).map(({ address }) => address),
    lookup: rendezvous && ((topic, signal) => rendezvous.lookup(topic, { signal })),
    watch: (listener) => {
      registry.on('peer:discovered', listener);
      return () => registry.off('peer:discovered', listener);
    },
    isPaired: (peer) => trust.has(peer),
    unpair: (peer) => trust.remove(peer).then(() => undefined),
    openPairing: node.openPairing,
    pair: node.pair,
    // A dial that fails (the inviter's own dial won, or its address moved) leaves the registry to bring the session up.
    connect: (peer, address) => node.connect(peer, address).catch(() => node.waitForPeer(peer, { timeoutMs: 10_000 })),
  };
}

/** `joinInvite`, ended with `not_connected` as soon as the node stops (`stopped` fires), or at once on a stopped node. */
export async function joinUntilStopped(host: JoinHost, code: string, options: JoinOptions, stopped: AbortSignal): Promise<JoinResult> {
  const signal = options.signal === undefined ? stopped : AbortSignal.any([options.signal, stopped]);
  try {
    return await joinInvite(host, code, { ...options, signal });
  } catch (error) {
    if (stopped.aborted) throw new NotConnectedError('node is stopped', { cause: error });
    throw error;
  }
}

