// Pairing sessions (docs/pairing.md): the initiator asks for one in its
// handshake payload; a responder admits it only if its `admit` says so, and
// then serves only the pairing handlers, no streams and small envelopes.
import { Connection, PAIRING_MAX_MESSAGE_BYTES, type ExposedHandler } from '@peernet/connection';
import type { PeerId } from '@peernet/interface';
import { pairBoth, party, socketPair, type Party } from './helpers.js';

const echo: ExposedHandler = { handler: (args) => args };

async function open(a: Party, b: Party, admit: ((peer: PeerId) => boolean) | undefined, request = true) {
  const [one, two] = await socketPair();
  b.handlers.set('app', { handler: () => 'application' });
  const pairingHandlers = new Map([['pair', echo]]);
  const client = new Connection({
    stream: one, identity: a.identity, trust: a.trust, initiator: true, expectedPeer: b.identity.id,
    ...(request ? { pairing: { request: true } } : {}),
  });
  const server = new Connection({
    stream: two, identity: b.identity, trust: b.trust, handlers: b.handlers, initiator: false,
    streamHandlers: new Map([['files', { handler: (stream) => void stream.end() }]]),
    ...(admit ? { pairing: { admit, handlers: pairingHandlers } } : {}),
  });
  const [c, s] = await Promise.allSettled([client.ready, server.ready]);
  return { client, server, c, s };
}

describe('pairing sessions', () => {
  it('a stranger asking to pair is admitted when admit says so, and both sides know it is a pairing session', async () => {
    const [a, b] = [party(), party()];
    const asked: string[] = [];
    const { client, server } = await open(a, b, (peer) => (asked.push(peer.toString()), true));
    expect(asked).toEqual([a.identity.id.toString()]);
    expect([client.purpose, server.purpose]).toEqual(['pairing', 'pairing']);
    expect(client.handshakeHash).toEqual(server.handshakeHash);
    expect(client.handshakeHash).toHaveLength(32);
    expect(await client.call('pair', { hello: 1 })).toEqual({ hello: 1 });
    // Not the application's handlers, nor its streams.
    await expect(client.call('app')).rejects.toMatchObject({ code: 'no_such_handle' });
    await expect(client.openStream('files')).rejects.toMatchObject({ code: 'no_such_handle' });
    // The joiner's side serves nothing either.
    await expect(server.call('pair')).rejects.toMatchObject({ code: 'no_such_handle' });
    await client.close();
  });

  it('caps envelopes at PAIRING_MAX_MESSAGE_BYTES', async () => {
    const { client, server } = await open(party(), party(), () => true);
    expect(await client.call('pair', new Uint8Array(PAIRING_MAX_MESSAGE_BYTES - 64))).toHaveLength(PAIRING_MAX_MESSAGE_BYTES - 64);
    await expect(client.call('pair', new Uint8Array(PAIRING_MAX_MESSAGE_BYTES))).rejects.toMatchObject({ code: 'connection_closed' });
    expect(await server.closed).toMatchObject({ code: 'message_too_large' });
  });

  it('is refused when admit says no, or when the responder has no pairing at all', async () => {
    for (const admit of [() => false, undefined]) {
      const { c, s } = await open(party(), party(), admit);
      expect(c).toMatchObject({ status: 'rejected', reason: { code: 'refused_by_peer' } });
      expect(s).toMatchObject({ status: 'rejected', reason: { code: 'untrusted_peer' } });
    }
  });

  it('a paired peer that asks to pair still gets a pairing session, never the application', async () => {
    const [a, b] = [party(), party()];
    await pairBoth(a, b);
    const { client, server } = await open(a, b, () => true);
    expect(server.purpose).toBe('pairing');
    await expect(client.call('app')).rejects.toMatchObject({ code: 'no_such_handle' });
    await client.close();
  });

  it('a dial that does not ask to pair is a session as before: trust decides, admit is never asked', async () => {
    const [a, b] = [party(), party()];
    let asked = 0;
    await a.trust.add(b.identity.id); // the dialler trusts b; b has not paired a
    const refused = await open(a, b, () => (asked++, true), false);
    expect(refused.s).toMatchObject({ status: 'rejected', reason: { code: 'untrusted_peer' } });
    await b.trust.add(a.identity.id);
    const { client, server } = await open(a, b, () => (asked++, true), false);
    expect([client.purpose, server.purpose]).toEqual(['session', 'session']);
    expect(await client.call('app')).toBe('application');
    expect(asked).toBe(0);
    await client.close();
  });
});
