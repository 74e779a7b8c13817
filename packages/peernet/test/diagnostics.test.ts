import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { Waiters } from '@peernet/compliance';
import { DIAGNOSTICS_CHANNELS, publishDiagnostic, type Logger } from 'peernet';
import { cleanup, connected, startNode } from './helpers.js';

afterEach(cleanup);

/** Records what is published on `name` until `stop()`, and lets a test wait for a message. */
function listen(name: string): { seen: Record<string, unknown>[]; until: (match: (m: Record<string, unknown>) => boolean) => Promise<unknown>; stop: () => void } {
  const seen: Record<string, unknown>[] = [];
  const waiters = new Waiters();
  const listener = (message: unknown): void => {
    seen.push(message as Record<string, unknown>);
    waiters.wake();
  };
  subscribe(name, listener);
  return {
    seen,
    until: (match) => waiters.until(() => seen.find(match), 5_000, () => `a message on ${name}; saw ${JSON.stringify(seen)}`),
    stop: () => unsubscribe(name, listener),
  };
}

async function rawSocket(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.on('error', () => undefined);
  return socket;
}

describe('diagnostics channels', () => {
  it('sessionReplaced: both nodes dial each other at once, and each publishes the swap', async () => {
    const replaced = listen(DIAGNOSTICS_CHANNELS.sessionReplaced);
    try {
      const a = await startNode();
      const b = await startNode();
      await a.pair(b.id);
      await b.pair(a.id);
      await Promise.all([
        a.connect(b.id, { host: '127.0.0.1', port: b.port }),
        b.connect(a.id, { host: '127.0.0.1', port: a.port }),
      ]);
      // Each node holds two sessions with the other: the newer takes over while a ping decides.
      await replaced.until((m) => m.peer === b.id.toString());
      await replaced.until((m) => m.peer === a.id.toString());
      const first = (peer: string): unknown => replaced.seen.find((m) => m.peer === peer);
      expect(first(b.id.toString())).toEqual({ peer: b.id.toString(), reason: 'simultaneous-dial' });
      expect(first(a.id.toString())).toEqual({ peer: a.id.toString(), reason: 'simultaneous-dial' });
      expect(a.isConnected(b.id) && b.isConnected(a.id)).toBe(true);
    } finally {
      replaced.stop();
    }
  });

  it('rateLimited: the pending-handshake cap evicts the oldest idle connection, named by its address', async () => {
    const limited = listen(DIAGNOSTICS_CHANNELS.rateLimited);
    try {
      const b = await startNode({ maxPendingHandshakes: 2, handshakeTimeoutMs: 10_000 });
      const idle = [await rawSocket(b.port), await rawSocket(b.port)];
      // Read now: a closed socket no longer knows its port.
      const from = `127.0.0.1:${(idle[0] as Socket).localPort}`;
      const firstClosed = once(idle[0] as Socket, 'close');
      expect(limited.seen).toEqual([]);
      idle.push(await rawSocket(b.port)); // the third: over the cap
      await firstClosed;
      await limited.until((m) => m.from === from);
      expect(limited.seen).toEqual([{ limit: 'pending-handshakes', from }]);
      for (const s of idle) s.destroy();
    } finally {
      limited.stop();
    }
  });

  it('a logger sees every PeerNet channel at debug while its node runs, and nothing after stop', async () => {
    const debug: Array<[string, Record<string, unknown> | undefined]> = [];
    const waiters = new Waiters();
    const logger: Logger = {
      debug: (message, details) => {
        debug.push([message, details]);
        waiters.wake();
      },
    };
    const b = await startNode({ logger, maxPendingHandshakes: 1, handshakeTimeoutMs: 10_000 });
    const a = await startNode();
    // Something that really happens: a second connection evicts the first pending one.
    const idle = await rawSocket(b.port);
    const from = `127.0.0.1:${idle.localPort}`;
    const idleClosed = once(idle, 'close');
    await connected(a, b);
    await idleClosed;
    await waiters.until(() => debug.find(([m, d]) => m === DIAGNOSTICS_CHANNELS.rateLimited && d?.from === from), 5_000, 'the eviction in the log');
    // Every channel, those other packages publish on included.
    for (const name of Object.values(DIAGNOSTICS_CHANNELS)) publishDiagnostic(name, { probe: name });
    const probes = debug.filter(([, d]) => d?.probe !== undefined).map(([m, d]) => [m, d?.probe]);
    expect(probes).toEqual(Object.values(DIAGNOSTICS_CHANNELS).map((name) => [name, name]));
    await b.stop();
    const before = debug.length;
    publishDiagnostic(DIAGNOSTICS_CHANNELS.sessionReplaced, { probe: 'after stop' });
    expect(debug.length).toBe(before);
  });
});
