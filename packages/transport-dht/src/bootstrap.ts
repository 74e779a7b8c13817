import HyperDHT from 'hyperdht';
import { OptionsReader } from '@peernet/interface';
import { parseBootstrap } from './bootstrap-list.js';

/** Options of `startBootstrapNode`. */
export interface BootstrapNodeOptions {
  /** The address other nodes reach it at: an address of this machine (required; HyperDHT records it in its id). */
  host: string;
  /** UDP port (default 49737, HyperDHT's); the other nodes take the next ones (`port + 1` …). It is part of a node's DHT id, so it is fixed: no "any free port". */
  port?: number;
  /** Other bootstrap nodes of the same private network, `'host:port'` each (default none: this one starts it). */
  bootstrap?: readonly string[];
  /**
   * DHT nodes this process runs (default 4): the bootstrap node on `port`
   * and the others on the ports after it, all on `host`. A node behind a NAT classifies its NAT from three
   * DHT nodes of its routing table other than the one it bootstrapped from,
   * and cannot holepunch until it has; with fewer, a private network only
   * works where holepunching is not needed.
   */
  nodes?: number;
}

/** A running bootstrap node. */
export interface BootstrapNode {
  /** `'host:port'`, what the fleet passes as `bootstrap`. */
  readonly address: string;
  /** Stops it and releases its socket. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a bootstrap node of a private DHT network: a fleet that does not
 * want the public network passes its address as `dht({ bootstrap })`. It
 * sees who joins (addresses, never session content) and nothing else.
 */
export async function startBootstrapNode(options: BootstrapNodeOptions): Promise<BootstrapNode> {
  const reader = new OptionsReader('startBootstrapNode', options);
  const host = reader.string('host', undefined);
  if (host === undefined || host === '') throw reader.error('host', 'is required (an address of this machine)');
  const port = reader.integer('port', { default: 49_737, min: 1, max: 65_535 });
  const others = reader.raw('bootstrap');
  const bootstrap = others === undefined ? [] : parseBootstrap(others, 'startBootstrapNode bootstrap');
  const count = reader.integer('nodes', { default: 4, min: 1, max: 64 });
  if (port + count - 1 > 65_535) throw reader.error('port', `leaves no room for ${count} nodes (port + ${count - 1} > 65535)`);
  const first = HyperDHT.bootstrapper(port, host, { bootstrap });
  const all = [first];
  const close = async (): Promise<void> => {
    await Promise.all(all.map((node) => node.destroy({ force: true })));
  };
  try {
    await first.ready();
    const address = `${host}:${first.address().port}`;
    while (all.length < count) {
      // Persistent and reachable, like the bootstrap node: they hold the network's records.
      const node = new HyperDHT({ bootstrap: [address, ...bootstrap], host, port: port + all.length, ephemeral: false, firewalled: false });
      all.push(node);
      await node.fullyBootstrapped();
    }
    let closing: Promise<void> | undefined;
    return { address, close: () => (closing ??= close()) };
  } catch (error) {
    await close();
    throw error;
  }
}
