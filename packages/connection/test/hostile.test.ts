import { once } from 'node:events';
import { encodeEnvelope, encodeValue } from '@peernet/frame';
import { envelopeBytes, pairBoth, party, rawInitiator, type Party } from './helpers.js';

async function trustedPair(): Promise<[Party, Party]> {
  const a = party();
  const b = party();
  await pairBoth(a, b);
  return [a, b];
}

describe('after the handshake, hostile bytes close that connection', () => {
  it('accepts a well-formed call from the hand-driven peer (control)', async () => {
    const [a, b] = await trustedPair();
    b.handlers.set('echo', { handler: (args) => args });
    const peer = await rawInitiator(a, b);
    expect(await peer.open()).toHaveLength(0); // the acceptance message
    peer.raw.write(peer.seal(envelopeBytes(encodeEnvelope({ type: 1, id: 1, name: 'echo', args: 'hi' }))));
    const reply = await peer.open();
    expect(reply.subarray(4)).toEqual(encodeEnvelope({ type: 2, id: 1, result: 'hi' }));
    await peer.server.close();
  });

  async function expectClosedBy(build: (peer: Awaited<ReturnType<typeof rawInitiator>>) => Uint8Array[]) {
    const [a, b] = await trustedPair();
    const ran: unknown[] = [];
    b.handlers.set('echo', { handler: (args) => void ran.push(args) });
    const peer = await rawInitiator(a, b);
    const closed = once(peer.raw, 'close');
    for (const chunk of build(peer)) peer.raw.write(chunk);
    const reason = await peer.server.closed;
    await closed;
    return { reason, ran };
  }

  it('a flipped bit in a transport message', async () => {
    const { reason } = await expectClosedBy((peer) => {
      const frame = peer.seal(envelopeBytes(encodeEnvelope({ type: 4, name: 'echo', args: 1 })));
      frame[10] = (frame[10] as number) ^ 1;
      return [frame];
    });
    expect(reason?.code).toBe('decrypt_failed');
  });

  it('a replayed transport message', async () => {
    const { reason, ran } = await expectClosedBy((peer) => {
      const frame = peer.seal(envelopeBytes(encodeEnvelope({ type: 4, name: 'echo', args: 1 })));
      return [frame, frame];
    });
    expect(reason?.code).toBe('decrypt_failed');
    expect(ran.length).toBeLessThanOrEqual(1);
  });

  it('an envelope of unknown shape', async () => {
    const { reason } = await expectClosedBy((peer) => [peer.seal(envelopeBytes(encodeValue([9, 1])))]);
    expect(reason?.code).toBe('protocol_error');
  });

  it('an envelope that is a map with a __proto__ key instead of an array', async () => {
    const { reason } = await expectClosedBy((peer) => [
      peer.seal(envelopeBytes(encodeValue({ ['__proto__']: [1], type: 1 } as never))),
    ]);
    expect(reason?.code).toBe('protocol_error');
    expect(({} as Record<string, unknown>).type).toBeUndefined();
  });

  it('nesting deeper than 64 levels', async () => {
    const deep = new Uint8Array(200).fill(0x81); // [[[[...
    const { reason, ran } = await expectClosedBy((peer) => [
      peer.seal(envelopeBytes(Uint8Array.of(0x83, 0x04, 0x64, 0x65, 0x63, 0x68, 0x6f, ...deep, 0x01))),
    ]);
    expect(reason?.code).toBe('protocol_error');
    expect(reason?.message).toMatch(/nesting deeper than 64 levels/);
    expect(ran).toEqual([]);
  });

  it('a declared envelope length above maxMessageBytes', async () => {
    const { reason } = await expectClosedBy((peer) => [peer.seal(Uint8Array.of(0x7f, 0xff, 0xff, 0xff))]);
    expect(reason?.code).toBe('message_too_large');
  });

  it('garbage that is not a Noise message at all', async () => {
    const { reason } = await expectClosedBy(() => [Uint8Array.of(0, 3, 1, 2, 3)]);
    expect(reason?.code).toBe('decrypt_failed');
  });

  it('a call id reused while the first call is still running', async () => {
    const [a, b] = await trustedPair();
    b.handlers.set('slow', { handler: () => new Promise(() => undefined) });
    const peer = await rawInitiator(a, b);
    const call = envelopeBytes(encodeEnvelope({ type: 1, id: 7, name: 'slow', args: null }));
    peer.raw.write(peer.seal(call));
    peer.raw.write(peer.seal(call));
    const reason = await peer.server.closed;
    expect(reason?.code).toBe('protocol_error');
    expect(reason?.message).toMatch(/already in progress/);
  });
});

describe('values that look dangerous are plain data', () => {
  it('delivers __proto__ and constructor keys as own data without polluting prototypes', async () => {
    const [a, b] = await trustedPair();
    let received: unknown;
    b.handlers.set('echo', { handler: (args) => ((received = args), args) });
    const peer = await rawInitiator(a, b);
    await peer.open();
    // Hand-encoded {"__proto__": {"polluted": true}, "constructor": 1}
    const args = encodeValue(JSON.parse('{"__proto__":{"polluted":true},"constructor":1}'));
    const call = new Uint8Array([0x84, 0x01, 0x01, 0x64, ...new TextEncoder().encode('echo'), ...args]);
    peer.raw.write(peer.seal(envelopeBytes(call)));
    await peer.open();
    expect(Object.getOwnPropertyNames(received)).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(received)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(peer.server.isOpen).toBe(true);
    await peer.server.close();
  });
});
