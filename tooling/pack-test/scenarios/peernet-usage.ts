// Type-checked against the declarations of the installed `peernet` tarball
// (never run): the public types resolve from `peernet` alone, and they are
// real types, not `any` (each @ts-expect-error fails the check if its line
// stops being an error).
import {
  type DuplexStream,
  type Handler,
  type Listener,
  type PeerInfo,
  type PeerNetOptions,
  type Transport,
  NotConnectedError,
  PeerId,
  PeerNet,
  PeerNetError,
  client,
  serve,
} from 'peernet';

export const transport: Transport = {
  name: 'custom',
  dial: async (): Promise<DuplexStream> => {
    throw new NotConnectedError('nowhere to go');
  },
  listen: async ({ port }): Promise<Listener> => ({
    address: { host: 'custom', port: port ?? 1 },
    close: async () => {},
  }),
};

export async function run(dataDir: string): Promise<string> {
  const options: PeerNetOptions = { dataDir, discovery: [], transport, host: 'custom' };
  const node: PeerNet = await PeerNet.start(options);
  const greet: Handler = (name, { peer }) => `hello ${String(name)} from ${peer.toString()}`;
  node.expose('greet', greet);
  const api = { add: (a: number, b: number): number => a + b };
  const service = serve(node, 'api', api);
  const other: PeerId = PeerId.parse(node.id.toString());
  const sum: number = await client<typeof api>(node, other, 'api').add(1, 2);
  // @ts-expect-error the typed client knows the parameter types
  await client<typeof api>(node, other, 'api').add('1', 2);
  // @ts-expect-error and the method names
  await client<typeof api>(node, other, 'api').subtract(1, 2);
  // @ts-expect-error dataDir is required
  await PeerNet.start({ discovery: [] });
  const peers: PeerInfo[] = node.listPeers();
  const status: 'online' | 'connecting' | 'offline' | undefined = peers[0]?.status;
  const error = await node.call(other, 'greet', 'me').catch((e: unknown) => e);
  const code: string | undefined = error instanceof PeerNetError ? error.code : undefined;
  service.close();
  await node.stop();
  return `${sum} ${String(status)} ${String(code)}`;
}

