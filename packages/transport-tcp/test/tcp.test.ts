import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { getEventListeners, once } from 'node:events';
import { type Socket, connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { Worker } from 'node:worker_threads';
import { Reader, resourceSnapshot, resourcesAbove, waitUntil, withTimeout } from '@peernet/compliance';
import {
  AbortedError,
  DIAGNOSTICS_CHANNELS,
  type DuplexStream,
  InvalidArgumentError,
  NotConnectedError,
  type PeerNetError,
  TimeoutError,
} from '@peernet/interface';
import { type TcpListener, tcp } from '@peernet/transport-tcp';
import { formatAddress, normalizeHost } from '../src/address.js';

const WAIT = 5000;
const hasIpv6Loopback = Object.values(networkInterfaces()).some((addresses) =>
  (addresses ?? []).some((a) => a.internal && a.family === 'IPv6' && a.address === '::1'),
);
const itIpv6 = hasIpv6Loopback ? it : it.skip;

/** Node records the options it applied to a socket's handle under internal symbols. */
function socketFlag(stream: DuplexStream, name: string): unknown {
  const symbol = Object.getOwnPropertySymbols(stream).find((s) => s.description === name);
  return symbol === undefined ? undefined : (stream as unknown as Record<symbol, unknown>)[symbol];
}

async function rejection(promise: Promise<unknown>): Promise<PeerNetError> {
  const outcome = await withTimeout(
    promise.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    ),
    WAIT,
    'the promise to settle',
  );
  if ('value' in outcome) {
    (outcome.value as DuplexStream | undefined)?.destroy?.();
    throw new Error('expected a rejection');
  }
  return outcome.error as PeerNetError;
}

/** Everything a test opens, closed afterwards whatever happened. */
const open: Array<{ destroy(): void } | TcpListener> = [];
function keep<T extends { destroy(): void } | TcpListener>(thing: T): T {
  open.push(thing);
  if ('on' in thing && typeof thing.on === 'function') (thing as unknown as Socket).on('error', () => {});
  return thing;
}
afterEach(async () => {
  for (const thing of open.splice(0)) {
    if ('closeAll' in thing) await thing.closeAll();
    else thing.destroy();
  }
});

/** Listens on 127.0.0.1 and collects what it accepts. */
async function server(transport = tcp(), host = '127.0.0.1') {
  const accepted: DuplexStream[] = [];
  const listener = keep(
    await transport.listen({
      host,
      port: 0,
      onStream: (stream) => {
        keep(stream);
        accepted.push(stream);
      },
    }),
  );
  return { transport, listener, accepted };
}

/**
 * A listening socket that never accepts: a worker binds it with a backlog of
 * one and then blocks its own event loop, so the kernel queues two connections
 * and silently drops every later SYN. Loopback only, and fully deterministic.
 */
async function blackhole() {
  const gate = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const server = require('node:net').createServer();
     server.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
       parentPort.postMessage(server.address().port);
       Atomics.wait(workerData, 0, 0);
       server.close();
     });`,
    { eval: true, workerData: gate },
  );
  const [port] = (await once(worker, 'message')) as [number];
  const fillers: Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const filler = connect({ host: '127.0.0.1', port });
    filler.on('error', () => {});
    fillers.push(filler);
    await withTimeout(once(filler, 'connect'), WAIT, 'a backlog filler to connect');
  }
  return {
    address: { host: '127.0.0.1', port },
    async close() {
      for (const filler of fillers) filler.destroy();
      Atomics.store(gate, 0, 1);
      Atomics.notify(gate, 0);
      await withTimeout(once(worker, 'exit'), WAIT, 'the blackhole worker to exit');
    },
  };
}

describe('tcp options', () => {
  it('is named tcp', () => {
    expect(tcp().name).toBe('tcp');
  });

  it('rejects bad factory options at once', () => {
    expect(() => tcp({ connectTimeoutMs: -1 })).toThrow(InvalidArgumentError);
    expect(() => tcp({ connectTimeoutMs: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => tcp({ connectTimeoutMs: 2 ** 31 })).toThrow(InvalidArgumentError);
    expect(() => tcp({ keepAliveInitialDelayMs: -1 })).toThrow(InvalidArgumentError);
    expect(() => tcp({ backlog: 0 })).toThrow(InvalidArgumentError);
    expect(() => tcp({ maxConnections: 0 })).toThrow(InvalidArgumentError);
    expect(() => tcp({ host: '' })).toThrow(InvalidArgumentError);
    expect(() => tcp({ keepAlive: 'yes' as unknown as boolean })).toThrow(InvalidArgumentError);
    expect(() => tcp(null as unknown as undefined)).toThrow(InvalidArgumentError);
  });

  it('names the component, the option and the value in a refusal', () => {
    expect(() => tcp({ backlog: -1 })).toThrow('tcp option backlog must be an integer from 1 to 2147483647, got -1');
    expect(() => tcp({ keepAlive: 'yes' as unknown as boolean })).toThrow(/^tcp option keepAlive must be a boolean/);
  });

  it('still reads the deprecated names connectTimeout and keepAliveInitialDelay, checked like the new ones', () => {
    expect(() => tcp({ connectTimeout: -1 })).toThrow(/^tcp option connectTimeoutMs must be an integer/);
    expect(() => tcp({ keepAliveInitialDelay: 0.5 })).toThrow(/^tcp option keepAliveInitialDelayMs must be an integer/);
  });

  it('binds 127.0.0.1 when no host is given', async () => {
    const listener = keep(await tcp().listen({ onStream: () => {} }));
    expect(listener.address.host).toBe('127.0.0.1');
    expect(listener.address.port).toBeGreaterThan(0);
  });

  itIpv6('takes its default host from the factory, brackets or not, and reports it unbracketed', async () => {
    const plain = keep(await tcp({ host: '::1' }).listen({ onStream: () => {} }));
    const bracketed = keep(await tcp().listen({ host: '[::1]', onStream: () => {} }));
    expect(plain.address.host).toBe('::1');
    expect(bracketed.address.host).toBe('::1');
  });

  it('rejects invalid dial and listen arguments with InvalidArgumentError', async () => {
    const transport = tcp();
    for (const address of [
      { host: '', port: 1 },
      { host: '[127.0.0.1]', port: 1 },
      { host: '127.0.0.1', port: 0 },
      null,
    ]) {
      const error = await rejection(transport.dial(address as never));
      expect(error).toBeInstanceOf(InvalidArgumentError);
    }
    expect(await rejection(transport.listen({} as never))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejection(transport.listen({ port: 70000, onStream: () => {} }))).toBeInstanceOf(InvalidArgumentError);
  });
});

describe('tcp sockets', () => {
  it('turns Nagle off on dialled and accepted sockets, keep-alive off by default', async () => {
    const { transport, listener, accepted } = await server();
    const client = keep(await transport.dial(listener.address));
    await waitUntil(() => accepted.length === 1, WAIT, 'the accept');
    for (const stream of [client, accepted[0] as DuplexStream]) {
      expect(socketFlag(stream, 'kSetNoDelay')).toBe(true);
      expect(socketFlag(stream, 'kSetKeepAlive')).toBeFalsy();
    }
  });

  it('turns keep-alive on for both sides when asked', async () => {
    const { transport, listener, accepted } = await server(tcp({ keepAlive: true, keepAliveInitialDelayMs: 5000 }));
    const client = keep(await transport.dial(listener.address));
    await waitUntil(() => accepted.length === 1, WAIT, 'the accept');
    for (const stream of [client, accepted[0] as DuplexStream]) {
      expect(socketFlag(stream, 'kSetKeepAlive')).toBe(true);
      expect(socketFlag(stream, 'kSetKeepAliveInitialDelay')).toBe(5);
      expect(socketFlag(stream, 'kSetNoDelay')).toBe(true);
    }
  });

  it('takes the keep-alive delay under its deprecated name too', async () => {
    const { transport, listener, accepted } = await server(tcp({ keepAlive: true, keepAliveInitialDelay: 7000 }));
    keep(await transport.dial(listener.address));
    await waitUntil(() => accepted.length === 1, WAIT, 'the accept');
    expect(socketFlag(accepted[0] as DuplexStream, 'kSetKeepAliveInitialDelay')).toBe(7);
  });

  it('reports the remote address of an accepted stream', async () => {
    const remotes: Array<{ host: string; port: number }> = [];
    const transport = tcp();
    const listener = keep(
      await transport.listen({
        host: '127.0.0.1',
        port: 0,
        onStream: (stream, remote) => {
          keep(stream);
          remotes.push(remote);
        },
      }),
    );
    keep(await transport.dial(listener.address));
    await waitUntil(() => remotes.length === 1, WAIT, 'the accept');
    expect(remotes[0]?.host).toBe('127.0.0.1');
    expect(remotes[0]?.port).toBeGreaterThan(0);
  });
});

describe('tcp dial errors', () => {
  async function closedPort(host: string): Promise<number> {
    const listener = await tcp().listen({ host, port: 0, onStream: () => {} });
    await listener.close();
    return listener.address.port;
  }

  it('maps a refused connection to NotConnectedError naming the address, with the cause', async () => {
    const port = await closedPort('127.0.0.1');
    const error = await rejection(tcp().dial({ host: '127.0.0.1', port }));
    expect(error).toBeInstanceOf(NotConnectedError);
    expect(error.code).toBe('not_connected');
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toContain('ECONNREFUSED');
    expect((error.cause as { code?: string }).code).toBe('ECONNREFUSED');
  });

  itIpv6('brackets IPv6 addresses in messages', async () => {
    const port = await closedPort('::1');
    const error = await rejection(tcp().dial({ host: '::1', port }));
    expect(error.message).toContain(`[::1]:${port}`);
  });

  it('maps a port in use to InvalidArgumentError with EADDRINUSE as the cause, leaking nothing', async () => {
    const baseline = resourceSnapshot();
    const first = await tcp().listen({ host: '127.0.0.1', port: 0, onStream: () => {} });
    const error = await rejection(tcp().listen({ host: '127.0.0.1', port: first.address.port, onStream: () => {} }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toContain(`127.0.0.1:${first.address.port}`);
    expect((error.cause as { code?: string }).code).toBe('EADDRINUSE');
    await first.close();
    await waitUntil(() => resourcesAbove(baseline).length === 0, WAIT, 'no resources left');
  });
});

describe('tcp dial to a host that does not answer', () => {
  let hole: Awaited<ReturnType<typeof blackhole>>;
  beforeEach(async () => {
    hole = await blackhole();
  });
  afterEach(async () => {
    await hole.close();
  });

  it('aborts while connecting: AbortedError with the reason, socket and listener gone', async () => {
    const baseline = resourceSnapshot();
    const controller = new AbortController();
    const dialing = tcp().dial(hole.address, { signal: controller.signal });
    // One turn of the loop: the connect has been issued and cannot complete.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(resourcesAbove(baseline)).toContain('TCPSocketWrap x1');
    const reason = new Error('user gave up');
    controller.abort(reason);
    const error = await rejection(dialing);
    expect(error).toBeInstanceOf(AbortedError);
    expect(error.cause).toBe(reason);
    expect(error.message).toContain(formatAddress(hole.address));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    await waitUntil(() => resourcesAbove(baseline).length === 0, WAIT, 'the socket and timer to be released');
  });

  it('fails with TimeoutError after connectTimeout, leaving nothing behind', async () => {
    const baseline = resourceSnapshot();
    const controller = new AbortController();
    const error = await rejection(tcp({ connectTimeoutMs: 200 }).dial(hole.address, { signal: controller.signal }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.code).toBe('timeout');
    expect(error.message).toContain(formatAddress(hole.address));
    expect(error.message).toContain('200 ms');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    await waitUntil(() => resourcesAbove(baseline).length === 0, WAIT, 'the socket to be released');
  });

  it('arms a connect timer by default and none with connectTimeout 0', async () => {
    for (const [options, timers] of [
      [{}, ['Timeout x1']],
      [{ connectTimeoutMs: 0 }, []],
      [{ connectTimeout: 0 }, []],
    ] as const) {
      const baseline = resourceSnapshot();
      const controller = new AbortController();
      const dialing = tcp(options).dial(hole.address, { signal: controller.signal });
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(resourcesAbove(baseline).filter((r) => r.startsWith('Timeout'))).toEqual(timers);
      controller.abort();
      expect(await rejection(dialing)).toBeInstanceOf(AbortedError);
      await waitUntil(() => resourcesAbove(baseline).length === 0, WAIT, 'the socket and timer to be released');
    }
  });
});

describe('tcp listener', () => {
  it('releases the listening socket by the time close() resolves', async () => {
    const baseline = resourceSnapshot();
    // Only handles: a listener arms no timer, and a timer of the runner's or an
    // earlier test's may start meanwhile (it did once under CI, when jest runs in band).
    const handles = (): string[] => resourcesAbove(baseline).filter((r) => !r.startsWith('Timeout'));
    const listener = await tcp().listen({ host: '127.0.0.1', port: 0, onStream: () => {} });
    expect(handles()).toEqual(['TCPServerWrap x1']);
    await listener.close();
    expect(handles()).toEqual([]);
  });

  it('closeAll() destroys accepted streams, stops accepting and is idempotent', async () => {
    const { transport, listener, accepted } = await server();
    const client = keep(await transport.dial(listener.address));
    const atClient = new Reader(client);
    await waitUntil(() => accepted.length === 1, WAIT, 'the accept');
    await withTimeout(listener.closeAll(), WAIT, 'closeAll()');
    expect(accepted[0]?.destroyed).toBe(true);
    await waitUntil(() => atClient.ended || atClient.error !== undefined, WAIT, "the dialer's end");
    expect(await rejection(transport.dial(listener.address))).toBeInstanceOf(NotConnectedError);
    await withTimeout(Promise.all([listener.closeAll(), listener.close()]), WAIT, 'repeated closes');
  });

  it('closes connections beyond maxConnections at once, without calling onStream', async () => {
    const { transport, listener, accepted } = await server(tcp({ maxConnections: 1 }));
    keep(await transport.dial(listener.address));
    await waitUntil(() => accepted.length === 1, WAIT, 'the first accept');
    const second = keep(await transport.dial(listener.address));
    const atSecond = new Reader(second);
    await waitUntil(() => atSecond.ended || atSecond.error !== undefined, WAIT, 'the second connection to be closed');
    expect(accepted).toHaveLength(1);
  });

  it('publishes each maxConnections refusal on the rate-limited channel, naming the refused dialler', async () => {
    const events: unknown[] = [];
    const onEvent = (message: unknown): void => void events.push(message);
    subscribe(DIAGNOSTICS_CHANNELS.rateLimited, onEvent);
    try {
      const { transport, listener, accepted } = await server(tcp({ maxConnections: 1 }));
      keep(await transport.dial(listener.address));
      await waitUntil(() => accepted.length === 1, WAIT, 'the first accept');
      expect(events).toEqual([]);
      const second = keep(await transport.dial(listener.address)) as Socket;
      const from = `127.0.0.1:${second.localPort}`;
      await waitUntil(() => events.length === 1, WAIT, 'the refusal to be published');
      expect(events).toEqual([{ limit: 'max-connections', from }]);
    } finally {
      unsubscribe(DIAGNOSTICS_CHANNELS.rateLimited, onEvent);
    }
  });
});

describe('address helpers', () => {
  it('reports IPv4-mapped IPv6 peers in IPv4 form and strips brackets', () => {
    expect(normalizeHost('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeHost('::FFFF:10.0.0.7')).toBe('10.0.0.7');
    expect(normalizeHost('::ffff:999.0.0.1')).toBe('::ffff:999.0.0.1');
    expect(normalizeHost('[::1]')).toBe('::1');
    expect(normalizeHost('fe80::1')).toBe('fe80::1');
  });

  it('brackets IPv6 literals when formatting host:port', () => {
    expect(formatAddress({ host: '::1', port: 80 })).toBe('[::1]:80');
    expect(formatAddress({ host: '127.0.0.1', port: 80 })).toBe('127.0.0.1:80');
  });
});
