// The commands that run DHT infrastructure: a bootstrap node of a private
// network, and a relay for nodes that cannot holepunch.
import { isIPv4 } from 'node:net';
import { ed25519KeyPair, loadOrCreateIdentity } from '@peernet/identity';
import { querySnapshot } from './control.js';
import { bootstrapList, loadDht, notePublicNetwork, peerList, portFlag, stringFlag, type Context } from './context.js';
import { CliError, EXIT, usageError } from './exit.js';
import { untilSignal } from './network.js';

/** HyperDHT's port, the default of a bootstrap node. */
const DEFAULT_BOOTSTRAP_PORT = 49_737;

/** `peernet dht-bootstrap`: a bootstrap node until SIGINT/SIGTERM; its address is the first line. */
export async function cmdDhtBootstrap(ctx: Context): Promise<number> {
  const host = stringFlag(ctx.flags, 'host');
  if (host === undefined) {
    throw usageError('dht-bootstrap needs --host ADDR: the IPv4 address of this machine that other nodes reach it at');
  }
  // HyperDHT records the address in the node's id, so it must be the one others use, not a wildcard.
  if (!isIPv4(host) || host === '0.0.0.0') {
    throw usageError(`--host must be the IPv4 address of this machine that other nodes reach it at, got ${JSON.stringify(host)}`);
  }
  const port = portFlag(ctx, 1) ?? DEFAULT_BOOTSTRAP_PORT;
  const bootstrap = await bootstrapList(ctx);
  const { startBootstrapNode } = await loadDht();
  const node = await startBootstrapNode({ host, port, ...(bootstrap ? { bootstrap } : {}) });
  try {
    // Listening before the address is printed: whoever reads it may signal at once.
    const signalled = untilSignal();
    ctx.out(ctx.json ? JSON.stringify({ event: 'listening', address: node.address }) : node.address);
    await signalled;
  } finally {
    await node.close();
  }
  return EXIT.ok;
}

/** `peernet dht-relay`: a blind relay under the data dir's identity until SIGINT/SIGTERM; its id is the first line. */
export async function cmdDhtRelay(ctx: Context): Promise<number> {
  const bootstrap = await bootstrapList(ctx);
  const allow = peerList(ctx, 'allow');
  const host = stringFlag(ctx.flags, 'host');
  const port = portFlag(ctx, 0);
  // A node on this data dir has the same key: two announcements of one key would take each other's connections.
  if (await querySnapshot(ctx.dataDir)) {
    throw new CliError(
      'already_running',
      `a peernet serve is running on ${ctx.dataDir}: the relay would announce the same id; give the relay a data dir of its own`,
    );
  }
  const identity = await loadOrCreateIdentity({ dataDir: ctx.dataDir });
  if (bootstrap === undefined) notePublicNetwork(ctx, 'dht-relay');
  const { startRelay } = await loadDht();
  const relay = await startRelay({
    keyPair: ed25519KeyPair(identity),
    ...(bootstrap ? { bootstrap } : {}),
    ...(allow ? { allow } : {}),
    ...(host === undefined ? {} : { host }),
    ...(port === undefined ? {} : { port }),
  });
  try {
    const signalled = untilSignal();
    const id = relay.id.toString();
    ctx.out(ctx.json ? JSON.stringify({ event: 'listening', id, network: bootstrap ? 'private' : 'public' }) : id);
    await signalled;
  } finally {
    await relay.close();
  }
  return EXIT.ok;
}
