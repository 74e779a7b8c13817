// A hand-driven initiator against a responder with stream handlers: every
// stream frame no honest peer could send closes the connection with
// protocol_error and a reason, and leaves nothing behind; the races an honest
// peer can cause (frames crossing a local reset, credit after both ends) are
// dropped and the session goes on.
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { ExposedStreamHandler, PeerNetError } from '@peernet/interface';
import { EnvelopeType, decodeEnvelope, encodeEnvelope, type Envelope } from '@peernet/frame';
import { envelopeBytes, pairBoth, party, rawInitiator } from './helpers.js';

jest.setTimeout(30_000);

const MAX_WINDOW = 16 * 1024 * 1024;
const WINDOW = 1024;

type Peer = Awaited<ReturnType<typeof rawInitiator>>;

/** Settles as `promise` does, or fails after `ms` (the timer is cleared either way). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once the stream has closed (at once if it has). */
async function streamClosed(stream: Duplex): Promise<void> {
  if (!stream.closed) await within(once(stream, 'close'), 5_000, 'stream close');
}

/**
 * Reads the responder's secure stream: transport messages are decrypted and
 * cut into `u32 length | body` envelopes (one message may hold several, and
 * an envelope may span messages), each decoded.
 */
function envelopeReader(peer: Peer): () => Promise<Envelope> {
  let buffered: Uint8Array = new Uint8Array(0);
  const queue: Envelope[] = [];
  return async () => {
    while (queue.length === 0) {
      const message = await within(peer.open(), 5_000, 'a message from the responder');
      buffered = buffered.length === 0 ? message : new Uint8Array(Buffer.concat([buffered, message]));
      while (buffered.length >= 4) {
        const length = new DataView(buffered.buffer, buffered.byteOffset, buffered.byteLength).getUint32(0);
        if (buffered.length < 4 + length) break;
        queue.push(decodeEnvelope(buffered.subarray(4, 4 + length)));
        buffered = buffered.subarray(4 + length);
      }
    }
    return queue.shift() as Envelope;
  };
}

interface Options {
  window?: number;
  authorize?: ExposedStreamHandler['authorize'];
  /** What the handler does with each stream it gets (nothing by default: it holds it, unread). */
  serve?: (stream: Duplex) => void;
}

/** A responder with one stream handler `s`, and the raw peer that talks to it. */
async function setup(options: Options = {}) {
  const a = party();
  const b = party();
  await pairBoth(a, b);
  const served: Duplex[] = [];
  const streams = new Map<string, ExposedStreamHandler>();
  streams.set('s', {
    handler: (stream) => {
      served.push(stream);
      options.serve?.(stream);
    },
    authorize: options.authorize,
  });
  b.handlers.set('ping', { handler: () => 'pong' });
  const peer = await rawInitiator(a, b, { streamHandlers: streams, streamWindowBytes: options.window ?? WINDOW });
  const next = envelopeReader(peer);
  /** Writes the envelopes as one transport message. */
  const send = (...envelopes: Envelope[]): void => {
    peer.raw.write(peer.seal(new Uint8Array(Buffer.concat(envelopes.map((e) => envelopeBytes(encodeEnvelope(e)))))));
  };
  /** Writes already encoded envelope bodies as one transport message. */
  const sendRaw = (...bodies: Uint8Array[]): void => {
    peer.raw.write(peer.seal(new Uint8Array(Buffer.concat(bodies.map((body) => envelopeBytes(body))))));
  };
  /** The next envelope from the responder, which must be of `type`. */
  const expectNext = async <T extends Envelope['type']>(type: T): Promise<Extract<Envelope, { type: T }>> => {
    const envelope = await next();
    expect(envelope.type).toBe(type);
    return envelope as Extract<Envelope, { type: T }>;
  };
  /** Opens stream `id` to `s` and waits for the accept: returns the window the responder granted. */
  const openAccepted = async (id: number, window = WINDOW): Promise<number> => {
    send({ type: EnvelopeType.StreamOpen, stream: id, name: 's', window });
    const accept = await expectNext(EnvelopeType.StreamAccept);
    expect(accept.stream).toBe(id);
    return accept.window;
  };
  /**
   * A call after what was sent: its reply proves the responder read
   * everything before it and is still open. Returns the envelopes it sent
   * before the reply.
   */
  let callId = 0;
  const stillOpen = async (): Promise<Envelope[]> => {
    const id = ++callId;
    send({ type: EnvelopeType.Call, id, name: 'ping', args: null });
    const before: Envelope[] = [];
    for (;;) {
      const envelope = await next();
      if (envelope.type === EnvelopeType.Reply && envelope.id === id) break;
      before.push(envelope);
    }
    expect(peer.server.isOpen).toBe(true);
    return before;
  };
  /** The responder closed the connection: its reason, with every served stream destroyed. */
  const closedWith = async (): Promise<PeerNetError> => {
    const reason = await within(peer.server.closed, 5_000, 'the responder closing');
    if (!peer.raw.closed) await within(once(peer.raw, 'close'), 5_000, 'the socket closing');
    for (const stream of served) {
      await streamClosed(stream);
      expect(stream.destroyed).toBe(true);
    }
    expect(reason).toBeDefined();
    return reason as PeerNetError;
  };
  const done = async (): Promise<void> => {
    await peer.server.close();
    peer.raw.destroy();
    for (const stream of served) await streamClosed(stream);
  };
  // The responder's confirmation (an empty message) comes first.
  expect(await within(peer.open(), 5_000, 'the confirmation')).toHaveLength(0);
  return { peer, served, send, sendRaw, next, expectNext, openAccepted, stillOpen, closedWith, done };
}

type Setup = Awaited<ReturnType<typeof setup>>;

/** Runs `act` against a fresh responder and expects it to close with protocol_error saying `why`. */
async function expectProtocolError(why: RegExp, act: (s: Setup) => Promise<void> | void, options: Options = {}) {
  const s = await setup(options);
  await act(s);
  const live = s.served.filter((stream) => !stream.destroyed);
  const reason = await s.closedWith();
  expect(reason.code).toBe('protocol_error');
  expect(reason.message).toMatch(why);
  // A stream still open then fails with the connection's error, which names the violation.
  for (const stream of live) {
    expect((stream.errored as PeerNetError | null)?.code).toBe('connection_closed');
    expect((stream.errored as Error).message).toContain(reason.message);
  }
  return s;
}

const data = (stream: number, length: number): Envelope => ({ type: EnvelopeType.StreamData, stream, data: randomBytes(length) });
const credit = (stream: number, amount: number): Envelope => ({ type: EnvelopeType.StreamCredit, stream, credit: amount });
const end = (stream: number): Envelope => ({ type: EnvelopeType.StreamEnd, stream });
const reset = (stream: number): Envelope => ({ type: EnvelopeType.StreamReset, stream, code: 'stream_reset', message: 'bye' });
const accept = (stream: number): Envelope => ({ type: EnvelopeType.StreamAccept, stream, window: WINDOW });

const kinds: [string, (id: number) => Envelope][] = [
  ['data', (id) => data(id, 3)],
  ['credit', (id) => credit(id, 10)],
  ['end', end],
  ['reset', reset],
];

describe('control: the hand-driven peer opens, writes and ends a stream', () => {
  it('is accepted with the configured window, delivers its bytes and the session stays open', async () => {
    let received = Buffer.alloc(0);
    const s = await setup({
      serve: (stream) => {
        stream.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
        stream.on('end', () => stream.end());
      },
    });
    expect(await s.openAccepted(1)).toBe(WINDOW);
    const payload = randomBytes(WINDOW);
    s.send({ type: EnvelopeType.StreamData, stream: 1, data: payload });
    // The handler consumed the whole window: it is granted back.
    expect(await s.expectNext(EnvelopeType.StreamCredit)).toEqual(credit(1, WINDOW));
    s.send(end(1));
    // The handler ends its side when it reads the peer's end.
    expect(await s.expectNext(EnvelopeType.StreamEnd)).toEqual(end(1));
    expect(received.equals(payload)).toBe(true);
    await streamClosed(s.served[0] as Duplex);
    expect(s.served[0]?.errored).toBeNull();
    await s.stillOpen();
    await s.done();
  });
});

describe('frames for a stream that was never opened close the connection', () => {
  it.each(kinds)('%s for an even id the responder has not allocated', async (_kind, frame) => {
    await expectProtocolError(/stream \w+ for stream 2, which was never opened/, (s) => s.send(frame(2)));
  });

  it.each(kinds)('%s for an odd id above the highest the peer opened', async (_kind, frame) => {
    await expectProtocolError(/stream \w+ for stream 3, which was never opened/, async (s) => {
      await s.openAccepted(1);
      s.send(frame(3));
    });
  });

  it('accept for an even id the responder never opened', async () => {
    await expectProtocolError(/stream accept for stream 2, which was never opened/, (s) => s.send(accept(2)));
  });

  it('accept for an odd id (the peer accepting its own stream)', async () => {
    await expectProtocolError(/stream accept for stream 3, which is not opening/, (s) => s.send(accept(3)));
  });

  it('accept for a stream that is already open', async () => {
    await expectProtocolError(/stream accept for stream 1, which is not opening/, async (s) => {
      await s.openAccepted(1);
      s.send(accept(1));
    });
  });
});

describe('opens with an id that is not a new one of the peer close the connection', () => {
  const open = (stream: number, window = WINDOW): Envelope => ({ type: EnvelopeType.StreamOpen, stream, name: 's', window });

  it('reusing the id of an open stream', async () => {
    await expectProtocolError(/stream open with id 1, which is not a new id/, async (s) => {
      await s.openAccepted(1);
      s.send(open(1));
    });
  });

  it('reusing the id of a stream that was reset', async () => {
    await expectProtocolError(/stream open with id 1, which is not a new id/, async (s) => {
      await s.openAccepted(1);
      s.send(reset(1));
      await s.stillOpen();
      s.send(open(1));
    });
  });

  it('going below the highest id opened', async () => {
    await expectProtocolError(/stream open with id 3, which is not a new id/, async (s) => {
      await s.openAccepted(5);
      s.send(open(3));
    });
  });

  it.each([2, 0, 4])('using the responder parity (%i)', async (id) => {
    await expectProtocolError(new RegExp(`stream open with id ${id}, which is not a new id`), (s) => s.send(open(id)));
  });

  it('granting a window above 16 MiB (and no handler runs)', async () => {
    const s = await expectProtocolError(/stream 1 grants a window of 16777217 bytes, above 16777216/, (s) =>
      s.send(open(1, MAX_WINDOW + 1)),
    );
    expect(s.served).toHaveLength(0);
  });

  it('granting exactly 16 MiB is accepted (control)', async () => {
    const s = await setup();
    await s.openAccepted(1, MAX_WINDOW);
    await s.stillOpen();
    expect(s.served).toHaveLength(1);
    await s.done();
  });
});

describe('flow control violations close the connection', () => {
  it('credit that takes the writer above 16 MiB', async () => {
    await expectProtocolError(/stream credit for stream 1 overflows: 16777216 \+ 1 is above 16777216/, async (s) => {
      await s.openAccepted(1, MAX_WINDOW - 10);
      s.send(credit(1, 10));
      await s.stillOpen(); // exactly 16 MiB is allowed
      s.send(credit(1, 1));
    });
  });

  it('credit of 2^53 - 1 on a fresh stream', async () => {
    await expectProtocolError(/stream credit for stream 1 overflows/, async (s) => {
      await s.openAccepted(1);
      s.send(credit(1, Number.MAX_SAFE_INTEGER));
    });
  });

  it('more bytes than the granted window in one frame', async () => {
    await expectProtocolError(/stream data of 1025 bytes for stream 1 exceeds its credit of 1024/, async (s) => {
      const window = await s.openAccepted(1);
      s.send(data(1, window + 1));
    });
  });

  it('more bytes than the granted window over several frames', async () => {
    await expectProtocolError(/stream data of 400 bytes for stream 1 exceeds its credit of 224/, async (s) => {
      const window = await s.openAccepted(1);
      expect(window).toBe(WINDOW);
      s.send(data(1, 400));
      s.send(data(1, 400));
      await s.stillOpen(); // 800 of 1024: within the window, and nothing was granted back (the handler reads nothing)
      s.send(data(1, 400));
    });
  });

  it('the whole window, then one byte more, while the handler reads nothing', async () => {
    await expectProtocolError(/stream data of 1 bytes for stream 1 exceeds its credit of 0/, async (s) => {
      await s.openAccepted(1);
      s.send(data(1, WINDOW));
      expect(await s.stillOpen()).toEqual([]);
      s.send(data(1, 1));
    });
  });

  it('data within credit granted back is accepted (control)', async () => {
    let received = 0;
    const s = await setup({ serve: (stream) => void stream.on('data', (chunk: Buffer) => (received += chunk.length)) });
    await s.openAccepted(1);
    s.send(data(1, WINDOW));
    expect(await s.expectNext(EnvelopeType.StreamCredit)).toEqual(credit(1, WINDOW));
    s.send(data(1, WINDOW));
    expect(await s.expectNext(EnvelopeType.StreamCredit)).toEqual(credit(1, WINDOW));
    await s.stillOpen();
    expect(received).toBe(2 * WINDOW);
    await s.done();
  });
});

describe('frames after the peer itself ended or reset the stream close the connection', () => {
  it('data after the peer ended it (the handler still writing)', async () => {
    await expectProtocolError(/stream data for stream 1 after the peer ended it/, async (s) => {
      await s.openAccepted(1);
      s.send(end(1));
      await s.stillOpen();
      s.send(data(1, 1));
    });
  });

  it('data after the peer ended it, the stream closed both ways meanwhile', async () => {
    const ended: Promise<unknown>[] = [];
    await expectProtocolError(/stream data for stream 1 after the peer ended it/, async (s) => {
      await s.openAccepted(1);
      s.send(end(1));
      await s.expectNext(EnvelopeType.StreamEnd);
      await ended[0];
      s.send(data(1, 1));
    }, {
      serve: (stream) => {
        stream.resume();
        stream.end();
        ended.push(once(stream, 'close'));
      },
    });
  });

  it('a second end', async () => {
    await expectProtocolError(/stream end for stream 1, which the peer already ended/, async (s) => {
      await s.openAccepted(1);
      s.send(end(1), end(1));
    });
  });

  it.each(kinds)('%s after the peer reset it', async (kind, frame) => {
    const s = await expectProtocolError(new RegExp(`stream ${kind} for stream 1 after the peer reset it`), async (s) => {
      await s.openAccepted(1);
      s.send(reset(1));
      await s.stillOpen();
      // The handler's stream failed with the peer's reset, not the connection's error.
      expect((s.served[0]?.errored as PeerNetError | null)?.code).toBe('stream_reset');
      s.send(frame(1));
    });
    expect(s.served[0]?.destroyed).toBe(true);
  }, 15_000);
});

describe('frames before the accept, while authorize is pending, close the connection', () => {
  it.each(kinds.filter(([kind]) => kind !== 'reset'))('%s before the accept', async (_kind, frame) => {
    let release!: (allowed: boolean) => void;
    const decided = new Promise<boolean>((resolve) => (release = resolve));
    let asked = 0;
    const s = await expectProtocolError(/stream \w+ for stream 1, which is not accepted yet/, async (s) => {
      s.send({ type: EnvelopeType.StreamOpen, stream: 1, name: 's', window: WINDOW });
      // The call's reply proves the open was read (and authorize asked) before the frame is sent.
      await s.stillOpen();
      expect(asked).toBe(1);
      s.send(frame(1));
    }, { authorize: () => ((asked++), decided) });
    release(true);
    await decided;
    await new Promise((resolve) => setImmediate(resolve));
    // Allowed too late: the connection is gone, no handler ran.
    expect(s.served).toHaveLength(0);
  });

  it('a reset before the accept is allowed: the open is dropped, no handler runs (legitimate)', async () => {
    let release!: (allowed: boolean) => void;
    const decided = new Promise<boolean>((resolve) => (release = resolve));
    const s = await setup({ authorize: () => decided });
    s.send({ type: EnvelopeType.StreamOpen, stream: 1, name: 's', window: WINDOW });
    await s.stillOpen();
    s.send(reset(1));
    await s.stillOpen();
    release(true);
    await decided;
    // Nothing comes for stream 1: no accept, no reset; the next reply is the first thing sent.
    expect(await s.stillOpen()).toEqual([]);
    expect(s.served).toHaveLength(0);
    // The stream counts as reset by the peer: a frame for it now is a violation.
    s.send(data(1, 1));
    const reason = await s.closedWith();
    expect(reason.code).toBe('protocol_error');
    expect(reason.message).toMatch(/stream data for stream 1 after the peer reset it/);
  });
});

describe('races an honest peer causes are dropped, and the session goes on', () => {
  it.each([
    ['data', [data(1, 100)]],
    ['credit', [credit(1, 100)]],
    ['end', [end(1)]],
    ['data, credit and end', [data(1, 100), credit(1, 100), end(1)]],
    ['more than the window (sent before the reset arrived)', [data(1, WINDOW), data(1, WINDOW)]],
  ] as [string, Envelope[]][])('%s after the handler destroyed its stream', async (_what, frames) => {
    const s = await setup({ serve: (stream) => stream.destroy() });
    await s.openAccepted(1);
    const local = await s.expectNext(EnvelopeType.StreamReset);
    expect(local).toMatchObject({ stream: 1, code: 'stream_reset' });
    s.send(...frames);
    expect(await s.stillOpen()).toEqual([]);
    expect(s.served[0]?.destroyed).toBe(true);
    await s.done();
  });

  it('a reset crossing the local reset', async () => {
    const s = await setup({ serve: (stream) => stream.destroy(new Error('local failure')) });
    await s.openAccepted(1);
    // The peer's reset was sent before the responder's arrived: it comes after it.
    s.send(reset(1));
    expect(await s.expectNext(EnvelopeType.StreamReset)).toMatchObject({ stream: 1, message: 'local failure' });
    expect(await s.stillOpen()).toEqual([]);
    // But nothing may follow the peer's own reset.
    s.send(credit(1, 1));
    const reason = await s.closedWith();
    expect(reason.message).toMatch(/stream credit for stream 1 after the peer reset it/);
  });

  it('an end crossing the local reset is taken, but data or a second end after it closes', async () => {
    for (const after of [data(1, 1), end(1)]) {
      const s = await setup({ serve: (stream) => stream.destroy() });
      await s.openAccepted(1);
      await s.expectNext(EnvelopeType.StreamReset);
      s.send(end(1));
      expect(await s.stillOpen()).toEqual([]);
      s.send(after);
      const reason = await s.closedWith();
      expect(reason.message).toMatch(/stream (data|end) for stream 1 after the peer ended it/);
    }
  });

  it('a second reset while authorize is pending closes', async () => {
    const s = await setup({ authorize: () => new Promise<boolean>(() => undefined) });
    s.send({ type: EnvelopeType.StreamOpen, stream: 1, name: 's', window: WINDOW });
    await s.stillOpen();
    s.send(reset(1));
    await s.stillOpen();
    s.send(reset(1));
    const reason = await s.closedWith();
    expect(reason.message).toMatch(/stream reset for stream 1 after the peer reset it/);
  });

  it('credit after both sides ended', async () => {
    const s = await setup({ serve: (stream) => (stream.resume(), stream.end()) });
    await s.openAccepted(1);
    expect(await s.expectNext(EnvelopeType.StreamEnd)).toEqual(end(1));
    s.send(end(1));
    await streamClosed(s.served[0] as Duplex);
    expect(s.served[0]?.errored).toBeNull();
    s.send(credit(1, 100));
    expect(await s.stillOpen()).toEqual([]);
    await s.done();
  });

  it('data, credit and end for a stream the responder refused', async () => {
    const s = await setup({ authorize: () => false });
    s.send({ type: EnvelopeType.StreamOpen, stream: 1, name: 's', window: WINDOW });
    expect(await s.expectNext(EnvelopeType.StreamReset)).toMatchObject({ stream: 1, code: 'forbidden' });
    s.send(data(1, 10), credit(1, 10), end(1));
    expect(await s.stillOpen()).toEqual([]);
    await s.done();
  });
});

describe('malformed stream data envelopes close the connection', () => {
  const cases: [string, number[], RegExp][] = [
    ['a byte string longer than the envelope', [0x83, 0x0a, 0x01, 0x43, 0x61, 0x62], /length does not match the envelope/],
    ['a byte string shorter than the envelope', [0x83, 0x0a, 0x01, 0x41, 0x61, 0x62], /length does not match the envelope/],
    ['a 4-byte length far past the end', [0x83, 0x0a, 0x01, 0x5a, 0x7f, 0xff, 0xff, 0xff, 0x61], /length does not match/],
    ['a truncated length', [0x83, 0x0a, 0x01, 0x59, 0x00], /length does not match/],
    ['an 8-byte length of 2^32 or more', [0x83, 0x0a, 0x01, 0x5b, 0, 0, 0, 1, 0, 0, 0, 0, 0x61], /not a definite length below 2\^32/],
    ['an indefinite-length byte string', [0x83, 0x0a, 0x01, 0x5f, 0x41, 0x61, 0xff], /not a definite length/],
    ['a text string instead of bytes', [0x83, 0x0a, 0x01, 0x62, 0x61, 0x62], /stream data is not a byte string/],
    ['an integer instead of bytes', [0x83, 0x0a, 0x01, 0x05], /stream data is not a byte string/],
    ['two items', [0x82, 0x0a, 0x01], /stream data has 2 elements, expected 3/],
    ['four items', [0x84, 0x0a, 0x01, 0x41, 0x61, 0x00], /stream data has 4 elements, expected 3/],
    ['a text stream id', [0x83, 0x0a, 0x61, 0x31, 0x41, 0x61], /id is not an unsigned integer/],
    ['a negative stream id', [0x83, 0x0a, 0x20, 0x41, 0x61], /id is not an unsigned integer/],
  ];
  it.each(cases)('%s', async (_what, bytes, why) => {
    await expectProtocolError(why, async (s) => {
      await s.openAccepted(1);
      s.sendRaw(Uint8Array.from(bytes));
    });
  });

  it.each([
    ['open with a window of 2^53', [0x84, 0x08, 0x01, 0x61, 0x73, 0x1b, 0x00, 0x20, 0, 0, 0, 0, 0, 0], /window is not an unsigned integer/],
    ['credit with a negative amount', [0x83, 0x0b, 0x01, 0x20], /credit is not an unsigned integer/],
    ['end with an extra item', [0x83, 0x0c, 0x01, 0x00], /stream end has 3 elements, expected 2/],
    ['reset without a message', [0x83, 0x0d, 0x01, 0x60], /stream reset has 3 elements, expected 4/],
  ] as [string, number[], RegExp][])('%s', async (_what, bytes, why) => {
    await expectProtocolError(why, async (s) => {
      await s.openAccepted(1);
      s.sendRaw(Uint8Array.from(bytes));
    });
  });
});

describe('memory a peer can pin with small data frames', () => {
  it('tiny data frames in large messages are copied out: what the stream holds does not keep the messages alive', async () => {
    const window = 256 * 1024;
    const s = await setup({ window });
    await s.openAccepted(1, window);
    // Each message: 60 KiB sent to a name nobody exposes (dropped undecoded), then 32 bytes for the held stream.
    const padding = { type: EnvelopeType.Send, name: 'nobody', args: randomBytes(60 * 1024) } as Envelope;
    const messages = 200;
    for (let i = 0; i < messages; i++) s.send(padding, data(1, 32));
    await s.stillOpen();
    const stream = s.served[0] as Duplex;
    expect(stream.readableLength).toBe(messages * 32);
    // What each buffered chunk keeps alive is its ArrayBuffer: 32 bytes each, not the 60 KiB message it came in.
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    await new Promise((resolve) => setImmediate(resolve));
    expect(chunks).toHaveLength(messages);
    const pinned = chunks.reduce((sum, chunk) => sum + chunk.buffer.byteLength, 0);
    expect(pinned).toBe(messages * 32);
    await s.done();
  });

  it('full-size data frames are delivered as views of the decrypted message, without a copy', async () => {
    const window = 256 * 1024;
    const s = await setup({ window });
    await s.openAccepted(1, window);
    s.send(data(1, 60 * 1024));
    await s.stillOpen();
    const stream = s.served[0] as Duplex;
    const [chunk] = (await once(stream, 'data')) as [Buffer];
    expect(chunk.length).toBe(60 * 1024);
    // The view's buffer is the decrypted message: the data plus its envelope header, nothing copied out.
    expect(chunk.buffer.byteLength).toBeGreaterThan(chunk.length);
    expect(chunk.buffer.byteLength).toBeLessThan(chunk.length + 64);
    await s.done();
  });
});
