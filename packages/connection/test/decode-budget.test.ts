import type { ExposedHandler } from '@peernet/connection';
import { EnvelopeType, decodeEnvelope, encodeEnvelope, encodeValue, type Envelope } from '@peernet/frame';
import { denseArray, envelopeBytes, pairBoth, party, rawEnvelope, rawInitiator, type Party } from './helpers.js';

type Raw = Awaited<ReturnType<typeof rawInitiator>>;

async function trustedPair(): Promise<[Party, Party]> {
  const a = party();
  const b = party();
  await pairBoth(a, b);
  return [a, b];
}

/** Reads envelopes from the responder until `stop` accepts one; returns all read, in order. */
async function readUntil(peer: Raw, stop: (e: Envelope) => boolean): Promise<Envelope[]> {
  const seen: Envelope[] = [];
  let pending = new Uint8Array(0);
  for (;;) {
    const plaintext = await peer.open();
    const joined = new Uint8Array(pending.length + plaintext.length);
    joined.set(pending);
    joined.set(plaintext, pending.length);
    let at = 0;
    while (joined.length - at >= 4) {
      const length = new DataView(joined.buffer, joined.byteOffset + at).getUint32(0);
      if (joined.length - at - 4 < length) break;
      const envelope = decodeEnvelope(joined.subarray(at + 4, at + 4 + length));
      seen.push(envelope);
      at += 4 + length;
      if (stop(envelope)) return seen;
    }
    pending = joined.slice(at);
  }
}

const replyTo = (id: number) => (e: Envelope) => (e.type === EnvelopeType.Reply || e.type === EnvelopeType.Error) && e.id === id;
const call = (id: number, name: string, args: unknown) => envelopeBytes(encodeEnvelope({ type: 1, id, name, args: args as never }));
// A text string whose bytes are not UTF-8: structurally valid CBOR (the budget walk accepts it), refused when decoded.
const notUtf8 = Uint8Array.of(0x82, 0x01, 0x62, 0xc3, 0x28);

/** A handler that runs until the test releases it, and tells when it started. */
function held() {
  const started: number[] = [];
  const releases: Array<() => void> = [];
  let onStart: (() => void) | undefined;
  const entry: ExposedHandler = {
    handler: (args) =>
      new Promise((resolve) => {
        started.push(Array.isArray(args) ? args.length : -1);
        releases.push(() => resolve(Array.isArray(args) ? args.length : -1));
        onStart?.();
      }),
  };
  const nextStart = () => new Promise<void>((resolve) => (onStart = resolve));
  return { entry, started, releases, nextStart };
}

describe('maxDecodedBytes: what one envelope may cost in heap', () => {
  it('closes the session with message_too_large when a call\'s arguments would decode past the budget, running nothing', async () => {
    const [a, b] = await trustedPair();
    const ran: unknown[] = [];
    b.handlers.set('echo', { handler: (args) => void ran.push(args) });
    // 20,000 {} cost 20,000 × 64 bytes = 1.28 MB of estimated heap, from 20 kB on the wire.
    const peer = await rawInitiator(a, b, { maxDecodedBytes: 1_000_000 });
    await peer.open();
    peer.raw.write(peer.sealStream(rawEnvelope(1, [1, 'echo'], denseArray(0xa0, 20_000))));
    const reason = await peer.server.closed;
    expect(reason?.code).toBe('message_too_large');
    expect(reason?.message).toMatch(/budget of 1000000 bytes/);
    expect(ran).toEqual([]);
  });

  it('decodes arguments just within the budget (control)', async () => {
    const [a, b] = await trustedPair();
    b.handlers.set('count', { handler: (args) => (args as unknown[]).length });
    const peer = await rawInitiator(a, b, { maxDecodedBytes: 1_000_000 });
    await peer.open();
    // 15,000 × 64 + the array (48 + 8 per element) + its slot = 1,080,056 > 1,000,000; 13,000 fit.
    peer.raw.write(peer.sealStream(rawEnvelope(1, [1, 'count'], denseArray(0xa0, 13_000))));
    const [reply] = await readUntil(peer, replyTo(1));
    expect(reply).toEqual({ type: EnvelopeType.Reply, id: 1, result: 13_000 });
    expect(peer.server.isOpen).toBe(true);
    await peer.server.close();
  });

  it('never looks at the arguments of a call or send to a name nobody exposes', async () => {
    const [a, b] = await trustedPair();
    b.handlers.set('echo', { handler: (args) => args });
    const peer = await rawInitiator(a, b, { maxDecodedBytes: 1_000_000 });
    await peer.open();
    // Far over the budget, and not even valid UTF-8: decoding or walking either would close the session.
    peer.raw.write(peer.sealStream(rawEnvelope(4, ['nobody'], denseArray(0xa0, 1_000_000))));
    peer.raw.write(peer.sealStream(rawEnvelope(1, [1, 'nobody'], notUtf8)));
    peer.raw.write(peer.sealStream(rawEnvelope(1, [2, 'nobody'], denseArray(0x80, 1_000_000))));
    peer.raw.write(peer.seal(call(3, 'echo', 'still open')));
    const seen = await readUntil(peer, replyTo(3));
    expect(seen.map((e) => (e.type === EnvelopeType.Error ? e.code : e.type))).toEqual(['no_such_handle', 'no_such_handle', EnvelopeType.Reply]);
    expect(seen[2]).toEqual({ type: EnvelopeType.Reply, id: 3, result: 'still open' });
    await peer.server.close();
  });

  it.each([
    ['false', () => false],
    ['a rejected promise', () => Promise.reject(new Error('no'))],
    ['a promise of false', () => Promise.resolve(false)],
    ['a throw', () => { throw new Error('no'); }],
  ])('does not decode the arguments of a call authorize refuses (%s)', async (_label, authorize) => {
    const [a, b] = await trustedPair();
    const ran: unknown[] = [];
    b.handlers.set('guarded', { handler: (args) => void ran.push(args), authorize: authorize as never });
    b.handlers.set('echo', { handler: (args) => args });
    const peer = await rawInitiator(a, b);
    await peer.open();
    // Decoding these arguments would close the session (invalid UTF-8); being refused must not.
    peer.raw.write(peer.seal(rawEnvelope(1, [1, 'guarded'], notUtf8)));
    peer.raw.write(peer.seal(rawEnvelope(4, ['guarded'], notUtf8)));
    peer.raw.write(peer.seal(call(2, 'echo', 'after')));
    const answered = new Set<number>();
    // Replies come in any order: an asynchronous verdict may answer after the echo.
    const seen = await readUntil(peer, (e) => (answered.add((e as { id: number }).id), answered.size === 2));
    expect(new Set(seen)).toEqual(
      new Set([
        { type: EnvelopeType.Error, id: 1, code: 'forbidden', message: "not allowed to use 'guarded'" },
        { type: EnvelopeType.Reply, id: 2, result: 'after' },
      ]),
    );
    expect(ran).toEqual([]);
    await peer.server.close();
  });

  it.each([
    ['with no authorize', undefined],
    ['allowed synchronously', () => true],
    ['allowed asynchronously', () => Promise.resolve(true)],
  ])('closes the session when allowed arguments turn out malformed (%s)', async (_label, authorize) => {
    const [a, b] = await trustedPair();
    const ran: unknown[] = [];
    b.handlers.set('guarded', { handler: (args) => void ran.push(args), authorize: authorize as never });
    const peer = await rawInitiator(a, b);
    await peer.open();
    peer.raw.write(peer.seal(rawEnvelope(1, [1, 'guarded'], notUtf8)));
    const reason = await peer.server.closed;
    expect(reason?.code).toBe('protocol_error');
    expect(reason?.message).toMatch(/invalid UTF-8/);
    expect(ran).toEqual([]);
  });

  it('ignores a reply to no outstanding call without decoding it, and bounds a reply that is awaited', async () => {
    const [a, b] = await trustedPair();
    b.handlers.set('echo', { handler: (args) => args });
    const peer = await rawInitiator(a, b, { maxDecodedBytes: 1_000_000 });
    await peer.open();
    peer.raw.write(peer.sealStream(rawEnvelope(2, [99], denseArray(0xa0, 1_000_000))));
    peer.raw.write(peer.seal(call(1, 'echo', 'open')));
    expect((await readUntil(peer, replyTo(1))).at(-1)).toEqual({ type: EnvelopeType.Reply, id: 1, result: 'open' });
    // Now the server calls us and we answer with a result over its budget.
    const pending = peer.server.call('anything', null);
    const [request] = await readUntil(peer, (e) => e.type === EnvelopeType.Call);
    peer.raw.write(peer.sealStream(rawEnvelope(2, [(request as { id: number }).id], denseArray(0xa0, 20_000))));
    await expect(pending).rejects.toMatchObject({ code: 'connection_closed' });
    expect((await peer.server.closed)?.code).toBe('message_too_large');
  });
});

describe('maxDecodedBytes: what the running handlers of one session hold together', () => {
  it('admits a call only when its arguments fit beside those of the handlers running, and stops reading meanwhile', async () => {
    const [a, b] = await trustedPair();
    const hold = held();
    b.handlers.set('hold', hold.entry);
    // Each call's arguments cost 48 + 8 × 10,000 + 8 = 80,056 of the 200,000: two fit at once, not three.
    const peer = await rawInitiator(a, b, { maxDecodedBytes: 200_000 });
    await peer.open();
    const args = encodeValue(new Array(10_000).fill(0));
    const first = hold.nextStart();
    peer.raw.write(peer.sealStream(new Uint8Array(Buffer.concat([1, 2, 3].map((id) => rawEnvelope(1, [id, 'hold'], args))))));
    await first;
    // The three arrived in one read and were handled in that same turn: the third had to wait.
    expect(hold.started).toEqual([10_000, 10_000]);
    const third = hold.nextStart();
    hold.releases[0]!();
    await third;
    expect(hold.started).toEqual([10_000, 10_000, 10_000]);
    hold.releases[1]!();
    hold.releases[2]!();
    const seen = await readUntil(peer, (e) => e.type === EnvelopeType.Reply && e.id === 3);
    expect(seen.map((e) => (e as { id: number }).id).sort()).toEqual([1, 2, 3]);
    await peer.server.close();
  });
});

describe('a cancelled call id may be reused', () => {
  it('accepts the id again at once; the cancelled handler keeps its place under the cap and its result is dropped', async () => {
    const [a, b] = await trustedPair();
    const events: string[] = [];
    const releases: Array<(value: string) => void> = [];
    let started: (() => void) | undefined;
    // Ignores its abort signal on purpose.
    b.handlers.set('stubborn', {
      handler: () =>
        new Promise((resolve) => {
          releases.push(resolve);
          started?.();
        }),
    });
    b.handlers.set('echo', { handler: (args) => (events.push(`echo ${String(args)}`), args) });
    const peer = await rawInitiator(a, b, { maxConcurrentHandlers: 2 });
    await peer.open();
    let nextStart = new Promise<void>((resolve) => (started = resolve));
    peer.raw.write(peer.seal(call(7, 'stubborn', null)));
    await nextStart;
    nextStart = new Promise<void>((resolve) => (started = resolve));
    // One read: the cancel, the id again, and a third call that the cap (2) must hold back.
    peer.raw.write(
      peer.seal(
        new Uint8Array(
          Buffer.concat([envelopeBytes(encodeEnvelope({ type: 7, id: 7 })), call(7, 'stubborn', null), call(8, 'echo', 'waited')]),
        ),
      ),
    );
    await nextStart;
    expect(releases).toHaveLength(2);
    expect(events).toEqual([]);
    events.push('cancelled one finished');
    releases[0]!('late result');
    const first = await readUntil(peer, replyTo(8));
    expect(events).toEqual(['cancelled one finished', 'echo waited']);
    // The cancelled handler's result was not sent under the reused id.
    expect(first).toEqual([{ type: EnvelopeType.Reply, id: 8, result: 'waited' }]);
    releases[1]!('second');
    expect(await readUntil(peer, replyTo(7))).toEqual([{ type: EnvelopeType.Reply, id: 7, result: 'second' }]);
    expect(peer.server.isOpen).toBe(true);
    await peer.server.close();
  });

  it('still closes the session for an id reused while its call runs uncancelled', async () => {
    const [a, b] = await trustedPair();
    b.handlers.set('slow', { handler: () => new Promise(() => undefined) });
    const peer = await rawInitiator(a, b);
    peer.raw.write(peer.seal(call(7, 'slow', null)));
    peer.raw.write(peer.seal(call(7, 'slow', null)));
    const reason = await peer.server.closed;
    expect(reason?.code).toBe('protocol_error');
    expect(reason?.message).toMatch(/already in progress/);
  });

  it('drops the late result without disturbing the reused id\'s reply, with no cap in the way', async () => {
    const [a, b] = await trustedPair();
    const releases: Array<(v: string) => void> = [];
    let started!: () => void;
    b.handlers.set('stubborn', {
      handler: () => new Promise((resolve) => {
        releases.push(resolve);
        started();
      }),
    });
    const peer = await rawInitiator(a, b);
    await peer.open();
    let firstStarted = new Promise<void>((resolve) => (started = resolve));
    peer.raw.write(peer.seal(call(7, 'stubborn', null)));
    await firstStarted;
    firstStarted = new Promise<void>((resolve) => (started = resolve));
    peer.raw.write(peer.seal(envelopeBytes(encodeEnvelope({ type: 7, id: 7 }))));
    peer.raw.write(peer.seal(call(7, 'stubborn', null)));
    await firstStarted;
    // The cancelled one finishes first; only the second one's result may answer id 7.
    releases[0]!('first');
    releases[1]!('second');
    peer.raw.write(peer.seal(call(8, 'missing', null)));
    const seen = await readUntil(peer, replyTo(8));
    expect(seen.slice(0, -1)).toEqual([{ type: EnvelopeType.Reply, id: 7, result: 'second' }]);
    await peer.server.close();
  });
});
