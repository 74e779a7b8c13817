import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Connection } from '@peernet/connection';
import { DIAGNOSTICS_CHANNELS } from '@peernet/interface';
import { connectParties, pairBoth, party, socketPair } from './helpers.js';

/** Collects what is published on `name` while `body` runs. */
async function recording<T>(name: string, body: (seen: Record<string, unknown>[]) => Promise<T>): Promise<T> {
  const seen: Record<string, unknown>[] = [];
  const listener = (message: unknown): void => void seen.push(message as Record<string, unknown>);
  subscribe(name, listener);
  try {
    return await body(seen);
  } finally {
    unsubscribe(name, listener);
  }
}

/** Resolves once `seen` holds `count` messages (checked on every publish through the channel listener's array). */
async function until(seen: unknown[], count: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (seen.length < count) {
    if (Date.now() > deadline) throw new Error(`only ${seen.length} of ${count} diagnostics arrived`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

describe('connection diagnostics', () => {
  it('a refused handshake is published with the proven peer id and the reason, on both sides', async () => {
    const a = party();
    const b = party();
    await a.trust.add(b.identity.id); // one-sided: b does not trust a
    await recording(DIAGNOSTICS_CHANNELS.handshakeRefused, async (seen) => {
      const [clientSocket, serverSocket] = await socketPair();
      const client = new Connection({
        stream: clientSocket,
        identity: a.identity,
        trust: a.trust,
        initiator: true,
        expectedPeer: b.identity.id,
      });
      const server = new Connection({ stream: serverSocket, identity: b.identity, trust: b.trust, initiator: false });
      await expect(server.ready).rejects.toMatchObject({ code: 'untrusted_peer' });
      await expect(client.ready).rejects.toMatchObject({ code: 'refused_by_peer' });
      await until(seen, 2);
      expect(seen).toEqual(
        expect.arrayContaining([
          { peer: a.identity.id.toString(), initiator: false, code: 'untrusted_peer', reason: expect.stringContaining('not trusted') },
          { peer: b.identity.id.toString(), initiator: true, code: 'refused_by_peer', reason: expect.stringContaining('has not paired this node') },
        ]),
      );
    });
  });

  it('calls and sends turned away before a handler runs are published with the name and code', async () => {
    const a = party();
    const b = party();
    await pairBoth(a, b);
    b.handlers.set('private', { handler: () => 'secret', authorize: () => false });
    b.handlers.set('later', { handler: () => 'secret', authorize: async () => false });
    const { client, server } = await connectParties(a, b);
    await recording(DIAGNOSTICS_CHANNELS.callRefused, async (seen) => {
      await expect(client.call('nothing-here', 1)).rejects.toMatchObject({ code: 'no_such_handle' });
      await expect(client.call('private', 1)).rejects.toMatchObject({ code: 'forbidden' });
      await expect(client.call('later', 1)).rejects.toMatchObject({ code: 'forbidden' });
      client.send('nothing-either', 1);
      await until(seen, 4);
      const peer = a.identity.id.toString();
      expect(seen).toEqual([
        { peer, name: 'nothing-here', code: 'no_such_handle' },
        { peer, name: 'private', code: 'forbidden' },
        { peer, name: 'later', code: 'forbidden' },
        { peer, name: 'nothing-either', code: 'no_such_handle' },
      ]);
    });
    client.close();
    await server.closed;
  });

  it('reading stops while the handlers are busy and restarts when they finish, both published', async () => {
    const a = party();
    const b = party();
    await pairBoth(a, b);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    b.handlers.set('slow', { handler: async () => gate.then(() => 'done') });
    const { client, server } = await connectParties(a, b, { maxConcurrentHandlers: 1 });
    await recording(DIAGNOSTICS_CHANNELS.backpressure, async (seen) => {
      const calls = [client.call('slow', 1), client.call('slow', 2), client.call('slow', 3)];
      await until(seen, 1);
      expect(seen[0]).toEqual({ peer: a.identity.id.toString(), state: 'paused', cause: 'handlers-busy', queuedBytes: 0 });
      release();
      await expect(Promise.all(calls)).resolves.toEqual(['done', 'done', 'done']);
      await until(seen, 2);
      expect(seen.at(-1)).toMatchObject({ state: 'resumed', cause: 'handlers-busy' });
    });
    client.close();
    await server.closed;
  });
});
