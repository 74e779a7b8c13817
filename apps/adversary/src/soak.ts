import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PendingReplies } from './pending-replies.js';
import type { SoakCommand, SoakNodeReport } from './soak-protocol.js';

/** Options of `runSoak`. */
export interface SoakOptions {
  /** How long the random workload and disruptions run (the checks after take a few seconds more). */
  durationMs: number;
  /** Nodes (default 5). The first two are never restarted: their memory is the flatness measure. */
  nodes?: number;
  /** Workload tick of each node (default 10 ms: one random call or send per tick). */
  everyMs?: number;
  /** Mean time between disruptions (default 1500 ms). */
  disruptEveryMs?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** What a soak run found. `violations` is empty when every promise held. */
export interface SoakReport {
  durationMs: number;
  nodes: number;
  disruptions: { cuts: number; kills: number; restarts: number };
  calls: { started: number; resolved: number; rejected: Record<string, number>; untyped: number; hung: number };
  sends: { attempted: number; resolved: number; notConnected: number; otherFailures: Record<string, number> };
  streams: { checked: number; bad: number; confirmedChecked: number; confirmedMissing: number };
  /** Heap after GC of the never-restarted nodes: early in the run and at the end, bytes. */
  memory: { instance: string; earlyHeap: number; finalHeap: number; finalRss: number }[];
  /** Handles of each node when all sessions were up, and after stop. */
  handles: { instance: string; running: Record<string, number>; afterStop: Record<string, number> }[];
  violations: string[];
}

const here = dirname(fileURLToPath(import.meta.url));
const CALL_TIMEOUT_MS = 3_000;
const FINAL_SENDS = 50;
// Heap growth (after GC) of a long-lived node, between a quarter into the run and its end, that counts as a leak.
export const MAX_HEAP_GROWTH = 16 * 1024 * 1024;

function nodeScript(): string {
  const script = join(here, '..', 'dist', 'soak-node.js');
  if (!existsSync(script)) throw new Error(`${script} is missing: build first (pnpm turbo run build --filter @peernet/adversary...)`);
  return script;
}

/** A node process of the soak run. */
class SoakNode {
  readonly index: number;
  readonly dataDir: string;
  id = '';
  port = 0;
  instance = '';
  child: ChildProcess | undefined;
  readonly #replies = new PendingReplies();
  #lives = 0;

  constructor(index: number, dataDir: string) {
    this.index = index;
    this.dataDir = dataDir;
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    this.instance = `n${this.index}.${++this.#lives}`;
    const config = { dataDir: this.dataDir, port: this.port, instance: this.instance, callTimeoutMs: CALL_TIMEOUT_MS };
    // The node opens no TLS connection; without this variable its start skips parsing a CA bundle.
    const { NODE_EXTRA_CA_CERTS: _unused, ...env } = process.env;
    const child = spawn(process.execPath, ['--expose-gc', nodeScript(), JSON.stringify(config)], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env,
    });
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-4096)));
    child.on('message', (message: { seq?: number; ok?: boolean; result?: unknown; error?: string }) => {
      if (message.seq === undefined) return;
      this.#replies.settle(message.seq, message.result, message.ok ? undefined : new Error(message.error));
    });
    child.once('exit', (code, signal) => this.#replies.rejectAll(new Error(`${this.instance} exited (${signal ?? code}): ${stderr}`)));
    const ready = await new Promise<{ id: string; port: number }>((resolve, reject) => {
      child.once('exit', (code, signal) => reject(new Error(`${this.instance} exited (${signal ?? code}) before it was ready: ${stderr}`)));
      child.on('message', (message: { ready?: { id: string; port: number } }) => {
        if (message.ready) resolve(message.ready);
      });
    });
    if (this.id !== '' && this.id !== ready.id) throw new Error(`${this.instance} came back as ${ready.id}, not ${this.id}`);
    this.id = ready.id;
    this.port = ready.port;
  }

  request<T>(command: SoakCommand, timeoutMs = 60_000): Promise<T> {
    const child = this.child;
    if (!child || !this.alive) return Promise.reject(new Error(`${this.instance} is not running`));
    return this.#replies.request<T>(
      (seq) => child.send({ seq, command }),
      timeoutMs,
      () => new Error(`${this.instance} did not answer '${command.op}' within ${timeoutMs} ms`),
    );
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  /** Stops the node gracefully and returns its last report. */
  async stop(): Promise<SoakNodeReport> {
    const child = this.child as ChildProcess;
    const exited = once(child, 'exit');
    const report = await this.request<SoakNodeReport>({ op: 'stop' });
    child.disconnect();
    await exited;
    return report;
  }
}

/**
 * A TCP relay in front of one node: every dial to the node goes through it,
 * so the run can cut live sessions at random, as a flaky network would.
 */
class ChaosProxy {
  readonly #server: Server;
  readonly #pairs = new Set<[Socket, Socket]>();
  target: number;

  private constructor(server: Server, target: number) {
    this.#server = server;
    this.target = target;
    server.on('connection', (inbound: Socket) => {
      const outbound = connect({ host: '127.0.0.1', port: this.target });
      const pair: [Socket, Socket] = [inbound, outbound];
      this.#pairs.add(pair);
      const end = (): void => {
        inbound.destroy();
        outbound.destroy();
        this.#pairs.delete(pair);
      };
      for (const socket of pair) {
        socket.setNoDelay(true);
        socket.on('error', end);
        socket.on('close', end);
      }
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
  }

  static async listen(target: number): Promise<ChaosProxy> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new ChaosProxy(server, target);
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  get live(): number {
    return this.#pairs.size;
  }

  /** Cuts one live connection at random (both ends reset). Returns whether there was one. */
  cutOne(): boolean {
    const pairs = [...this.#pairs];
    const pair = pairs[Math.floor(Math.random() * pairs.length)];
    if (!pair) return false;
    for (const socket of pair) socket.resetAndDestroy();
    this.#pairs.delete(pair);
    return true;
  }

  async close(): Promise<void> {
    for (const pair of this.#pairs) for (const socket of pair) socket.destroy();
    this.#pairs.clear();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `nodes` PeerNet nodes in their own processes, all paired, for
 * `durationMs` of random calls and sends, with sessions cut at random and
 * nodes killed (SIGKILL) or restarted at random; then checks that every call
 * settled with a typed error or a result, that every send stream arrived in
 * order without gaps or duplicates (and completely up to each confirming
 * call), that no socket or timer was left behind, and measures memory.
 */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const count = options.nodes ?? 5;
  const everyMs = options.everyMs ?? 10;
  const disruptEveryMs = options.disruptEveryMs ?? 1_500;
  const log = options.log ?? (() => undefined);
  const root = mkdtempSync(join(tmpdir(), 'peernet-soak-'));
  const nodes = Array.from({ length: count }, (_, i) => new SoakNode(i, join(root, `node-${i}`)));
  const proxies: ChaosProxy[] = [];
  const violations: string[] = [];
  const reports: SoakNodeReport[] = [];
  const disruptions = { cuts: 0, kills: 0, restarts: 0 };
  const early = new Map<string, number>();
  const late = new Map<string, SoakNodeReport>();
  const handles: SoakReport['handles'] = [];
  const started = Date.now();
  try {
    await Promise.all(nodes.map((n) => n.start()));
    for (const n of nodes) proxies.push(await ChaosProxy.listen(n.port));
    const ids = nodes.map((n) => n.id);
    await Promise.all(nodes.map((n) => n.request({ op: 'pair', peers: ids.filter((id) => id !== n.id) })));

    // Each node dials only the nodes after it, always through their relay: one session per pair, one dialler.
    const dialOut = async (n: SoakNode): Promise<void> => {
      for (const m of nodes.slice(n.index + 1)) await n.request({ op: 'connect', peer: m.id, port: proxies[m.index]!.port });
    };
    const begin = (n: SoakNode): Promise<unknown> =>
      n.request({ op: 'start', peers: ids.filter((id) => id !== n.id), everyMs });
    const allOnline = async (timeoutMs: number): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const online = await Promise.all(nodes.map((n) => n.request<SoakNodeReport>({ op: 'report' }).then((r) => r.online)));
        if (online.every((o) => o === count - 1)) return;
        if (Date.now() > deadline) throw new Error(`sessions did not all come up within ${timeoutMs} ms (online per node: ${online.join(', ')})`);
        await sleep(200);
      }
    };
    await Promise.all(nodes.map(dialOut));
    await allOnline(30_000);
    await Promise.all(nodes.map(begin));
    log(`${count} nodes up and paired; workload and disruptions for ${(options.durationMs / 1000).toFixed(0)} s`);

    // Disruptions: cut a session at random, or kill -9 / restart one of the nodes that may restart.
    const restartable = nodes.slice(2);
    const until = started + options.durationMs;
    let sampled = false;
    let round = 0;
    while (Date.now() < until) {
      await sleep(disruptEveryMs * (0.5 + Math.random()));
      if (!sampled && Date.now() - started > options.durationMs / 4) {
        sampled = true;
        for (const n of nodes.slice(0, 2)) early.set(n.instance, (await n.request<SoakNodeReport>({ op: 'report' })).heapUsed);
      }
      if (Date.now() >= until) break;
      // A short run still gets at least one of each: the 2nd disruption is a kill, the 4th a graceful restart.
      round++;
      const dice = round === 2 ? 0.7 : round === 4 ? 0.9 : Math.random();
      if (dice < 0.6 || restartable.length === 0) {
        const busy = proxies.filter((p) => p.live > 0);
        if (busy[Math.floor(Math.random() * busy.length)]?.cutOne()) disruptions.cuts++;
        continue;
      }
      const victim = restartable[Math.floor(Math.random() * restartable.length)] as SoakNode;
      const kill = dice < 0.8;
      if (kill) {
        await victim.kill();
        disruptions.kills++;
        log(`killed ${victim.instance} (SIGKILL)`);
      } else {
        reports.push(await victim.stop());
        disruptions.restarts++;
        log(`stopped ${victim.instance}`);
      }
      await victim.start().catch(async (error: Error) => {
        // The port may have been taken meanwhile: come back on another one, behind the same relay.
        if (!/EADDRINUSE|address already in use/i.test(error.message)) throw error;
        victim.port = 0;
        await victim.start();
      });
      (proxies[victim.index] as ChaosProxy).target = victim.port;
      await dialOut(victim);
      await begin(victim);
    }

    // Quiesce: every session up, workload stopped, every call settled; then a last round of sends confirmed by calls.
    log('disruptions over; waiting for every session');
    await allOnline(60_000);
    await Promise.all(nodes.map((n) => n.request({ op: 'pause' }, 30_000)));
    await allOnline(30_000);
    const finals = await Promise.all(
      nodes.map((n) => n.request<SoakNodeReport>({ op: 'final', peers: ids.filter((id) => id !== n.id), sends: FINAL_SENDS }, 30_000)),
    );
    for (const r of finals) {
      handles.push({ instance: r.instance, running: r.resources, afterStop: {} });
      if (early.has(r.instance)) late.set(r.instance, r);
      // One socket per session (the relays are in this process), one listener.
      const sockets = r.resources.TCPSocketWrap ?? 0;
      if (sockets !== count - 1) violations.push(`${r.instance} holds ${sockets} TCP sockets with ${count - 1} sessions`);
      if ((r.resources.TCPServerWrap ?? 0) !== 1) violations.push(`${r.instance} holds ${r.resources.TCPServerWrap ?? 0} listeners`);
    }
    for (const n of nodes) {
      const final = await n.stop();
      reports.push(final);
      const entry = handles.find((h) => h.instance === final.instance);
      if (entry) entry.afterStop = final.resources;
      for (const kind of ['TCPSocketWrap', 'TCPServerWrap', 'Timeout', 'Immediate', 'UDPWrap']) {
        if ((final.resources[kind] ?? 0) > 0) violations.push(`${final.instance} still holds ${final.resources[kind]} ${kind} after stop()`);
      }
    }
  } finally {
    await Promise.all(nodes.map((n) => n.kill()));
    await Promise.all(proxies.map((p) => p.close()));
    rmSync(root, { recursive: true, force: true });
  }

  // ---- the books --------------------------------------------------------------
  const calls = { started: 0, resolved: 0, rejected: {} as Record<string, number>, untyped: 0, hung: 0 };
  const sends = { attempted: 0, resolved: 0, notConnected: 0, otherFailures: {} as Record<string, number> };
  const received = new Map<string, SoakNodeReport['received']>();
  for (const r of reports) {
    calls.started += r.calls.started;
    calls.resolved += r.calls.resolved;
    calls.untyped += r.calls.untyped;
    calls.hung += r.calls.outstanding;
    for (const [code, n] of Object.entries(r.calls.rejected)) calls.rejected[code] = (calls.rejected[code] ?? 0) + n;
    sends.attempted += r.sends.attempted;
    sends.resolved += r.sends.resolved;
    sends.notConnected += r.sends.notConnected;
    for (const [code, n] of Object.entries(r.sends.otherFailures)) sends.otherFailures[code] = (sends.otherFailures[code] ?? 0) + n;
    received.set(r.instance, r.received);
    if (r.calls.outstanding > 0) violations.push(`${r.instance}: ${r.calls.outstanding} calls never settled (oldest ${r.calls.oldestOutstandingMs} ms)`);
    if (r.calls.untyped > 0) violations.push(`${r.instance}: ${r.calls.untyped} calls failed without a typed error`);
  }
  const streams = { checked: 0, bad: 0, confirmedChecked: 0, confirmedMissing: 0 };
  for (const [instance, streamsOf] of received) {
    for (const [key, state] of Object.entries(streamsOf)) {
      streams.checked++;
      if (state.bad > 0 || state.count !== state.last - state.first + 1 || state.first !== 0) {
        streams.bad++;
        violations.push(`${instance} received stream ${key} out of order or with gaps/duplicates: ${JSON.stringify(state)}`);
      }
    }
  }
  for (const r of reports) {
    for (const [key, seq] of Object.entries(r.confirmed)) {
      const [receiver, stream] = key.split('|') as [string, string];
      const got = received.get(receiver);
      if (got === undefined) continue; // the receiver was killed: its books died with it
      streams.confirmedChecked++;
      const state = got[stream];
      if (state === undefined || state.first !== 0 || state.last < seq || state.count !== state.last + 1) {
        streams.confirmedMissing++;
        violations.push(`${receiver} is missing sends of ${stream} up to ${seq} that a call confirmed: ${JSON.stringify(state)}`);
      }
    }
  }
  const memory = [...early].map(([instance, earlyHeap]) => {
    const final = late.get(instance);
    return { instance, earlyHeap, finalHeap: final?.heapUsed ?? 0, finalRss: final?.rss ?? 0 };
  });
  for (const m of memory) {
    if (m.finalHeap - m.earlyHeap > MAX_HEAP_GROWTH) {
      violations.push(`${m.instance}: heap grew from ${m.earlyHeap} to ${m.finalHeap} bytes`);
    }
  }
  return { durationMs: Date.now() - started, nodes: count, disruptions, calls, sends, streams, memory, handles, violations };
}

/** The report as the lines `pnpm soak` prints. */
export function formatSoakReport(report: SoakReport): string {
  const MiB = 1024 * 1024;
  const codes = (r: Record<string, number>): string =>
    Object.entries(r)
      .sort((x, y) => y[1] - x[1])
      .map(([code, n]) => `${code} ${n}`)
      .join(', ') || 'none';
  const lines = [
    `soak: ${report.nodes} nodes, ${(report.durationMs / 1000).toFixed(1)} s`,
    `disruptions: ${report.disruptions.cuts} sessions cut, ${report.disruptions.kills} nodes killed (SIGKILL), ${report.disruptions.restarts} restarted gracefully`,
    `calls: ${report.calls.started} started, ${report.calls.resolved} returned, failed: ${codes(report.calls.rejected)}; untyped ${report.calls.untyped}, hung ${report.calls.hung}`,
    `sends: ${report.sends.attempted} attempted, ${report.sends.resolved} handed over, ${report.sends.notConnected} not_connected at once, other failures: ${codes(report.sends.otherFailures)}`,
    `send streams: ${report.streams.checked} checked, ${report.streams.bad} out of order/gaps/duplicates; ${report.streams.confirmedChecked} confirmed prefixes checked, ${report.streams.confirmedMissing} incomplete`,
    ...report.memory.map(
      (m) =>
        `memory ${m.instance} (never restarted): heap after GC ${(m.earlyHeap / MiB).toFixed(1)} MiB early, ${(m.finalHeap / MiB).toFixed(1)} MiB at the end; RSS ${(m.finalRss / MiB).toFixed(0)} MiB`,
    ),
    ...report.handles.map(
      (h) => `handles ${h.instance}: running ${JSON.stringify(h.running)}, after stop ${JSON.stringify(h.afterStop)}`,
    ),
    report.violations.length === 0 ? 'every check passed' : `VIOLATIONS (${report.violations.length}):\n  ${report.violations.join('\n  ')}`,
  ];
  return lines.join('\n');
}
