import { getEventListeners } from 'node:events';
import { createHash } from 'node:crypto';
import {
  type DuplexStream,
  MAX_TIMER_MS,
  OptionsReader,
  type PeerNetError,
  type Transport,
  type TransportAddress,
  isPeerNetError,
} from '@peernet/interface';
import {
  Reader,
  nextEvent,
  pseudoRandomBytes,
  resourceSnapshot,
  resourcesAbove,
  sha256,
  waitUntil,
  withTimeout,
} from './util.js';
import { Harness, checkContext, expectCode, writeInPieces } from './transport-harness.js';

/** What `setup` hands the transport suite for one test. */
export interface TransportSuiteContext {
  /** A fresh transport under test. */
  transport: Transport;
  /**
   * Where the suite's listeners bind. `port` must be 0: a test may open
   * several listeners at once and checks that each gets its own real port
   * (with `addressing: 'key'`, its own address, each on a transport of its
   * own; such a transport may ignore `host` and `port` when it listens).
   */
  listenAddress: TransportAddress;
  /**
   * An address nobody listens on, for the test of a dial that finds no
   * listener; `transport` must be able to dial it. Omitted, the suite uses
   * the address of a listener it opens and closes at once. A transport
   * addressed by key gives the address of a key that never listened (for a
   * DHT: a fresh id), a case its other tests, which dial closed listeners,
   * do not cover.
   */
  unusedAddress?: TransportAddress;
}

/** Options of `transportSuite`. */
export interface TransportSuiteOptions {
  /** Runs before every test. */
  setup: () => Promise<TransportSuiteContext>;
  /** Runs after every test, once the suite has closed what it opened. */
  teardown?: (context: TransportSuiteContext) => Promise<void>;
  /** Milliseconds to wait for any single event before failing. Default 5000. */
  timeoutMs?: number;
  /** @deprecated The old name of `timeoutMs`. */
  timeout?: number;
  /** Dials made at once in the concurrency test. Default 50. */
  concurrentDials?: number;
  /** Bytes moved by the large-transfer tests. Default 8 MiB. */
  largeTransferBytes?: number;
  /**
   * Milliseconds without a `'drain'` after which a writer facing a paused
   * reader counts as blocked. Only decides when to stop writing; no assertion
   * depends on it. Default 250.
   */
  stallTimeMs?: number;
  /** @deprecated The old name of `stallTimeMs`. */
  stallTime?: number;
  /**
   * What a listener's address names, and so how the suite gets several
   * listeners:
   *
   * - `'port'` (default): a port. Every listener is opened on the test's one
   *   transport, at `listenAddress` with port 0, and is dialled from that
   *   same transport; the suite checks that each listen binds a real port of
   *   its own (1-65535).
   * - `'key'`: a key the transport holds (a DHT transport, reached by its
   *   node's id), so that a transport listens at most once, at the one
   *   address its key gives, and cannot dial itself. Every listener is then
   *   opened on a fresh transport from `setup()` (torn down after the test
   *   like the first), and the test's first transport only dials. Instead of
   *   real ports the suite checks that the listeners of distinct transports
   *   have distinct addresses and that a dial to each reaches that one.
   *   `setup()` must make transports that can all reach one another (on a
   *   shared network, each accepting dials from the others). Every other
   *   test asserts exactly what it asserts with `'port'`.
   */
  addressing?: 'port' | 'key';
}

const encoder = new TextEncoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);
const MiB = 1024 * 1024;

/**
 * Declares a jest `describe` block of tests every `Transport` must pass.
 * Call it at the top level of a test file; `setup` runs before each test.
 */
export function transportSuite(name: string, options: TransportSuiteOptions): void {
  const reader = new OptionsReader('transportSuite', options);
  const timeout = reader.integer('timeoutMs', { default: 5000, min: 1, max: MAX_TIMER_MS, alias: 'timeout' });
  const concurrentDials = reader.integer('concurrentDials', { default: 50, min: 1 });
  const largeBytes = reader.integer('largeTransferBytes', { default: 8 * MiB, min: 1 });
  const stallTime = reader.integer('stallTimeMs', { default: 250, min: 1, max: MAX_TIMER_MS, alias: 'stallTime' });
  const byKey = reader.oneOf('addressing', ['port', 'key'] as const, 'port') === 'key';
  const testTimeout = timeout * 4;
  const transferTimeout = timeout * 12;

  describe(`${name}: Transport compliance`, () => {
    let context: TransportSuiteContext | undefined;
    let harness: Harness | undefined;
    let baseline = new Map<string, number>();

    const h = (): Harness => {
      if (harness === undefined) throw new Error('setup() did not complete');
      return harness;
    };

    beforeEach(async () => {
      baseline = resourceSnapshot();
      context = checkContext(await options.setup());
      harness = new Harness(context, timeout, byKey ? () => options.setup() : undefined);
    }, testTimeout);

    afterEach(async () => {
      const problems = harness === undefined ? [] : await harness.cleanup();
      // The listeners' own transports first (tried all, even if one fails), then the test's.
      const torn = await Promise.allSettled((harness?.extraContexts ?? []).map(async (extra) => options.teardown?.(extra)));
      if (context !== undefined) await options.teardown?.(context);
      const failed = torn.find((outcome) => outcome.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      harness = undefined;
      context = undefined;
      try {
        await waitUntil(() => resourcesAbove(baseline).length === 0, timeout, 'resources to be released');
      } catch {
        problems.push(`left open after the test: ${resourcesAbove(baseline).join(', ')}`);
      }
      if (problems.length > 0) throw new Error(problems.join('\n'));
    }, testTimeout);

    it('has a name', () => {
      expect(typeof h().transport.name).toBe('string');
      expect(h().transport.name.length).toBeGreaterThan(0);
    });

    if (byKey) {
      it('listens at a distinct address on each transport, and a dial to each reaches that listener', async () => {
        const a = await h().listen();
        const b = await h().listen();
        for (const { listener } of [a, b]) {
          const { transport, host, port } = listener.address;
          expect(Number.isInteger(port) && port >= 0 && port <= 65535).toBe(true);
          expect(typeof host === 'string' && host.length > 0).toBe(true);
          expect(host.startsWith('[')).toBe(false);
          // Absent means the node's first transport; present, it must name this one.
          expect(transport === undefined || transport === h().transport.name).toBe(true);
        }
        const key = ({ transport, host, port }: TransportAddress): string => JSON.stringify([transport, host, port]);
        expect(key(a.listener.address)).not.toBe(key(b.listener.address));
        for (const { listener, accepted } of [a, b]) {
          await h().dial(listener.address);
          await accepted.next(timeout, 'the listener to accept');
        }
        // A dial that reached the other listener would have left one of them waiting above.
        expect([a.accepted.count, b.accepted.count]).toEqual([1, 1]);
      }, testTimeout);
    } else {
      it('binds a real, distinct port for each listen on port 0', async () => {
        const a = await h().listen();
        const b = await h().listen();
        for (const { listener } of [a, b]) {
          const { host, port } = listener.address;
          expect(Number.isInteger(port) && port >= 1 && port <= 65535).toBe(true);
          expect(typeof host === 'string' && host.length > 0).toBe(true);
          expect(host.startsWith('[')).toBe(false);
        }
        expect(a.listener.address.port).not.toBe(b.listener.address.port);
        for (const { listener, accepted } of [a, b]) {
          await h().dial(listener.address);
          await accepted.next(timeout, 'the listener to accept');
        }
      }, testTimeout);
    }

    it('carries bytes both ways between dialer and listener', async () => {
      const { client, server, remote } = await h().connect();
      expect(typeof remote.host === 'string' && remote.host.length > 0).toBe(true);
      expect(Number.isInteger(remote.port) && remote.port >= 0 && remote.port <= 65535).toBe(true);
      const atServer = new Reader(server);
      const atClient = new Reader(client);
      client.write(bytes('ping from the dialer'));
      await atServer.waitForBytes(20, timeout);
      expect(atServer.text()).toBe('ping from the dialer');
      server.write(bytes('pong from the listener'));
      await atClient.waitForBytes(22, timeout);
      expect(atClient.text()).toBe('pong from the listener');
      expect(client.destroyed).toBe(false);
      expect(server.destroyed).toBe(false);
    }, testTimeout);

    it('serves many concurrent dials, each on its own stream', async () => {
      const { listener, accepted } = await h().listen((stream) => {
        stream.on('data', (chunk) => stream.write(chunk));
        stream.on('end', () => stream.end());
      });
      await Promise.all(
        Array.from({ length: concurrentDials }, async (_, i) => {
          const client = await h().dial(listener.address);
          const echo = new Reader(client);
          const message = pseudoRandomBytes(1000 + i, i + 1);
          client.write(message);
          client.end();
          await echo.waitForEnd(timeout, `the echo on dial #${i}`);
          expect(sha256(echo.bytes())).toBe(sha256(message));
          await h().closed(client, `'close' of dial #${i}`);
        }),
      );
      expect(accepted.count).toBe(concurrentDials);
    }, transferTimeout);

    it('stops accepting on listener close (idempotent) and keeps open streams working', async () => {
      const { listener, client, server } = await h().connect();
      await withTimeout(Promise.all([listener.close(), listener.close()]), timeout, 'listener.close()');
      await withTimeout(listener.close(), timeout, 'a repeated listener.close()');
      const error = await h().dialError(listener.address);
      expectCode(error, 'not_connected', 'a dial to a closed listener');

      const atServer = new Reader(server);
      const atClient = new Reader(client);
      client.write(bytes('still here'));
      await atServer.waitForBytes(10, timeout);
      server.write(bytes('me too'));
      await atClient.waitForBytes(6, timeout);
      expect(atServer.text()).toBe('still here');
      expect(atClient.text()).toBe('me too');
    }, testTimeout);

    it('rejects a dial to an address nobody listens on with not_connected', async () => {
      let address = h().unusedAddress;
      if (address === undefined) {
        const { listener } = await h().listen();
        address = listener.address;
        await listener.close();
      }
      const error = await h().dialError(address);
      expectCode(error, 'not_connected', 'a dial to an unused port');
    }, testTimeout);

    it('rejects an invalid dial address with invalid_argument', async () => {
      for (const port of [-1, 65536, 1.5, Number.NaN]) {
        const error = await h().dialError({ host: h().listenAddress.host, port });
        expectCode(error, 'invalid_argument', `a dial to port ${port}`);
      }
    }, testTimeout);

    it('half-closes: end() delivers end, the other side can still write, then both close', async () => {
      const { client, server } = await h().connect();
      const atServer = new Reader(server);
      const atClient = new Reader(client);
      client.write(bytes('request'));
      client.end();
      await atServer.waitForEnd(timeout, "'end' at the listener after the dialer's end()");
      expect(atServer.text()).toBe('request');
      expect(server.destroyed).toBe(false);

      server.write(bytes('reply after end'));
      await atClient.waitForBytes(15, timeout);
      expect(atClient.text()).toBe('reply after end');
      expect(atClient.ended).toBe(false);
      server.end();
      await atClient.waitForEnd(timeout, "'end' at the dialer after the listener's end()");
      await h().closed(client, "'close' of the dialer's stream after both ends");
      await h().closed(server, "'close' of the listener's stream after both ends");
      expect(client.destroyed).toBe(true);
      expect(server.destroyed).toBe(true);
      expect(h().errorsOf(client)).toEqual([]);
      expect(h().errorsOf(server)).toEqual([]);
    }, testTimeout);

    for (const side of ['dialer', 'listener'] as const) {
      it(`destroy() on the ${side} side closes it; the remote sees the end, and closes once it ends too`, async () => {
        const { client, server } = await h().connect();
        const [local, remote] = side === 'dialer' ? [client, server] : [server, client];
        const atRemote = new Reader(remote);
        local.write(bytes('last words'));
        await atRemote.waitForBytes(10, timeout);
        local.destroy();
        expect(local.destroyed).toBe(true);
        await h().closed(local, "'close' after destroy()");
        // TCP cannot tell a destroyed peer from a half-closed one: the remote sees an end
        // (or an error) and is fully closed once it ends or fails writing.
        await waitUntil(() => atRemote.ended || atRemote.error !== undefined || atRemote.closed, timeout, "the remote's 'end'");
        expect(atRemote.text()).toBe('last words');
        expect(() => remote.write(bytes('anyone there?'))).not.toThrow();
        expect(() => remote.end()).not.toThrow();
        await h().closed(remote, "'close' of the remote after its end()");
        expect(remote.destroyed).toBe(true);
      }, testTimeout);
    }

    it('destroy(error) emits that error, then close', async () => {
      const { client } = await h().connect();
      const boom = new Error('boom');
      const emitted = nextEvent(client, ['error'], timeout, "'error' after destroy(error)");
      client.destroy(boom);
      expect((await emitted).value).toBe(boom);
      await h().closed(client);
    }, testTimeout);

    it('rejects a dial with an already aborted signal, before any I/O', async () => {
      const { listener, accepted } = await h().listen();
      const controller = new AbortController();
      controller.abort(new Error('changed my mind'));
      let dialing: Promise<DuplexStream> | undefined;
      expect(() => {
        dialing = h().transport.dial(listener.address, { signal: controller.signal });
      }).not.toThrow();
      const nextTurn = new Promise<'next turn'>((resolve) => setImmediate(() => resolve('next turn')));
      const outcome = await Promise.race([
        (dialing as Promise<DuplexStream>).then(
          (stream) => h().track(stream),
          (error: unknown) => ({ error }),
        ),
        nextTurn,
      ]);
      if (outcome === 'next turn') throw new Error('a dial with an aborted signal was still pending after one event-loop turn');
      if (!('error' in outcome)) throw new Error('a dial with an aborted signal succeeded');
      expect(isPeerNetError(outcome.error)).toBe(true);
      expectCode(outcome.error as PeerNetError, 'aborted', 'a dial with an aborted signal');
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      // A dial that goes through afterwards must be the only one the listener saw.
      await h().dial(listener.address);
      await accepted.next(timeout, 'the listener to accept');
      expect(accepted.count).toBe(1);
    }, testTimeout);

    it('rejects with aborted when the signal fires while the dial is in progress', async () => {
      const { listener } = await h().listen();
      const controller = new AbortController();
      const dialing = h().dialError(listener.address, { signal: controller.signal });
      controller.abort();
      expectCode(await dialing, 'aborted', 'a dial aborted while in progress');
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    }, testTimeout);

    it('removes its abort listener when a dial succeeds or fails', async () => {
      const { listener, accepted } = await h().listen();
      const ok = new AbortController();
      await h().dial(listener.address, { signal: ok.signal });
      await accepted.next(timeout, 'the listener to accept');
      expect(getEventListeners(ok.signal, 'abort')).toHaveLength(0);

      const address = listener.address;
      await listener.close();
      const refused = new AbortController();
      expectCode(await h().dialError(address, { signal: refused.signal }), 'not_connected', 'a refused dial');
      expect(getEventListeners(refused.signal, 'abort')).toHaveLength(0);
    }, testTimeout);

    it(`delivers one ${largeBytes}-byte write intact and in order`, async () => {
      const { client, server } = await h().connect();
      const data = pseudoRandomBytes(largeBytes, 42);
      const atServer = new Reader(server, { keep: false });
      client.write(data);
      client.end();
      await atServer.waitForEnd(transferTimeout, `'end' after ${largeBytes} bytes`);
      expect(atServer.received).toBe(largeBytes);
      expect(atServer.digest()).toBe(sha256(data));
    }, transferTimeout * 2);

    it(`delivers ${largeBytes} bytes in small writes both ways at once, intact and in order`, async () => {
      const { client, server } = await h().connect();
      const up = pseudoRandomBytes(largeBytes, 7);
      const down = pseudoRandomBytes(largeBytes, 8);
      const atServer = new Reader(server, { keep: false });
      const atClient = new Reader(client, { keep: false });
      await Promise.all([
        writeInPieces(client, up, 4096, 1, transferTimeout).then(() => client.end()),
        writeInPieces(server, down, 4096, 2, transferTimeout).then(() => server.end()),
      ]);
      await atServer.waitForEnd(transferTimeout, "'end' at the listener");
      await atClient.waitForEnd(transferTimeout, "'end' at the dialer");
      expect(atServer.received).toBe(largeBytes);
      expect(atClient.received).toBe(largeBytes);
      expect(atServer.digest()).toBe(sha256(up));
      expect(atClient.digest()).toBe(sha256(down));
    }, transferTimeout * 2);

    it('applies backpressure: a paused reader makes write() return false, drain follows resume, nothing is lost', async () => {
      const { client, server } = await h().connect();
      server.pause();
      const atServer = new Reader(server, { keep: false });
      const chunk = pseudoRandomBytes(4096, 3);
      const sent = createHash('sha256');
      const limit = 64 * MiB;
      let written = 0;
      let sawFalse = false;
      let blocked = false;
      while (written < limit && !blocked) {
        const ok = client.write(chunk);
        written += chunk.length;
        sent.update(chunk);
        if (ok) continue;
        sawFalse = true;
        try {
          await nextEvent(client, ['drain'], stallTime, "'drain'");
        } catch {
          blocked = true;
        }
      }
      if (!blocked) {
        throw new Error(`the writer was never held back: ${written} bytes accepted while the reader was paused`);
      }
      expect(sawFalse).toBe(true);
      expect(atServer.received).toBe(0);

      const drained = nextEvent(client, ['drain'], timeout, "'drain' after the reader resumed");
      server.resume();
      await drained;
      client.end();
      await atServer.waitForEnd(transferTimeout, "'end' after the backlog was read");
      expect(atServer.received).toBe(written);
      expect(atServer.digest()).toBe(sent.digest('hex'));
    }, transferTimeout * 2);

    it('reports misuse through events, never by throwing', async () => {
      const { client, server } = await h().connect();
      client.end();
      expect(() => client.end()).not.toThrow();
      expect(() => client.write(bytes('after end'))).not.toThrow();
      server.destroy();
      expect(() => server.destroy()).not.toThrow();
      expect(() => server.write(bytes('after destroy'))).not.toThrow();
      expect(() => server.end()).not.toThrow();
      expect(() => {
        server.pause();
        server.resume();
      }).not.toThrow();
      new Reader(client);
      await h().closed(server);
      await h().closed(client);
      for (const error of [...h().errorsOf(client), ...h().errorsOf(server)]) {
        // Node's own errors come from outside jest's realm, where `instanceof Error` is false.
        expect(Object.prototype.toString.call(error)).toBe('[object Error]');
      }
    }, testTimeout);
  });
}
