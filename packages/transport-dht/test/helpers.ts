import createTestnet from '@hyperswarm/testnet';
import { PeerId, type TransportContext } from '@peernet/interface';
import { ed25519KeyPair, generateIdentity, type Identity } from '@peernet/identity';

/**
 * `describe` when the run is inside the loopback-only namespace that the
 * package's test script makes (nothing can leave it), else a skip saying why.
 */
export function describeInNetns(name: string, body: () => void): void {
  const inside = process.env.PEERNET_NETNS === '1';
  if (inside) {
    describe(name, body);
    return;
  }
  const why = process.env.PEERNET_NETNS ?? 'run through the package test script (pnpm test), which makes a namespace';
  describe(name, () => it.skip(`skipped: DHT tests run only inside a network namespace (${why})`, () => undefined));
}

/** A local bootstrap network of three DHT nodes on 127.0.0.1 and its 'host:port' list. */
export async function localDht(): Promise<{ bootstrap: string[]; destroy(): Promise<void> }> {
  const testnet = await createTestnet(3, { host: '127.0.0.1' });
  return {
    bootstrap: testnet.bootstrap.map((b: { host: string; port: number }) => `${b.host}:${b.port}`),
    destroy: () => testnet.destroy(),
  };
}

/** A transport context for `identity`, pairing exactly the ids in `paired`. */
export function contextOf(identity: Identity, paired: Set<string>): TransportContext {
  return {
    id: identity.id,
    keyPair: ed25519KeyPair(identity),
    isPaired: (peer: PeerId) => paired.has(peer.toString()),
  };
}

export { generateIdentity };
