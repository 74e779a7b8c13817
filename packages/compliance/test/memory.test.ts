import {
  ConnectionClosedError,
  type DuplexStream,
  InvalidArgumentError,
  type Listener,
  NotConnectedError,
  type PeerNetError,
  type Transport,
} from '@peernet/interface';
import {
  MEMORY_HOST,
  Reader,
  memoryNetwork,
  memoryTransport,
  nextEvent,
  transportSuite,
  waitUntil,
  withTimeout,
} from '../src/index.js';

const WAIT = 5000;

transportSuite('memory', {
  setup: async () => ({ transport: memoryNetwork().transport(), listenAddress: { host: MEMORY_HOST, port: 0 } }),
});

transportSuite('memory with a small buffer and tiny chunks', {
  setup: async () => ({
    transport: memoryNetwork({ highWaterMark: 1024, chunkSize: 100 }).transport(),
    listenAddress: { host: MEMORY_HOST, port: 0 },
  }),
  largeTransferBytes: 1024 * 1024,
});

// The suite's key-addressed path on a transport that passes it: each listener on a fresh transport of one network.
const keyedNetwork = memoryNetwork();
const keyed = { setups: 0, teardowns: 0 };
transportSuite('memory, addressed as if by key', {
  addressing: 'key',
  setup: async () => {
    keyed.setups++;
    return { transport: keyedNetwork.transport(), listenAddress: { host: MEMORY_HOST, port: 0 } };
  },
  teardown: async () => {
    keyed.teardowns++;
  },
});

describe('transportSuite with addressing: key', () => {
  it('listened on fresh transports from setup() and tore every one of them down', () => {
    // One setup for each of the 18 tests, and one more for each listen: a transport of its own.
    expect(keyed.setups).toBeGreaterThan(18);
    expect(keyed.teardowns).toBe(keyed.setups);
    expect(keyedNetwork.listeningPorts()).toEqual([]);
  });

  it('refuses an unknown addressing', () => {
    expect(() =>
      transportSuite('never declared', { addressing: 'ip' as 'port', setup: () => Promise.reject(new Error('unused')) }),
    ).toThrow(InvalidArgumentError);
  });
});

const opened: Array<DuplexStream | Listener> = [];
afterEach(async () => {
  for (const thing of opened.splice(0)) {
    if ('close' in thing) await thing.close();
    else thing.destroy();
  }
});

async function rejection(promise: Promise<unknown>): Promise<PeerNetError> {
  const outcome = await withTimeout(
    promise.then(
      () => undefined,
      (error: unknown) => error as PeerNetError,
    ),
    WAIT,
    'the promise to settle',
  );
  if (outcome === undefined) throw new Error('expected a rejection');
  return outcome;
}

async function connect(transport: Transport) {
  const accepted: DuplexStream[] = [];
  const listener = await transport.listen({
    onStream: (stream) => {
      stream.on('error', () => {});
      opened.push(stream);
      accepted.push(stream);
    },
  });
  opened.push(listener);
  const client = await transport.dial(listener.address);
  client.on('error', () => {});
  opened.push(client);
  await waitUntil(() => accepted.length === 1, WAIT, 'the accept');
  return { listener, client, server: accepted[0] as DuplexStream };
}

describe('memory transport', () => {
  it('is named memory and listens on host memory', async () => {
    const transport = memoryNetwork().transport();
    expect(transport.name).toBe('memory');
    const listener = await transport.listen({ onStream: () => {} });
    opened.push(listener);
    expect(listener.address).toEqual({ host: 'memory', port: 1 });
  });

  it('keeps networks apart and shares the default one', async () => {
    const a = memoryNetwork();
    const b = memoryNetwork();
    const listener = await a.transport().listen({ onStream: (s) => opened.push(s) });
    opened.push(listener);
    expect(a.listeningPorts()).toEqual([listener.address.port]);
    expect(b.listeningPorts()).toEqual([]);
    expect(await rejection(b.transport().dial(listener.address))).toBeInstanceOf(NotConnectedError);
    opened.push(await a.transport().dial(listener.address));

    const shared = await memoryTransport().listen({ onStream: (s) => opened.push(s) });
    opened.push(shared);
    opened.push(await memoryTransport().dial(shared.address));
  });

  it('refuses other hosts, ports in use and bad options', async () => {
    const network = memoryNetwork();
    const transport = network.transport();
    expect(await rejection(transport.listen({ host: '127.0.0.1', onStream: () => {} }))).toBeInstanceOf(
      InvalidArgumentError,
    );
    const listener = await transport.listen({ port: 4000, onStream: () => {} });
    opened.push(listener);
    expect(await rejection(transport.listen({ port: 4000, onStream: () => {} }))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejection(transport.dial({ host: 'elsewhere', port: 4000 }))).toBeInstanceOf(NotConnectedError);
    expect(() => memoryNetwork({ highWaterMark: 0 })).toThrow(InvalidArgumentError);
    expect(() => memoryNetwork({ chunkSize: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => memoryTransport({ network: {} as never })).toThrow(InvalidArgumentError);
  });

  it('frees a port when its listener closes', async () => {
    const network = memoryNetwork();
    const listener = await network.transport().listen({ port: 7, onStream: () => {} });
    await listener.close();
    expect(network.listeningPorts()).toEqual([]);
    const again = await network.transport().listen({ port: 7, onStream: () => {} });
    opened.push(again);
    expect(again.address.port).toBe(7);
  });

  it('splits long writes into chunks of at most chunkSize', async () => {
    const { client, server } = await connect(memoryNetwork({ chunkSize: 1000 }).transport());
    const sizes: number[] = [];
    server.on('data', (chunk) => sizes.push(chunk.length));
    const atServer = new Reader(server);
    client.write(new Uint8Array(4500).fill(9));
    await atServer.waitForBytes(4500, WAIT);
    expect(sizes).toEqual([1000, 1000, 1000, 1000, 500]);
  });

  it('delivers asynchronously and copies what was written', async () => {
    const { client, server } = await connect(memoryNetwork().transport());
    const atServer = new Reader(server);
    const data = new Uint8Array([1, 2, 3]);
    client.write(data);
    data[0] = 99;
    expect(atServer.received).toBe(0);
    await atServer.waitForBytes(3, WAIT);
    expect([...atServer.bytes()]).toEqual([1, 2, 3]);
  });

  it('returns false from write() once highWaterMark bytes wait for a paused reader', async () => {
    const { client, server } = await connect(memoryNetwork({ highWaterMark: 100 }).transport());
    server.pause();
    const results: boolean[] = [];
    for (let i = 0; i < 5; i++) results.push(client.write(new Uint8Array(25)));
    expect(results).toEqual([true, true, true, false, false]);
  });

  it('fails writes after the remote end was destroyed with ConnectionClosedError', async () => {
    const { client, server } = await connect(memoryNetwork().transport());
    const atClient = new Reader(client);
    server.destroy();
    await atClient.waitForEnd(WAIT);
    const failed = nextEvent(client, ['error'], WAIT, "'error' on a write to a destroyed peer");
    client.write(new Uint8Array([1]));
    expect((await failed).value).toBeInstanceOf(ConnectionClosedError);
  });

  it('delivers bytes written just before destroy(), then the end', async () => {
    const { client, server } = await connect(memoryNetwork().transport());
    const atServer = new Reader(server);
    client.write(new TextEncoder().encode('bye'));
    client.destroy();
    await atServer.waitForEnd(WAIT);
    expect(atServer.text()).toBe('bye');
  });
});
