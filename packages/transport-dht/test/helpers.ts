import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import createTestnet from '@hyperswarm/testnet';
import { PeerNet, type PeerNetOptions } from 'peernet';
import { dht } from '@peernet/transport-dht';
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

/**
 * Starts PeerNet nodes on the DHT only (no LAN discovery, no network monitor,
 * on 127.0.0.1) and stops them and removes their data dirs when asked.
 */
export function dhtNodes(bootstrap: () => string[]): {
  start(options?: Partial<PeerNetOptions> & { bootstrap?: string[] }): Promise<PeerNet>;
  pairBoth(a: PeerNet, b: PeerNet): Promise<void>;
  stopAll(): Promise<void>;
  removeDirs(): void;
  newDir(): string;
} {
  const dirs: string[] = [];
  const nodes: PeerNet[] = [];
  const newDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'pn-dht-'));
    dirs.push(dir);
    return dir;
  };
  return {
    newDir,
    async start(options = {}) {
      const { bootstrap: list = bootstrap(), dataDir = newDir(), ...rest } = options;
      const node = await PeerNet.start({
        host: '127.0.0.1',
        discovery: [],
        networkMonitor: false,
        transports: [dht({ bootstrap: list })],
        ...rest,
        dataDir,
      });
      nodes.push(node);
      return node;
    },
    async pairBoth(a, b) {
      await a.pair(b.id);
      await b.pair(a.id);
    },
    async stopAll() {
      await Promise.all(nodes.splice(0).map((n) => n.stop()));
    },
    removeDirs() {
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}
