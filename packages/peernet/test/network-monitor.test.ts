// The network monitor is pluggable: a monitor of the test's own reports
// changes, and the node reacts as it does to the polling one's.
import { EventEmitter } from 'node:events';
import { Waiters } from '@peernet/compliance';
import type { Discovery, NetworkChange, NetworkMonitor } from 'peernet';
import { cleanup, connected, nextEvent, startNode, tempDir } from './helpers.js';

afterEach(cleanup);

/** A monitor the test triggers by hand, as a platform's change notifications would. */
class HandMonitor implements NetworkMonitor {
  watching = 0;
  stopped = 0;
  #onChange: ((change: NetworkChange) => void) | undefined;
  watch(onChange: (change: NetworkChange) => void): { stop(): void } {
    this.watching++;
    this.#onChange = onChange;
    return {
      stop: () => {
        this.stopped++;
        this.#onChange = undefined;
      },
    };
  }
  change(change: NetworkChange): void {
    this.#onChange?.(change);
  }
}

/** A discovery that finds nobody and records what the node announces. */
class AnnounceLog extends EventEmitter implements Discovery {
  readonly name = 'announce-log';
  readonly ports: number[] = [];
  readonly waiters = new Waiters();
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async announce({ port }: { port: number }): Promise<void> {
    this.ports.push(port);
    this.waiters.wake();
  }
  /** Resolves once `n` announcements were made. */
  count(n: number): Promise<number> {
    return this.waiters.until(() => (this.ports.length >= n ? this.ports.length : undefined), 5_000, `${n} announcements`);
  }
}

// A reconnect wait far longer than any test here: a redial within it comes from the network change.
const slowReconnect = { initialMs: 60_000, maxMs: 60_000 };
const vanished: NetworkChange = { added: ['eth0/IPv4/10.0.0.2/255.255.255.0'], removed: ['eth0/IPv4/10.0.0.1/255.255.255.0'] };
const appeared: NetworkChange = { added: ['wlan0/IPv4/192.168.1.5/255.255.255.0'], removed: [] };

describe('a network monitor of its own', () => {
  it('a vanished address drops the sessions, and the node re-announces and redials at once', async () => {
    const monitor = new HandMonitor();
    const announcements = new AnnounceLog();
    const a = await startNode({ networkMonitor: monitor, discovery: [announcements], reconnect: slowReconnect });
    const b = await startNode();
    b.expose('echo', (x) => x);
    expect(monitor.watching).toBe(1);
    expect(announcements.ports).toEqual([a.port]);
    await connected(a, b);
    const offline = nextEvent(a, 'peer:offline');
    const online = nextEvent(a, 'peer:online');
    monitor.change(vanished);
    const [gone, reason] = await offline;
    expect(gone.equals(b.id)).toBe(true);
    expect(reason).toMatchObject({ code: 'connection_closed', message: expect.stringMatching(/local address went away/) });
    const [back] = await online;
    expect(back.equals(b.id)).toBe(true);
    await announcements.count(2);
    expect(announcements.ports).toEqual([a.port, a.port]);
    await expect(a.call(b.id, 'echo', 'after the change')).resolves.toBe('after the change');
    await a.stop();
    expect(monitor.stopped).toBe(1);
  });

  it('an address that only appeared keeps the sessions, re-announces, and redials the peers that are offline', async () => {
    const monitor = new HandMonitor();
    const announcements = new AnnounceLog();
    const a = await startNode({ networkMonitor: monitor, discovery: [announcements], reconnect: slowReconnect });
    const b = await startNode();
    const cDir = await tempDir();
    const c = await startNode({ dataDir: cDir });
    await connected(a, b);
    await connected(a, c);
    const cPort = c.port;
    const cOffline = nextEvent(a, 'peer:offline');
    await c.stop();
    await cOffline;
    // c is back on its address, but a would wait a minute before trying it again.
    const c2 = await startNode({ dataDir: cDir, port: cPort });
    expect(a.listPeers().find((p) => p.id.equals(c2.id))?.status).toBe('offline');
    let offline = 0;
    a.on('peer:offline', () => offline++);
    const cOnline = nextEvent(a, 'peer:online');
    monitor.change(appeared);
    const [peer] = await cOnline;
    expect(peer.equals(c2.id)).toBe(true);
    await announcements.count(2);
    expect(offline).toBe(0);
    expect(a.isConnected(b.id)).toBe(true);
  });

  it('refuses a monitor without a watch() method', async () => {
    await expect(startNode({ networkMonitor: { watch: 1 } as never })).rejects.toMatchObject({
      code: 'invalid_argument',
      message: 'PeerNet.start option networkMonitor must have a watch() method',
    });
  });
});
