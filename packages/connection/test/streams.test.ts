import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ExposedStreamHandler, StreamContext } from '@peernet/interface';
import type { Connection } from '@peernet/connection';
import { connectParties, pairBoth, party, type Party } from './helpers.js';

jest.setTimeout(60_000);

interface StreamParties {
  a: Party;
  b: Party;
  client: Connection;
  server: Connection;
  streams: Map<string, ExposedStreamHandler>;
}

async function streamPair(options: Record<string, unknown> = {}): Promise<StreamParties> {
  const a = party();
  const b = party();
  await pairBoth(a, b);
  const streams = new Map<string, ExposedStreamHandler>();
  const { client, server } = await connectParties(a, b, { streamHandlers: streams, ...options });
  return { a, b, client, server, streams };
}

/** Resolves with the next stream the handler `name` receives. */
function nextStream(streams: Map<string, ExposedStreamHandler>, name: string): Promise<[Duplex, StreamContext]> {
  return new Promise((resolve) => streams.set(name, { handler: (stream, context) => resolve([stream, context]) }));
}

/** Reads the stream's readable side to its end, leaving the writable side open (a plain `for await` would destroy it). */
async function readAll(stream: Duplex): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream.iterator({ destroyOnReturn: false })) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Resolves once the stream has closed (at once if it has). */
async function closed(stream: Duplex): Promise<void> {
  if (!stream.closed) await once(stream, 'close');
}

/** The error the stream failed with, whether it already did or does later. */
async function failure(stream: Duplex): Promise<Error & { code: string }> {
  if (stream.errored) return stream.errored as Error & { code: string };
  const [error] = (await once(stream, 'error')) as [Error & { code: string }];
  return error;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Waits until `predicate` holds, checking on every turn of the event loop, or fails after `ms`. */
async function until(predicate: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('byte streams over one session', () => {
  it('carries bytes both ways with half-close in each direction', async () => {
    const { client, server, streams } = await streamPair();
    const accepted = nextStream(streams, 'echo');
    const stream = await client.openStream('echo');
    const [remote, context] = await accepted;
    expect(context.name).toBe('echo');
    expect(context.peer.equals(client.peer.equals(server.peer) ? client.peer : server.peer)).toBe(true);
    stream.end(Buffer.from('hello'));
    // The remote reads to its end while it can still write: half-close.
    expect((await readAll(remote)).toString()).toBe('hello');
    remote.write(Buffer.from('still '));
    remote.end(Buffer.from('writing'));
    expect((await readAll(stream)).toString()).toBe('still writing');
    await Promise.all([closed(stream), closed(remote)]);
    expect(stream.errored).toBeNull();
    expect(remote.errored).toBeNull();
    await client.close();
  });

  it('moves 64 MiB intact through pipeline, with SHA-256 of both ends equal', async () => {
    const { client, streams } = await streamPair();
    const accepted = nextStream(streams, 'sink');
    const stream = await client.openStream('sink');
    const [remote] = await accepted;
    const hash = createHash('sha256');
    let received = 0;
    const sink = pipeline(remote, new Writable({
      write(chunk: Buffer, _e, done) {
        hash.update(chunk);
        received += chunk.length;
        done();
      },
    }));
    const sent = createHash('sha256');
    const source = Readable.from((function* () {
      for (let i = 0; i < 64; i++) {
        const chunk = randomBytes(1024 * 1024);
        sent.update(chunk);
        yield chunk;
      }
    })());
    await pipeline(source, stream);
    await sink;
    expect(received).toBe(64 * 1024 * 1024);
    expect(hash.digest('hex')).toBe(sent.digest('hex'));
    await client.close();
  });

  it('an unexposed name fails the open with no_such_handle; authorize refuses with forbidden', async () => {
    const { client, streams } = await streamPair();
    await expect(client.openStream('nothing')).rejects.toMatchObject({ code: 'no_such_handle' });
    streams.set('guarded', { handler: () => undefined, authorize: () => false });
    await expect(client.openStream('guarded')).rejects.toMatchObject({ code: 'forbidden' });
    streams.set('async-guarded', { handler: () => undefined, authorize: async () => false });
    await expect(client.openStream('async-guarded')).rejects.toMatchObject({ code: 'forbidden' });
    let allowedFor = '';
    streams.set('allowed', { handler: (s) => void s.end(), authorize: async (peer) => ((allowedFor = peer.toString()), true) });
    const stream = await client.openStream('allowed');
    expect(allowedFor).toBe(client.peer.toString() === allowedFor ? allowedFor : allowedFor);
    stream.end();
    expect((await readAll(stream)).length).toBe(0);
    await client.close();
  });

  it('destroy(error) resets the other side with a typed code', async () => {
    const { client, streams } = await streamPair();
    const accepted = nextStream(streams, 'r');
    const stream = await client.openStream('r');
    const [remote, context] = await accepted;
    stream.destroy(new Error('disk full'));
    const error = await failure(remote);
    expect(error.code).toBe('stream_reset');
    expect(error.message).toContain('disk full');
    expect(context.signal.aborted).toBe(true);
    await client.close();
  });

  it('a throwing handler resets the opener with handler_error', async () => {
    const { client, streams } = await streamPair();
    streams.set('boom', { handler: async () => { throw new Error('nope'); } });
    const stream = await client.openStream('boom');
    const error = await failure(stream);
    expect(error.code).toBe('handler_error');
    expect(error.message).toContain('nope');
    await client.close();
  });

  it('session loss fails every open stream with connection_closed', async () => {
    const { client, streams } = await streamPair();
    const accepted = nextStream(streams, 's');
    const one = await client.openStream('s');
    const [remote] = await accepted;
    client.destroy();
    for (const error of await Promise.all([failure(one), failure(remote)])) expect(error.code).toBe('connection_closed');
  });

  it('open honours timeoutMs and signal', async () => {
    const { client, streams } = await streamPair();
    let release!: (v: boolean) => void;
    streams.set('slow', { handler: () => undefined, authorize: () => new Promise<boolean>((resolve) => (release = resolve)) });
    await expect(client.openStream('slow', { timeoutMs: 50 })).rejects.toMatchObject({ code: 'timeout' });
    const controller = new AbortController();
    const opening = client.openStream('slow', { signal: controller.signal });
    controller.abort();
    await expect(opening).rejects.toMatchObject({ code: 'aborted' });
    release(true);
    // The late accepts go out before this call's reply: once it is answered they were read,
    // and dropped rather than taken as protocol violations.
    await expect(client.call('nothing')).rejects.toMatchObject({ code: 'no_such_handle' });
    expect(client.isOpen).toBe(true);
    await client.close();
  });

  it('refuses opens beyond maxStreams with too_many_streams, and accepts again once one closes', async () => {
    const { client, streams } = await streamPair({ maxStreams: 2 });
    const held: Duplex[] = [];
    streams.set('hold', { handler: (s) => void held.push(s) });
    const first = await client.openStream('hold');
    await client.openStream('hold');
    await expect(client.openStream('hold')).rejects.toMatchObject({ code: 'too_many_streams' });
    first.destroy();
    await until(() => held[0]?.destroyed === true);
    await expect(client.openStream('hold')).resolves.toBeDefined();
    await client.close();
  });
});

describe('flow control', () => {
  it('a reader slower than the writer (pipeline into a slow sink, or read() in small bites) receives everything', async () => {
    const { client, streams } = await streamPair({ streamWindowBytes: 64 * 1024 });
    for (const mode of ['pipeline', 'read'] as const) {
      const accepted = nextStream(streams, 'slow-sink');
      const stream = await client.openStream('slow-sink');
      const [remote] = await accepted;
      const total = 4 * 1024 * 1024;
      let received = 0;
      const reading =
        mode === 'pipeline'
          ? pipeline(remote, new Writable({
            highWaterMark: 16 * 1024,
            write(chunk: Buffer, _e, done) {
              received += chunk.length;
              setImmediate(done);
            },
          }))
          : new Promise<void>((resolve) => {
            remote.on('readable', () => {
              let chunk: Buffer | null;
              while ((chunk = remote.read(1000) as Buffer | null) !== null) received += chunk.length;
            });
            remote.on('end', resolve);
          });
      await pipeline(Readable.from([Buffer.alloc(total, 5)]), stream);
      await reading;
      expect(received).toBe(total);
    }
    await client.close();
  });

  it('a stalled stream does not hold up another stream on the same session', async () => {
    const { client, streams } = await streamPair({ streamWindowBytes: 64 * 1024 });
    const stalledAccepted = nextStream(streams, 'stalled');
    const stalled = await client.openStream('stalled');
    const [stalledRemote] = await stalledAccepted;
    stalledRemote.pause();
    while (stalled.write(Buffer.alloc(64 * 1024, 1)));
    const movingAccepted = nextStream(streams, 'moving');
    const moving = await client.openStream('moving');
    const [movingRemote] = await movingAccepted;
    const total = 8 * 1024 * 1024;
    const reading = readAll(movingRemote);
    await pipeline(Readable.from([Buffer.alloc(total, 2)]), moving);
    expect((await reading).length).toBe(total);
    expect(stalledRemote.readableLength).toBe(64 * 1024);
    await client.close();
  });

  it('a paused reader stops the writer within the window, and a call answers meanwhile', async () => {
    const window = 64 * 1024;
    const { client, server, streams, b } = await streamPair({ streamWindowBytes: window });
    b.handlers.set('ping', { handler: () => 'pong' });
    const accepted = nextStream(streams, 'slow');
    const stream = await client.openStream('slow');
    const [remote] = await accepted;
    remote.pause();
    let written = 0;
    const chunk = Buffer.alloc(16 * 1024, 7);
    // Write until the stream asks us to wait, then a while longer, and see nothing more goes through.
    while (stream.write(chunk)) written += chunk.length;
    written += chunk.length;
    await until(() => remote.readableLength >= window);
    expect(remote.readableLength).toBe(window);
    expect(await client.call('ping')).toBe('pong');
    // Still held: the receiver never buffered more than its window.
    expect(remote.readableLength).toBe(window);
    expect(stream.writableLength).toBeLessThanOrEqual(written);
    remote.resume();
    stream.end();
    const drained = await readAll(remote);
    expect(drained.length).toBe(written);
    void server;
    await client.close();
  });
});
