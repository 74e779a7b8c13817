import { getEventListeners } from 'node:events';
import { PeerId, systemClock, type Clock } from 'peernet';
import { cleanup, connected, rejection, startNode } from './helpers.js';

afterEach(cleanup);

/** The real clock, counting the timers armed through it that have neither fired nor been cleared. */
function countingClock(): { clock: Clock; pending: Set<unknown> } {
  const pending = new Set<unknown>();
  const clock: Clock = {
    now: () => systemClock.now(),
    setTimeout: (callback, ms) => {
      const handle = systemClock.setTimeout(() => {
        pending.delete(handle);
        callback();
      }, ms);
      pending.add(handle);
      return handle;
    },
    clearTimeout: (handle) => {
      pending.delete(handle);
      systemClock.clearTimeout(handle);
    },
  };
  return { clock, pending };
}

/** A paired id that nobody runs: no address is known for it, so nothing dials it. */
const nobody = PeerId.fromBytes(new Uint8Array(32).fill(9));

describe('waitForPeer', () => {
  it('resolves at once when the session is already up', async () => {
    const a = await startNode();
    const b = await startNode();
    await connected(a, b);
    // A 1 ms budget: only an answer that needs no waiting fits in it.
    await expect(a.waitForPeer(b.id, { timeoutMs: 1 })).resolves.toBeUndefined();
    await expect(b.waitForPeer(a.id.toString(), { timeoutMs: 1 })).resolves.toBeUndefined();
  });

  it('resolves when the peer dials in later', async () => {
    const a = await startNode();
    const b = await startNode();
    await a.pair(b.id);
    await b.pair(a.id);
    const waiting = a.waitForPeer(b.id, { timeoutMs: 5_000 });
    await b.connect(a.id, { host: '127.0.0.1', port: a.port });
    await waiting;
    expect(a.isConnected(b.id)).toBe(true);
  });

  it('rejects with timeout after timeoutMs, saying when no address is known', async () => {
    const a = await startNode();
    await a.pair(nobody);
    const started = Date.now();
    const error = await rejection(a.waitForPeer(nobody, { timeoutMs: 50 }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
    expect(error).toMatchObject({ code: 'timeout', message: expect.stringMatching(/within 50 ms \(no address is known/) });
  });

  it('rejects with aborted when the signal fires, or has already fired', async () => {
    const a = await startNode();
    await a.pair(nobody);
    const controller = new AbortController();
    const waiting = rejection(a.waitForPeer(nobody, { signal: controller.signal }));
    controller.abort();
    expect(await waiting).toMatchObject({ code: 'aborted' });
    expect(await rejection(a.waitForPeer(nobody, { signal: controller.signal }))).toMatchObject({ code: 'aborted' });
  });

  it('rejects with untrusted_peer for a peer that is not paired, or is unpaired during the wait', async () => {
    const a = await startNode();
    expect(await rejection(a.waitForPeer(nobody))).toMatchObject({ code: 'untrusted_peer', message: expect.stringContaining('pair it') });
    await a.pair(nobody);
    const waiting = rejection(a.waitForPeer(nobody));
    await a.unpair(nobody);
    expect(await waiting).toMatchObject({ code: 'untrusted_peer' });
  });

  it('rejects with not_connected when the node stops during the wait, and after', async () => {
    const a = await startNode();
    await a.pair(nobody);
    const waiting = rejection(a.waitForPeer(nobody));
    await a.stop();
    expect(await waiting).toMatchObject({ code: 'not_connected' });
    expect(await rejection(a.waitForPeer(nobody))).toMatchObject({ code: 'not_connected' });
  });

  it('rejects bad arguments with a typed error rather than throwing', async () => {
    const a = await startNode();
    await a.pair(nobody);
    expect(await rejection(a.waitForPeer('not an id'))).toMatchObject({ code: 'invalid_peer_id' });
    expect(await rejection(a.waitForPeer(nobody, { timeoutMs: 0 }))).toMatchObject({
      code: 'invalid_argument',
      message: expect.stringContaining('waitForPeer option timeoutMs'),
    });
  });

  it('leaves no timer and no abort listener behind, however it ends', async () => {
    const { clock, pending } = countingClock();
    const a = await startNode({ clock, liveness: false, networkMonitor: false });
    const b = await startNode();
    await a.pair(nobody);
    const idle = pending.size;

    const aborted = new AbortController();
    const waiting = rejection(a.waitForPeer(nobody, { timeoutMs: 60_000, signal: aborted.signal }));
    expect(pending.size).toBe(idle + 1);
    expect(getEventListeners(aborted.signal, 'abort')).toHaveLength(1);
    aborted.abort();
    expect(await waiting).toMatchObject({ code: 'aborted' });
    expect(pending.size).toBe(idle);
    expect(getEventListeners(aborted.signal, 'abort')).toHaveLength(0);

    const timedOut = new AbortController();
    await rejection(a.waitForPeer(nobody, { timeoutMs: 20, signal: timedOut.signal }));
    expect(pending.size).toBe(idle);
    expect(getEventListeners(timedOut.signal, 'abort')).toHaveLength(0);

    const unpaired = new AbortController();
    const dropped = rejection(a.waitForPeer(nobody, { signal: unpaired.signal }));
    await a.unpair(nobody);
    expect(await dropped).toMatchObject({ code: 'untrusted_peer' });
    expect(pending.size).toBe(idle);
    expect(getEventListeners(unpaired.signal, 'abort')).toHaveLength(0);

    const online = new AbortController();
    await a.pair(b.id);
    await b.pair(a.id);
    const resolved = a.waitForPeer(b.id, { timeoutMs: 60_000, signal: online.signal });
    await b.connect(a.id, { host: '127.0.0.1', port: a.port });
    await resolved;
    expect(pending.size).toBe(idle);
    expect(getEventListeners(online.signal, 'abort')).toHaveLength(0);
  });
});
