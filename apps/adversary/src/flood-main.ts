// `pnpm --filter @peernet/adversary flood [--connections 2000] [--rate 10000] [--duration 60s] [--handler-ms 100]`:
// the long flood. A node in its own process takes a burst of idle
// unauthenticated connections, then a call flood from one paired peer, while a
// well-behaved peer keeps calling; prints the node's RSS, what it kept, and
// the good peer's latencies.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerNet } from 'peernet';
import { generateIdentity } from '@peernet/identity';
import type { Envelope } from '@peernet/frame';
import { RawPeer } from './raw-peer.js';
import { closeAll, openIdle } from './flood.js';
import { Target, ensureOwnFileLimit } from './target.js';

const args = process.argv.slice(2);
const option = (flag: string, fallback: string): string => {
  const i = args.indexOf(flag);
  return (i >= 0 ? args[i + 1] : undefined) ?? fallback;
};
const seconds = (text: string): number => {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (!match) throw new Error(`not a duration: ${text}`);
  return Number(match[1]) * { ms: 0.001, s: 1, m: 60 }[(match[2] ?? 's') as 'ms' | 's' | 'm'];
};
const connections = Number(option('--connections', '2000'));
const rate = Number(option('--rate', '10000'));
const durationMs = seconds(option('--duration', '60s')) * 1000;
const handlerMs = Number(option('--handler-ms', '100'));
const MiB = 1024 * 1024;
const mib = (bytes: number): string => `${(bytes / MiB).toFixed(0)} MiB`;

ensureOwnFileLimit(connections + 1024);
const target = await Target.spawn({ fileLimit: connections + 1024 });
const goodDir = mkdtempSync(join(tmpdir(), 'peernet-flood-good-'));
const good = await PeerNet.start({ dataDir: goodDir, host: '127.0.0.1', discovery: [], networkMonitor: false });
try {
  await good.pair(target.id);
  await target.pair(good.id);
  await good.connect(target.id, { host: '127.0.0.1', port: target.port });
  const idle = await target.stats(true);
  console.log(`node idle: RSS ${mib(idle.rss)}, heap ${mib(idle.heapUsed)}`);

  // 1. Idle unauthenticated connections, all at once.
  const sockets = await openIdle({ port: target.port }, connections);
  let peak = 0;
  for (let i = 0; i < 30; i++) {
    peak = Math.max(peak, (await target.stats()).rss);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const during = await target.stats(true);
  const started = performance.now();
  await good.call(target.id, 'echo', 'during the idle flood');
  console.log(
    `idle flood: ${connections} connections; node evicted ${during.warnings['too many handshakes in progress; evicted the oldest'] ?? 0}, ` +
      `holds ${during.resources.TCPSocketWrap ?? 0} sockets; RSS peak ${mib(Math.max(peak, during.rss))}; ` +
      `good peer's call ${(performance.now() - started).toFixed(0)} ms`,
  );
  await closeAll(sockets);

  // 2. A paired peer calling a slow handler at `rate` calls per second.
  const flooder = generateIdentity();
  await target.pair(flooder.id);
  await target.request({ op: 'resetStats' });
  const peer = await RawPeer.connect({ port: target.port });
  const session = await peer.handshake({ identity: flooder });
  if (!(await peer.accepted())) throw new Error('the flooder was refused');
  let replies = 0;
  let reading = true;
  // A flooder that answers pings, so liveness keeps its session open.
  void (async () => {
    while (reading) {
      const envelopes = await session.envelopes(60_000).catch(() => undefined);
      if (envelopes === undefined) break;
      for (const envelope of envelopes) {
        if (envelope.type === 5) peer.write(session.sealEnvelopes([{ type: 6, nonce: envelope.nonce }]));
        else replies++;
      }
    }
  })();
  let sent = 0;
  let rssPeak = 0;
  const latencies: number[] = [];
  let failures = 0;
  const t0 = performance.now();
  let lastPrint = t0;
  let cutAfter: number | undefined;
  while (performance.now() - t0 < durationMs) {
    if (peer.ended && cutAfter === undefined) cutAfter = (performance.now() - t0) / 1000;
    const owed = Math.floor(((performance.now() - t0) / 1000) * rate) - sent;
    if (owed > 0 && !peer.ended) {
      const calls: Envelope[] = [];
      for (let k = 0; k < owed; k++) calls.push({ type: 1, id: ++sent, name: 'slow', args: handlerMs });
      peer.write(session.sealEnvelopes(calls));
    }
    if (latencies.length < (performance.now() - t0) / 100) {
      const callStarted = performance.now();
      void good.call(target.id, 'echo', 1, { timeoutMs: 20_000 }).then(
        () => latencies.push(performance.now() - callStarted),
        () => failures++,
      );
    }
    if (performance.now() - lastPrint > 5_000) {
      lastPrint = performance.now();
      const s = await target.stats();
      rssPeak = Math.max(rssPeak, s.rss);
      console.log(
        `  ${((lastPrint - t0) / 1000).toFixed(0)} s: ${sent} calls sent, ${replies} replies, ${s.slowInFlight} handlers running, RSS ${mib(s.rss)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const end = await target.stats(true);
  rssPeak = Math.max(rssPeak, end.rss);
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((x, y) => x - y);
  const pct = (p: number): string => (latencies[Math.floor((latencies.length - 1) * p)] ?? NaN).toFixed(0);
  console.log(
    `call flood: ${sent} calls in ${elapsed.toFixed(1)} s (${(sent / elapsed).toFixed(0)}/s) to a ${handlerMs} ms handler; ` +
      `${replies} replies (${(replies / elapsed).toFixed(0)}/s); at most ${end.slowMaxInFlight} handlers at once; RSS peak ${mib(rssPeak)}`,
  );
  console.log(
    cutAfter === undefined
      ? 'the flooder kept its session to the end'
      : `the node closed the flooder's session after ${cutAfter.toFixed(1)} s (liveness: its pongs were queued behind its own unread calls)`,
  );
  console.log(
    `good peer: ${latencies.length} calls returned, ${failures} failed; latency p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${pct(1)} ms`,
  );
  reading = false;
  peer.destroy();
  let after = await target.stats(true);
  for (let i = 0; i < 100 && (after.resources.TCPSocketWrap ?? 0) > 1; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    after = await target.stats(true);
  }
  console.log(`after: node holds ${after.resources.TCPSocketWrap ?? 0} sockets, ${after.resources.Timeout ?? 0} timers; RSS ${mib(after.rss)}, heap ${mib(after.heapUsed)}`);
} finally {
  await good.stop();
  await target.stop();
  rmSync(goodDir, { recursive: true, force: true });
}
