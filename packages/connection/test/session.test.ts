import { once } from 'node:events';
import { PeerNetError, type PeerId, type Value } from '@peernet/interface';
import type { Connection } from '@peernet/connection';
import type { Socket } from 'node:net';
import { Connection as ConnectionClass } from '@peernet/connection';
import { connectParties, pairBoth, party, socketPair, type Party } from './helpers.js';

let open: Connection[] = [];
afterEach(async () => {
  await Promise.all(open.map((c) => c.close()));
  open = [];
});

async function session(setup?: (a: Party, b: Party) => void, options = {}) {
  const a = party();
  const b = party();
  await pairBoth(a, b);
  setup?.(a, b);
  const pair = await connectParties(a, b, options);
  open.push(pair.client, pair.server);
  return { a, b, ...pair };
}

/** Resolves on the next call of the returned function. */
function signalled<T = void>(): { wait: Promise<T>; fire: (value: T) => void } {
  let fire!: (value: T) => void;
  const wait = new Promise<T>((resolve) => (fire = resolve));
  return { wait, fire };
}

describe('calls', () => {
  it('carries every value type of the protocol both ways', async () => {
    const { client } = await session((_, b) => b.handlers.set('echo', { handler: (args) => args }));
    const values: Value[] = [
      null,
      true,
      false,
      0,
      -1,
      2 ** 53 - 1,
      -(2 ** 53 - 1),
      1.5,
      -0.25,
      Number.MAX_VALUE,
      2n ** 64n - 1n,
      -(2n ** 64n),
      2n ** 200n,
      '',
      'hello',
      'ünïcödé 水 😀',
      new Uint8Array(0),
      Uint8Array.of(0, 1, 255),
      [],
      [1, 'two', [3, [4]]],
      {},
      { a: 1, nested: { b: [true, null], bytes: Uint8Array.of(9) }, ['__proto__']: 'plain' },
    ];
    for (const value of values) {
      await expect(client.call('echo', value)).resolves.toEqual(value);
    }
    expect(await client.call('echo', NaN)).toBeNaN();
    await expect(client.call('echo', new Uint8Array(1_000_000))).resolves.toHaveLength(1_000_000);
  });

  it('answers 1,000 concurrent calls, each with its own result', async () => {
    const { client } = await session((_, b) =>
      b.handlers.set('double', { handler: async (n) => ((await Promise.resolve()), (n as number) * 2) }),
    );
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => client.call('double', i)));
    expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => i * 2));
  });

  it('gives the handler the authenticated peer', async () => {
    let seen: PeerId | undefined;
    const { client, a } = await session((_, b) =>
      b.handlers.set('who', { handler: (_args, ctx) => ((seen = ctx.peer), ctx.peer.toString()) }),
    );
    await expect(client.call('who')).resolves.toBe(a.identity.id.toString());
    expect(seen?.equals(a.identity.id)).toBe(true);
  });

  it('works in both directions on one connection', async () => {
    const { client, server } = await session((a, b) => {
      a.handlers.set('name', { handler: () => 'a' });
      b.handlers.set('name', { handler: () => 'b' });
    });
    await expect(client.call('name')).resolves.toBe('b');
    await expect(server.call('name')).resolves.toBe('a');
  });

  it('delivers sends in order, and send resolves once handed to the stream', async () => {
    const got: Value[] = [];
    const done = signalled();
    const { client } = await session((_, b) =>
      b.handlers.set('log', { handler: (n) => void (got.push(n), got.length === 500 && done.fire()) }),
    );
    await Promise.all(Array.from({ length: 500 }, (_, i) => client.send('log', i)));
    await done.wait;
    expect(got).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it('runs handlers concurrently: a slow handler does not stall others', async () => {
    const release = signalled();
    const { client } = await session((_, b) => {
      b.handlers.set('slow', { handler: async () => (await release.wait, 'slow') });
      b.handlers.set('fast', { handler: () => 'fast' });
    });
    const slow = client.call('slow');
    await expect(client.call('fast')).resolves.toBe('fast');
    release.fire();
    await expect(slow).resolves.toBe('slow');
  });
});

describe('default deny', () => {
  it('answers an unknown name with no_such_handle', async () => {
    const { client } = await session();
    await expect(client.call('nothing')).rejects.toMatchObject({ code: 'no_such_handle' });
    await expect(client.call('__proto__')).rejects.toMatchObject({ code: 'no_such_handle' });
    await expect(client.call('constructor')).rejects.toMatchObject({ code: 'no_such_handle' });
  });

  it.each([
    ['returns false', () => false],
    ['throws', () => { throw new Error('nope'); }],
    ['rejects', () => Promise.reject(new Error('nope'))],
    ['returns a truthy non-boolean', () => 'yes' as unknown as boolean],
  ])('answers forbidden when authorize %s, and the handler never runs', async (_, authorize) => {
    let ran = 0;
    const { client } = await session((_a, b) =>
      b.handlers.set('secret', { handler: () => void ran++, authorize }),
    );
    await expect(client.call('secret')).rejects.toMatchObject({ code: 'forbidden' });
    await client.send('secret');
    await expect(client.call('secret')).rejects.toMatchObject({ code: 'forbidden' });
    expect(ran).toBe(0);
  });

  it('passes the peer and name to authorize', async () => {
    const { client, a } = await session((_a, b) =>
      b.handlers.set('x', { handler: () => 'ok', authorize: (peer, name) => peer.equals(a.identity.id) && name === 'x' }),
    );
    await expect(client.call('x')).resolves.toBe('ok');
  });

  it('takes unexpose into account for the next message', async () => {
    const { client, b } = await session((_a, b) => b.handlers.set('x', { handler: () => 'ok' }));
    await expect(client.call('x')).resolves.toBe('ok');
    b.handlers.delete('x');
    await expect(client.call('x')).rejects.toMatchObject({ code: 'no_such_handle' });
  });
});

describe('errors', () => {
  it('turns a thrown error into handler_error with its message and no stack', async () => {
    const { client } = await session((_a, b) =>
      b.handlers.set('boom', { handler: () => { throw new Error('disk full'); } }),
    );
    const error = await client.call('boom').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PeerNetError);
    expect(error).toMatchObject({ code: 'handler_error', message: 'disk full' });
    expect((error as Error).stack).not.toMatch(/handler.*session\.test/);
    await expect(client.call('boom')).rejects.toMatchObject({ code: 'handler_error' }); // still alive
  });

  it('sends the stack only when the exposing side opts in', async () => {
    const { client } = await session((_a, b) =>
      b.handlers.set('boom', { handler: () => { throw new Error('disk full'); }, exposeErrorStack: true }),
    );
    await expect(client.call('boom')).rejects.toMatchObject({ message: expect.stringMatching(/disk full\n\s+at /) });
  });

  it('keeps the code of a PeerNet error thrown by a handler', async () => {
    const { ForbiddenError } = await import('@peernet/interface');
    const { client } = await session((_a, b) =>
      b.handlers.set('guarded', { handler: () => { throw new ForbiddenError('admins only'); } }),
    );
    await expect(client.call('guarded')).rejects.toMatchObject({ code: 'forbidden', message: 'admins only' });
  });

  it('reports a result that cannot be encoded as handler_error', async () => {
    const { client } = await session((_a, b) =>
      b.handlers.set('bad', { handler: () => new Date() as unknown as Value }),
    );
    await expect(client.call('bad')).rejects.toMatchObject({
      code: 'handler_error',
      message: "the handler's result could not be sent: result: Date is not a wire value",
    });
  });

  it('refuses arguments that cannot be encoded before sending anything', async () => {
    const { client } = await session();
    await expect(client.call('x', { f: () => 1 } as unknown as Value)).rejects.toMatchObject({
      code: 'bad_request',
      message: 'args.f: function is not a wire value',
    });
    await expect(client.send('x', [new Map()] as unknown as Value)).rejects.toMatchObject({
      code: 'bad_request',
      message: 'args[0]: Map is not a wire value',
    });
    await expect(client.send('x', undefined)).resolves.toBeUndefined(); // undefined → null
  });

  it('refuses a message above maxMessageBytes locally', async () => {
    const { client } = await session(undefined, { maxMessageBytes: 1000 });
    await expect(client.call('x', new Uint8Array(2000))).rejects.toMatchObject({ code: 'message_too_large' });
  });
});

describe('timeouts, cancellation and closing', () => {
  it('times out a call whose handler never resolves, and tells the handler', async () => {
    const aborted = signalled<unknown>();
    const { client } = await session((_a, b) =>
      b.handlers.set('hang', {
        handler: (_args, ctx) => new Promise(() => ctx.signal.addEventListener('abort', () => aborted.fire(ctx.signal.reason))),
      }),
    );
    await expect(client.call('hang', null, { timeout: 50 })).rejects.toMatchObject({ code: 'timeout' });
    expect(await aborted.wait).toMatchObject({ code: 'aborted' });
  });

  it('takes the timeout from timeoutMs, before the deprecated timeout', async () => {
    const { client } = await session((_a, b) => b.handlers.set('hang', { handler: () => new Promise(() => undefined) }));
    await expect(client.call('hang', null, { timeoutMs: 50 })).rejects.toMatchObject({
      code: 'timeout',
      message: "call to 'hang' timed out after 50 ms",
    });
    await expect(client.call('hang', null, { timeoutMs: 60, timeout: 60_000 })).rejects.toMatchObject({
      message: "call to 'hang' timed out after 60 ms",
    });
  });

  it('cancels a call with an AbortSignal', async () => {
    const started = signalled();
    const aborted = signalled();
    const { client } = await session((_a, b) =>
      b.handlers.set('hang', {
        handler: (_args, ctx) =>
          new Promise(() => {
            ctx.signal.addEventListener('abort', () => aborted.fire());
            started.fire();
          }),
      }),
    );
    const controller = new AbortController();
    const call = client.call('hang', null, { signal: controller.signal });
    await started.wait;
    controller.abort();
    await expect(call).rejects.toMatchObject({ code: 'aborted' });
    await aborted.wait;
    await expect(client.call('hang', null, { signal: controller.signal })).rejects.toMatchObject({ code: 'aborted' });
  });

  it('fails every pending call with connection_closed when the connection ends', async () => {
    const limit = Error.stackTraceLimit;
    const started = signalled();
    const { client, server } = await session((_a, b) =>
      b.handlers.set('hang', { handler: () => new Promise(() => started.fire()) }),
    );
    const calls = Promise.allSettled([client.call('hang'), client.call('hang')]);
    await started.wait;
    await server.close();
    for (const result of await calls) {
      expect(result).toMatchObject({ status: 'rejected', reason: { code: 'connection_closed' } });
    }
    await expect(client.call('hang')).rejects.toMatchObject({ code: 'connection_closed' });
    await expect(client.send('hang')).rejects.toMatchObject({ code: 'connection_closed' });
    expect(client.closeReason?.code).toBe('connection_closed');
    // A reason made from a stream event has no stack frames (they would all be node's), and the limit is restored.
    expect(client.closeReason?.stack?.split('\n')).toHaveLength(1);
    expect(Error.stackTraceLimit).toBe(limit);
  });

  it('answers ping with pong', async () => {
    const { client, server } = await session();
    expect(await client.ping()).toBeGreaterThanOrEqual(0);
    expect(await server.ping()).toBeGreaterThanOrEqual(0);
  });
});

describe('flow control', () => {
  it('stops reading from a peer that has too many handlers running, and resumes after', async () => {
    const releases: Array<() => void> = [];
    const fourRunning = signalled();
    const { client, sockets } = await session(
      (_a, b) =>
        b.handlers.set('hold', {
          handler: () =>
            new Promise<Value>((resolve) => {
              releases.push(() => resolve('done'));
              if (releases.length === 4) fourRunning.fire();
            }),
        }),
      { maxConcurrentHandlers: 4 },
    );
    const calls = Array.from({ length: 10 }, () => client.call('hold'));
    await fourRunning.wait;
    expect(sockets[1].isPaused()).toBe(true);
    expect(releases).toHaveLength(4);
    // Release handlers until all ten have run.
    while (releases.length < 10 || releases.some(Boolean)) {
      const release = releases.findIndex(Boolean);
      if (release === -1) {
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      (releases[release] as () => void)();
      (releases as unknown[])[release] = undefined;
    }
    await expect(Promise.all(calls)).resolves.toHaveLength(10);
  });

  it('bounds what is queued behind a peer that stops reading', async () => {
    const { client, sockets } = await session(undefined, { maxQueuedBytes: 1_000_000 });
    sockets[1].pause(); // the server side stops reading its socket
    const chunk = new Uint8Array(64 * 1024);
    const sends: Promise<void>[] = [];
    let refused: unknown;
    for (let i = 0; i < 2000 && refused === undefined; i++) {
      const sent = client.send('sink', chunk);
      sent.catch((error: unknown) => (refused ??= error));
      sends.push(sent);
      await new Promise((resolve) => setImmediate(resolve)); // let the socket drain what it can
    }
    expect(refused).toMatchObject({ code: 'message_too_large', message: expect.stringMatching(/not reading/) });
    // Everything before the refusal is still delivered once the peer reads again.
    sockets[1].resume();
    const accepted = sends.slice(0, -1);
    await expect(Promise.all(accepted)).resolves.toHaveLength(accepted.length);
    await once(sockets[1], 'data');
  });
});

describe('large messages on the write and read paths', () => {
  /** Deterministic bytes, different for every message, so a mixed-up or overwritten buffer shows. */
  const pattern = (length: number, seed: number): Uint8Array => {
    const out = new Uint8Array(length);
    let x = seed * 2654435761;
    for (let i = 0; i < length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      out[i] = x >>> 24;
    }
    return out;
  };
  // Around the 65,519-byte Noise plaintext limit, several Noise messages, and tiny ones in between.
  const sizes = [10, 70_000, 5, 200_000, 1, 65_500, 65_515, 65_519, 131_038, 3_000_000, 17, 16_384, 0, 100_000];

  /** Sends every size as one `send` in a single tick; resolves once the (synchronous) handler has seen them all. */
  async function roundOfSends(client: Connection): Promise<void> {
    await Promise.all(sizes.map((size, i) => client.send('sink', pattern(size, i))));
    // Envelopes are handled in order: the reply to this call comes after every send was handled.
    await client.call('echo', null);
  }

  async function sinkSession(wrap?: (socket: Socket) => Socket) {
    const received: Uint8Array[] = [];
    const a = party();
    const b = party();
    await pairBoth(a, b);
    b.handlers.set('sink', { handler: (args) => void received.push(args as Uint8Array) });
    b.handlers.set('echo', { handler: (args) => args });
    const sockets = await socketPair();
    const client = new ConnectionClass({
      stream: wrap ? wrap(sockets[0]) : sockets[0],
      identity: a.identity,
      trust: a.trust,
      handlers: a.handlers,
      initiator: true,
      expectedPeer: b.identity.id,
      maxMessageBytes: 8 * 1024 * 1024,
    });
    const server = new ConnectionClass({
      stream: sockets[1],
      identity: b.identity,
      trust: b.trust,
      handlers: b.handlers,
      initiator: false,
      maxMessageBytes: 8 * 1024 * 1024,
    });
    open.push(client, server);
    await Promise.all([client.ready, server.ready]);
    return { client, received };
  }

  it('delivers large and small sends of one tick in order, byte for byte, over a stream that corks', async () => {
    const { client, received } = await sinkSession();
    await roundOfSends(client);
    expect(received.map((r) => r.length)).toEqual(sizes);
    received.forEach((bytes, i) => expect(Buffer.from(bytes).equals(Buffer.from(pattern(sizes[i] as number, i)))).toBe(true));
  });

  it('delivers the same bytes over a stream that cannot cork', async () => {
    // The same socket with cork/uncork hidden: the connection seals into one buffer instead.
    const withoutCork = (socket: Socket): Socket =>
      new Proxy(socket, {
        get(target, property) {
          if (property === 'cork' || property === 'uncork') return undefined;
          const value: unknown = Reflect.get(target, property);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
    const { client, received } = await sinkSession(withoutCork);
    await roundOfSends(client);
    expect(received.map((r) => r.length)).toEqual(sizes);
    received.forEach((bytes, i) => expect(Buffer.from(bytes).equals(Buffer.from(pattern(sizes[i] as number, i)))).toBe(true));
  });

  it('keeps a received byte string intact while later messages arrive', async () => {
    // Large byte strings are handed over as views into the decrypted message, and
    // frame buffers are reused between reads: neither may change what a handler kept.
    const { client, received } = await sinkSession();
    await roundOfSends(client);
    const kept = received.slice();
    await roundOfSends(client);
    await roundOfSends(client);
    kept.forEach((bytes, i) => expect(Buffer.from(bytes).equals(Buffer.from(pattern(sizes[i] as number, i)))).toBe(true));
    expect(received).toHaveLength(3 * sizes.length);
  });

  it('echoes a 3 MB payload in a call', async () => {
    const { client } = await sinkSession();
    const payload = pattern(3_000_000, 99);
    const result = (await client.call('echo', payload)) as Uint8Array;
    expect(Buffer.from(result).equals(Buffer.from(payload))).toBe(true);
  });

  it('refuses a send made by a getter while its own arguments are encoded, and delivers the outer one intact', async () => {
    const { client, received } = await sinkSession();
    let nested: Promise<void> | undefined;
    const args = {
      get bytes(): Uint8Array {
        nested = client.send('sink', pattern(50, 3));
        return pattern(300, 4);
      },
    };
    await client.send('sink', args as unknown as Value);
    await expect(nested).rejects.toMatchObject({ code: 'invalid_argument' });
    await client.call('echo', null);
    expect(received).toHaveLength(1);
    const [delivered] = received as unknown as { bytes: Uint8Array }[];
    expect(Buffer.from(delivered?.bytes as Uint8Array).equals(Buffer.from(pattern(300, 4)))).toBe(true);
  });

  it('leaves the queue intact when a message of the same tick is refused', async () => {
    const { client, received } = await sinkSession();
    const first = client.send('sink', pattern(100, 1));
    const refused = client.send('sink', new Uint8Array(9 * 1024 * 1024));
    const last = client.send('sink', pattern(200, 2));
    await expect(refused).rejects.toMatchObject({ code: 'message_too_large' });
    await Promise.all([first, last]);
    await client.call('echo', null); // the sends were handled before this reply
    expect(received.map((r) => r.length)).toEqual([100, 200]);
    expect(Buffer.from(received[1] as Uint8Array).equals(Buffer.from(pattern(200, 2)))).toBe(true);
  });
});
