import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerNet } from 'peernet';
import { generateIdentity } from '@peernet/identity';
import type { Envelope } from '@peernet/frame';
import { RawPeer, closeAll, ensureOwnFileLimit, openIdle, type TargetStats } from '../src/index.js';
import { MiB, arena, eventually, tcpHandles, type Arena } from './harness.js';

// The stated bounds: the attacked node's RSS stays below its idle RSS plus these.
const IDLE_FLOOD_RSS_HEADROOM = 64 * MiB;
const CALL_FLOOD_RSS_HEADROOM = 64 * MiB;

const IDLE_CONNECTIONS = 2_000;
const CALLS_PER_SECOND = 10_000;
const CALL_FLOOD_MS = 5_000;
const SLOW_HANDLER_MS = 100;

let a: Arena;
let baselineRss: number;
let baselineTimers: number;

beforeAll(async () => {
  ensureOwnFileLimit(IDLE_CONNECTIONS + 1_024);
  a = await arena({ fileLimit: IDLE_CONNECTIONS + 1_024 });
  const stats = await a.target.stats(true);
  baselineRss = stats.rss;
  baselineTimers = stats.resources.Timeout ?? 0;
}, 60_000);

afterAll(async () => {
  await a?.stop();
});

/** Waits until the node holds only its listener and the good peer's session, and its timers are back to idle. */
function released() {
  return eventually(
    () => a.target.stats(true),
    (s) => tcpHandles(s) === 2 && (s.resources.Timeout ?? 0) <= baselineTimers,
    30_000,
  );
}

/** Calls `echo` every `everyMs` from the good peer until `stop` resolves; resolves with every call's latency. */
async function keepCalling(stop: Promise<unknown>, everyMs = 100): Promise<number[]> {
  let done = false;
  void stop.then(() => (done = true));
  const latencies: number[] = [];
  while (!done) {
    const started = performance.now();
    await expect(a.goodCall(latencies.length)).resolves.toBe(latencies.length);
    latencies.push(performance.now() - started);
    await Promise.race([stop, new Promise((resolve) => setTimeout(resolve, everyMs))]);
  }
  return latencies;
}

describe('floods', () => {
  it(`${IDLE_CONNECTIONS} unauthenticated connections opened at once and left idle: a new peer still gets in, RSS stays under idle + ${IDLE_FLOOD_RSS_HEADROOM / MiB} MiB, all is released`, async () => {
    const sockets = await openIdle({ port: a.target.port }, IDLE_CONNECTIONS);
    const newcomerDir = await mkdtemp(join(tmpdir(), 'peernet-newcomer-'));
    const newcomer = await PeerNet.start({ dataDir: newcomerDir, host: '127.0.0.1', discovery: [], networkMonitor: false });
    try {
      // During the flood: the existing session works, and a peer that was not connected before connects and calls.
      const peak = await a.target.stats(true);
      await expect(a.goodCall()).resolves.toBe('still here');
      await newcomer.pair(a.target.id);
      await a.target.pair(newcomer.id, 'newcomer');
      await newcomer.connect(a.target.id, { host: '127.0.0.1', port: a.target.port });
      await expect(newcomer.call(a.target.id, 'echo', 'newcomer')).resolves.toBe('newcomer');
      // The node keeps at most maxPendingHandshakes (128) of them and drops the rest as it accepts them.
      const evictions = (s: TargetStats): number => s.warnings['too many handshakes in progress; evicted the oldest'] ?? 0;
      // Connections beyond the listen backlog wait in the kernel; count what the node accepted once that stops changing.
      const accepted = (s: TargetStats): number => evictions(s) + (s.warnings['inbound handshake failed (timeout)'] ?? 0) + tcpHandles(s) - 3;
      let seen = -1;
      let steady = 0;
      const during = await eventually(
        () => a.target.stats(true),
        (s) => {
          steady = accepted(s) === seen ? steady + 1 : 0;
          seen = accepted(s);
          return steady >= 25;
        },
      );
      const evicted = evictions(during);
      expect(accepted(during)).toBeGreaterThan(IDLE_CONNECTIONS / 2);
      expect(evicted).toBeGreaterThanOrEqual(accepted(during) - 128);
      const rssPeak = Math.max(peak.rss, during.rss);
      expect(rssPeak).toBeLessThan(baselineRss + IDLE_FLOOD_RSS_HEADROOM);
      expect(tcpHandles(during)).toBeLessThanOrEqual(2 + 1 + 128);
      console.log(
        `idle flood: ${IDLE_CONNECTIONS} connections, ${accepted(during)} reached the node, ${evicted} evicted at once, node RSS ${(baselineRss / MiB).toFixed(0)} MiB idle, ` +
          `${(rssPeak / MiB).toFixed(0)} MiB during (bound ${((baselineRss + IDLE_FLOOD_RSS_HEADROOM) / MiB).toFixed(0)} MiB), ` +
          `${tcpHandles(during)} TCP handles held`,
      );
    } finally {
      await newcomer.stop();
      await rm(newcomerDir, { recursive: true, force: true });
      await closeAll(sockets);
    }
    await released();
    await expect(a.goodCall()).resolves.toBe('still here');
  }, 120_000);

  it('100 paired peers each declaring a 16 MiB message and never sending it: the node reserves little until bytes arrive', async () => {
    // The decoder starts a declared body at 128 KiB at most and grows it as bytes arrive.
    const peers: RawPeer[] = [];
    try {
      for (let i = 0; i < 100; i++) {
        const identity = generateIdentity();
        await a.target.pair(identity.id, `declarer ${i}`);
        const peer = await RawPeer.connect({ port: a.target.port });
        peers.push(peer);
        const session = await peer.handshake({ identity });
        expect(await peer.accepted()).toBe(true);
        const header = new Uint8Array(4);
        new DataView(header.buffer).setUint32(0, 16 * MiB - 64);
        peer.write(session.seal(header));
      }
      const stats = await eventually(() => a.target.stats(true), (s) => s.online >= 101);
      expect(stats.rss).toBeLessThan(baselineRss + IDLE_FLOOD_RSS_HEADROOM);
      // Not even as counted ArrayBuffers (100 × 16 MiB would be 1.6 GiB).
      expect(stats.external).toBeLessThan(64 * MiB);
      await expect(a.goodCall()).resolves.toBe('still here');
      console.log(
        `declared messages: 100 sessions × 16 MiB declared; node RSS ${(stats.rss / MiB).toFixed(0)} MiB, ` +
          `external (ArrayBuffers) ${(stats.external / MiB).toFixed(0)} MiB`,
      );
    } finally {
      for (const peer of peers) peer.destroy();
    }
    await released();
  }, 120_000);

  it(`${CALLS_PER_SECOND} calls per second from one paired peer to a ${SLOW_HANDLER_MS} ms handler: the good peer's calls succeed, RSS stays under idle + ${CALL_FLOOD_RSS_HEADROOM / MiB} MiB, all is released`, async () => {
    await a.target.request({ op: 'resetStats' });
    const flooder = generateIdentity();
    await a.target.pair(flooder.id, 'flooder');
    const peer = await RawPeer.connect({ port: a.target.port });
    const session = await peer.handshake({ identity: flooder });
    expect(await peer.accepted()).toBe(true);

    let replies = 0;
    let reading = true;
    const reader = (async () => {
      while (reading) {
        const envelopes = await session.envelopes(60_000).catch(() => undefined);
        if (envelopes === undefined) break;
        replies += envelopes.length;
      }
    })();
    let sent = 0;
    let peakRss = 0;
    const started = performance.now();
    const flood = (async () => {
      // Each tick sends what the rate owes so far, packed as the node's own writer would pack it.
      while (performance.now() - started < CALL_FLOOD_MS) {
        const owed = Math.floor(((performance.now() - started) / 1000) * CALLS_PER_SECOND) - sent;
        if (owed > 0) {
          const calls: Envelope[] = [];
          for (let k = 0; k < owed; k++) calls.push({ type: 1, id: ++sent, name: 'slow', args: SLOW_HANDLER_MS });
          peer.write(session.sealEnvelopes(calls));
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const sampler = (async () => {
      while (performance.now() - started < CALL_FLOOD_MS) {
        peakRss = Math.max(peakRss, (await a.target.stats()).rss);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    const latencies = await keepCalling(flood);
    await sampler;
    const stats = await a.target.stats(true);
    peakRss = Math.max(peakRss, stats.rss);
    const elapsed = (performance.now() - started) / 1000;
    expect(sent / elapsed).toBeGreaterThan(CALLS_PER_SECOND * 0.8);
    expect(latencies.length).toBeGreaterThan(5);
    expect(stats.slowMaxInFlight).toBeLessThanOrEqual(256);
    expect(peakRss).toBeLessThan(baselineRss + CALL_FLOOD_RSS_HEADROOM);
    console.log(
      `call flood: ${sent} calls in ${elapsed.toFixed(1)} s (${(sent / elapsed).toFixed(0)}/s) to a ${SLOW_HANDLER_MS} ms handler; ` +
        `${replies} replies by then, at most ${stats.slowMaxInFlight} handlers at once; good peer: ${latencies.length} calls, ` +
        `max latency ${Math.max(...latencies).toFixed(0)} ms; node RSS ${(baselineRss / MiB).toFixed(0)} MiB idle, peak ` +
        `${(peakRss / MiB).toFixed(0)} MiB (bound ${((baselineRss + CALL_FLOOD_RSS_HEADROOM) / MiB).toFixed(0)} MiB)`,
    );
    reading = false;
    peer.destroy();
    await reader;
    const after = await released();
    expect(after.slowInFlight).toBe(0);
    await expect(a.goodCall()).resolves.toBe('still here');
  }, 120_000);
});
