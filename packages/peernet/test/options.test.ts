import { readdir } from 'node:fs/promises';
import { FakeClock } from '@peernet/compliance';
import { PeerNet } from 'peernet';
import { cleanup, connected, nextEvent, startNode, tempDir } from './helpers.js';

afterEach(cleanup);

describe('PeerNet.start options', () => {
  it.each([
    [{ callTimeoutMs: -1 }, 'PeerNet.start option callTimeoutMs must be a number from 1 to 2147483647, got -1'],
    [{ port: 70_000 }, 'PeerNet.start option port must be an integer from 0 to 65535, got 70000'],
    [{ maxPendingHandshakes: 0 }, 'PeerNet.start option maxPendingHandshakes must be an integer of at least 1, got 0'],
    [{ interfaces: 'eth0' }, 'PeerNet.start option interfaces must be an array'],
    [{ liveness: { intervalMs: 0 } }, 'PeerNet.start liveness option intervalMs must be a number from 1 to 2147483647, got 0'],
    [{ dialing: { maxParallel: 1.5 } }, 'PeerNet.start dialing option maxParallel must be an integer of at least 1, got 1.5'],
    [{ reconnect: { jitter: 2 } }, 'PeerNet.start reconnect option jitter must be a number from 0 to 1, got 2'],
    [{ networkMonitor: { intervalMs: -5 } }, 'PeerNet.start networkMonitor option intervalMs must be a number from 1 to 2147483647, got -5'],
    [{ clock: { now: () => 0 } }, 'PeerNet.start option clock must have a setTimeout() method'],
    [{ logger: 'console' }, 'PeerNet.start option logger must be an object, got "console"'],
  ])('refuses %j before writing anything, naming the option', async (bad, message) => {
    const dataDir = await tempDir();
    await expect(PeerNet.start({ dataDir, ...(bad as object) })).rejects.toMatchObject({ code: 'invalid_argument', message });
    expect(await readdir(dataDir)).toEqual([]);
  });

  it('names a missing dataDir', async () => {
    await expect(PeerNet.start({} as never)).rejects.toMatchObject({
      code: 'invalid_argument',
      message: expect.stringMatching(/^PeerNet\.start option dataDir is required/),
    });
  });

  it('one clock drives the node: the reconnect backoff waits on the clock it was given', async () => {
    const clock = new FakeClock();
    const a = await startNode({ clock, networkMonitor: false, reconnect: { initialMs: 1_000, jitter: 0 } });
    const bDir = await tempDir();
    const b = await startNode({ dataDir: bDir });
    await connected(a, b);
    const port = b.port;
    const offline = nextEvent(a, 'peer:offline');
    await b.stop();
    await offline;
    const b2 = await startNode({ dataDir: bDir, port });
    const status = (): string | undefined => a.listPeers()[0]?.status;
    await clock.advance(999);
    expect(status()).toBe('offline'); // no dial yet, however long real time has passed
    const online = nextEvent(a, 'peer:online');
    await clock.advance(1);
    expect(status()).toBe('connecting');
    const [peer] = await online;
    expect(peer.equals(b2.id)).toBe(true);
  });
});
