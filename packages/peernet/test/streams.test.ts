import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Readable, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PeerNet } from 'peernet';
import { cleanup, connected, startNode } from './helpers.js';

jest.setTimeout(120_000);
afterEach(cleanup);

async function pair(options: Parameters<typeof startNode>[0] = {}): Promise<[PeerNet, PeerNet]> {
  const a = await startNode(options);
  const b = await startNode(options);
  await connected(a, b);
  return [a, b];
}

/** A sink that hashes and counts what it is given. */
function hashingSink(): { sink: Writable; result: () => { bytes: number; sha256: string } } {
  const hash = createHash('sha256');
  let bytes = 0;
  const sink = new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done();
    },
  });
  return { sink, result: () => ({ bytes, sha256: hash.digest('hex') }) };
}

/** The error the stream failed with, whether it already did or does later. */
async function failure(stream: Duplex): Promise<Error & { code: string }> {
  if (stream.errored) return stream.errored as Error & { code: string };
  const [error] = (await once(stream, 'error')) as [Error & { code: string }];
  return error;
}

/** Samples `value` every `everyMs` for `forMs` and returns the largest sample: a measurement window, not a wait for an event. */
async function peakOver(forMs: number, everyMs: number, value: () => number): Promise<number> {
  let peak = value();
  const started = Date.now();
  while (Date.now() - started < forMs) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    peak = Math.max(peak, value());
  }
  return peak;
}

describe('PeerNet byte streams', () => {
  it('exposeStream and openStream: default-deny, not_connected, unexposeStream', async () => {
    const [a, b] = await pair();
    await expect(a.openStream(b.id, 'files')).rejects.toMatchObject({ code: 'no_such_handle' });
    b.exposeStream('files', async (stream, context) => {
      expect(context.peer.equals(a.id)).toBe(true);
      stream.end(`hello ${context.name}`);
      stream.resume();
    });
    const stream = await a.openStream(b.id, 'files');
    stream.end();
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('hello files');
    expect(b.unexposeStream('files')).toBe(true);
    await expect(a.openStream(b.id, 'files')).rejects.toMatchObject({ code: 'no_such_handle' });
    const stranger = await startNode();
    await expect(a.openStream(stranger.id, 'files')).rejects.toMatchObject({ code: 'not_connected' });
    expect(() => b.exposeStream('', () => undefined)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    b.exposeStream('guarded', () => undefined, { authorize: (peer) => !peer.equals(a.id) });
    await expect(a.openStream(b.id, 'guarded')).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('moves 1 GiB through one stream with the SHA-256 of both ends equal', async () => {
    const [a, b] = await pair();
    const received = new Promise<{ bytes: number; sha256: string }>((resolve, reject) => {
      b.exposeStream('bulk', (stream) => {
        const { sink, result } = hashingSink();
        pipeline(stream, sink).then(() => {
          resolve(result());
          stream.end();
        }, reject);
      });
    });
    const stream = await a.openStream(b.id, 'bulk');
    const block = randomBytes(1024 * 1024);
    const sent = createHash('sha256');
    const blocks = 1024;
    const source = Readable.from((function* () {
      for (let i = 0; i < blocks; i++) {
        // Each block differs (its index up front), so a lost, repeated or reordered block changes the hash.
        const chunk = Buffer.from(block);
        chunk.writeUInt32BE(i, 0);
        sent.update(chunk);
        yield chunk;
      }
    })());
    await pipeline(source, stream);
    expect(await received).toEqual({ bytes: blocks * 1024 * 1024, sha256: sent.digest('hex') });
  });

  it('a reader paused for seconds holds both sides within the window, and a call answers meanwhile', async () => {
    const window = 128 * 1024;
    const [a, b] = await pair({ streamWindowBytes: window });
    b.expose('ping', () => 'pong');
    let remote!: Duplex;
    const accepted = new Promise<void>((resolve) => b.exposeStream('slow', (stream) => {
      remote = stream;
      stream.pause();
      resolve();
    }));
    const stream = await a.openStream(b.id, 'slow');
    await accepted;
    // The writer offers far more than the window, honouring backpressure; nothing but the window may pass.
    const chunk = Buffer.alloc(64 * 1024, 1);
    let offered = 0;
    const writing = (async () => {
      while (offered < 64 * 1024 * 1024 && !stream.destroyed) {
        offered += chunk.length;
        if (!stream.write(chunk)) await new Promise((resolve) => stream.once('drain', resolve).once('close', resolve));
      }
    })();
    const before = process.memoryUsage().arrayBuffers;
    const peakBuffered = await peakOver(2_000, 50, () => remote.readableLength);
    const peakArrayBuffers = await peakOver(1_000, 50, () => process.memoryUsage().arrayBuffers) - before;
    expect(peakBuffered).toBe(window);
    // Writer side: Node's write buffer (its high-water mark) and one chunk in flight.
    expect(stream.writableLength).toBeLessThanOrEqual(stream.writableHighWaterMark + chunk.length);
    // Both sides in this process: everything held stays within a few windows, not the 64 MiB offered.
    expect(peakArrayBuffers).toBeLessThan(8 * window + 4 * 1024 * 1024);
    expect(offered).toBeLessThan(4 * 1024 * 1024);
    expect(await a.call(b.id, 'ping')).toBe('pong');
    remote.resume();
    stream.destroy();
    await writing.catch(() => undefined);
  });

  it('stop() with open streams fails them with connection_closed on both sides and resolves', async () => {
    const [a, b] = await pair();
    const remotes: Duplex[] = [];
    b.exposeStream('hold', (stream) => void remotes.push(stream));
    const local = [await a.openStream(b.id, 'hold'), await a.openStream(b.id, 'hold')];
    local[0]?.write('partial');
    await a.stop();
    for (const stream of local) expect((await failure(stream)).code).toBe('connection_closed');
    for (const stream of remotes) expect((await failure(stream)).code).toBe('connection_closed');
  });
});

describe('streams at scale', () => {
  it('1,000 concurrent streams of 1 MiB each complete intact, with memory bounded by the windows', async () => {
    const window = 64 * 1024;
    const count = 1_000;
    const [a, b] = await pair({ streamWindowBytes: window });
    const payload = randomBytes(1024 * 1024);
    const expected = createHash('sha256').update(payload).digest('hex');
    const results: string[] = [];
    b.exposeStream('put', (stream) => {
      const { sink, result } = hashingSink();
      void pipeline(stream, sink).then(() => {
        results.push(result().sha256);
        stream.end();
      });
    });
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      const streams = await Promise.all(Array.from({ length: count }, () => a.openStream(b.id, 'put', { timeoutMs: 30_000 })));
      await Promise.all(streams.map(async (stream) => {
        // The same buffer for every stream: what grows is what the streams hold, not the test's data.
        stream.end(payload);
        stream.resume();
        await once(stream, 'end');
      }));
    } finally {
      clearInterval(sampler);
    }
    expect(results).toHaveLength(count);
    expect(new Set(results)).toEqual(new Set([expected]));
    // Receive buffers are bounded by count × window (62.5 MiB); allow the same again for
    // send-side sealing buffers and the heap of 2,000 stream objects.
    expect(peak - baseline).toBeLessThan(2 * count * window + 64 * 1024 * 1024);
  });

  it('the bound is enforced: ten paused readers hold exactly ten windows, however much is offered', async () => {
    const window = 32 * 1024;
    const [a, b] = await pair({ streamWindowBytes: window });
    const remotes: Duplex[] = [];
    b.exposeStream('put', (stream) => {
      stream.pause();
      remotes.push(stream);
    });
    const streams = await Promise.all(Array.from({ length: 10 }, () => a.openStream(b.id, 'put')));
    const big = Buffer.alloc(1024 * 1024, 2);
    for (const stream of streams) stream.write(big);
    const total = (): number => remotes.reduce((sum, s) => sum + s.readableLength, 0);
    const peak = await peakOver(1_000, 20, total);
    expect(peak).toBe(10 * window);
    for (const stream of streams) expect(stream.writableLength).toBe(big.length);
  });
});
