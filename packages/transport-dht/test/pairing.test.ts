// Pairing by invite over the DHT alone (no LAN discovery): the joiner finds
// the inviter at the code's meeting point, or by the id in the URI; the
// inviter's firewall lets strangers through only while an invite is open.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { DIAGNOSTICS_CHANNELS } from '@peernet/interface';
import { rejection } from '@peernet/compliance';
import { describeInNetns, dhtNodes, localDht } from './helpers.js';

jest.setTimeout(90_000);

describeInNetns('pairing over the DHT', () => {
  let network: Awaited<ReturnType<typeof localDht>>;
  const kit = dhtNodes(() => network.bootstrap);

  beforeAll(async () => {
    network = await localDht();
  });
  afterEach(() => kit.stopAll());
  afterAll(async () => {
    await network.destroy();
    kit.removeDirs();
  });

  it('a joiner with only the code finds the inviter at the meeting point, pairs, and calls it over the DHT', async () => {
    const [inviter, joiner] = [await kit.start(), await kit.start()];
    inviter.expose('whoami', (_args, { peer }) => peer.toString());
    const invite = await inviter.invite({ label: 'phone' });
    const joined = await joiner.join(invite.code, { timeoutMs: 30_000 });
    expect(joined.peer.equals(inviter.id)).toBe(true);
    expect((await invite.paired).peer.equals(joiner.id)).toBe(true);
    expect(await invite.sas).toBe(joined.sas);
    await joiner.waitForPeer(inviter.id, { timeoutMs: 20_000 });
    expect(await joiner.call(inviter.id, 'whoami')).toBe(joiner.id.toString());
    expect(joiner.listPeers()[0]).toMatchObject({ status: 'online', transport: 'dht' });
  });

  it('a joiner with the URI dials the inviter by id and pairs', async () => {
    const [inviter, joiner] = [await kit.start(), await kit.start()];
    const invite = await inviter.invite();
    const joined = await joiner.join(invite.uri, { timeoutMs: 30_000 });
    expect(joined.peer.equals(inviter.id)).toBe(true);
    expect((await invite.paired).peer.equals(joiner.id)).toBe(true);
  });

  it('a wrong code burns the invite; once it is closed the firewall refuses strangers again', async () => {
    const [inviter, joiner] = [await kit.start(), await kit.start()];
    const invite = await inviter.invite();
    // The last word replaced by another code word: the same number, a wrong secret.
    const wrong = invite.code.replace(/-[a-z]+$/, (last) => (last === '-zebra' ? '-zero' : '-zebra'));
    const failed = await rejection(joiner.join(wrong, { timeoutMs: 30_000 }));
    expect(failed).toMatchObject({ code: 'pairing_failed' });
    expect(await rejection(invite.paired)).toMatchObject({ code: 'invite_closed', reason: 'burned' });
    const refusals: Array<{ reason?: string }> = [];
    const onRefused = (message: unknown): void => void refusals.push(message as { reason?: string });
    subscribe(DIAGNOSTICS_CHANNELS.handshakeRefused, onRefused);
    try {
      expect(await rejection(joiner.join(invite.uri, { timeoutMs: 5_000 }))).toMatchObject({ code: 'inviter_not_found' });
      expect(refusals.some((r) => r.reason === 'dht firewall: not paired')).toBe(true);
    } finally {
      unsubscribe(DIAGNOSTICS_CHANNELS.handshakeRefused, onRefused);
    }
    expect(inviter.listPeers()).toEqual([]);
    expect(joiner.listPeers()).toEqual([]);
  });
});
