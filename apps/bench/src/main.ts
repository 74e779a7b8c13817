// PeerNet against raw TCP and node:tls mutual TLS, on loopback, each side in
// its own process; and PeerNet over HyperDHT against PeerNet over TCP between
// network namespaces (the kind `dht`, dht.ts). `pnpm bench [-- options]`;
// `--help` lists the options.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOptions, USAGE, type BenchOptions } from './options.js';
import { createMaterial, KINDS, providerOf, type Kind } from './material.js';
import { machine } from './machine.js';
import { DHT_FIGURES, FIGURES, TARGETS, formatTable, summarize, type DhtFigureName, type DhtReport, type FigureName, type Samples } from './report.js';
import { runDhtFigures } from './dht.js';
import { spawnWorker, type Worker } from './spawn.js';
import { CHUNK_BYTES } from './stream-server.js';

const workerPath = join(fileURLToPath(new URL('.', import.meta.url)), 'worker.js');

const options = parseOptions(process.argv.slice(2));
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}

const log = (text: string): void => {
  if (!options.silent) console.error(text);
};

const dir = mkdtempSync(join(tmpdir(), 'peernet-bench-'));
const workers = new Set<Worker>();
// Teardowns of the DHT figures' network namespaces (with what runs in them).
const labs = new Set<() => void>();
const cleanup = (): void => {
  for (const w of workers) w.kill();
  for (const destroy of labs) destroy();
  rmSync(dir, { recursive: true, force: true });
};
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(signal, () => {
    cleanup();
    process.exit(code);
  });
}

try {
  // The native provider is optional: without its package the kind is skipped, and the report says so.
  const skipped: Partial<Record<Kind, string>> = {};
  if (options.kinds.includes('peernet-sodium')) {
    try {
      await providerOf('peernet-sodium');
    } catch (error) {
      const why = `@peernet/crypto-sodium could not be loaded (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`;
      skipped['peernet-sodium'] = why;
      options.kinds = options.kinds.filter((k) => k !== 'peernet-sodium');
      log(`skipping peernet-sodium: ${why}`);
    }
  }
  const wanted = (figure: FigureName | DhtFigureName): boolean => options.only.length === 0 || options.only.includes(figure);
  // --kinds dht (or --only naming DHT figures alone) leaves nothing to do on loopback.
  const loopback = options.kinds.length > 0 && FIGURES.some(wanted);
  const clients = 8 + Math.max(options.idle, options.scale ? options.scaleConnections : 0);
  let materialPath = '';
  if (loopback || (options.scale && options.kinds.length > 0)) {
    log(`preparing ${clients} client identities and TLS certificates…`);
    materialPath = createMaterial(dir, clients);
  }
  const started = Date.now();
  // Taken now, so its load average is the one the run started under.
  const host = machine();

  const samples: Samples = {};
  const record = (figure: FigureName, kind: Kind, value: number): void => {
    ((samples[figure] ??= {})[kind] ??= []).push(value);
  };
  const spawn = async (role: string, kind: Kind): Promise<Worker> => {
    const w = await spawnWorker(workerPath, [role, kind, materialPath, String(8 + options.idle), String(options.streamWindow ?? '')], options.profileDir);
    workers.add(w);
    return w;
  };
  const stop = async (w: Worker): Promise<void> => {
    await w.request('stop').catch(() => undefined);
    await w.exited();
    workers.delete(w);
  };

  for (let rep = 0; loopback && rep < options.reps; rep++) {
    // Rotate the order each repetition, so drift in the machine's load falls on every kind alike.
    const order = KINDS.map((_, i) => KINDS[(i + rep) % KINDS.length] as Kind).filter((k) => options.kinds.includes(k));
    for (const kind of order) {
      log(`rep ${rep + 1}/${options.reps}: ${kind}`);
      const server = await spawn('server', kind);
      const client = await spawn('client', kind);
      try {
        const { port } = (await server.request('info')) as { port: number };
        await client.request('setPort', { port });
        if (wanted('handshakes_per_s')) {
          record('handshakes_per_s', kind, (await client.request('handshakes', { dialers: 1, ms: options.handshakeMs })) as number);
        }
        if (wanted('handshakes_per_s_8')) {
          record('handshakes_per_s_8', kind, (await client.request('handshakes', { dialers: 8, ms: options.handshakeMs })) as number);
        }
        // The figure under load is held against the idle p50 of the same repetition, so that one is measured too.
        if (wanted('rtt_p50_us') || wanted('rtt_p99_us') || wanted('rtt_p50_under_load_us')) {
          const [p50, p99] = (await client.request('rtt', { size: 64, n: options.rttCount, warmup: options.rttWarmup })) as number[];
          record('rtt_p50_us', kind, p50 as number);
          record('rtt_p99_us', kind, p99 as number);
        }
        if (wanted('rtt_p50_under_load_us')) {
          const warmup = Math.min(options.rttWarmup, Math.ceil(options.loadRttCount / 10));
          const [p50] = (await client.request('rttUnderLoad', { size: 64, n: options.loadRttCount, warmup })) as number[];
          record('rtt_p50_under_load_us', kind, p50 as number);
        }
        if (wanted('msgs_per_s')) {
          const r = (await client.request('stream', { size: 64, ms: options.streamMs })) as { msgsPerS: number };
          record('msgs_per_s', kind, r.msgsPerS);
        }
        if (wanted('bulk_mb_per_s')) {
          const r = (await client.request('stream', { size: 65_536, ms: options.streamMs })) as { mbPerS: number };
          record('bulk_mb_per_s', kind, r.mbPerS);
        }
        if (wanted('stream_mb_per_s')) {
          record('stream_mb_per_s', kind, (await client.request('streamBytes', { bytes: options.streamBytes })) as number);
        }
      } finally {
        await Promise.all([stop(client), stop(server)]);
      }
      if (wanted('idle_kib_per_conn')) {
        // Fresh processes: the heap and allocator of a pair that just moved gigabytes would blur the figure.
        const idleServer = await spawn('server', kind);
        const idleClient = await spawn('client', kind);
        try {
          const { port } = (await idleServer.request('info')) as { port: number };
          await idleClient.request('setPort', { port });
          record('idle_kib_per_conn', kind, await idleMemory(idleClient, idleServer, options.idle));
        } finally {
          await Promise.all([stop(idleClient), stop(idleServer)]);
        }
      }
    }
  }

  let dht: DhtReport | undefined;
  if (options.dht && DHT_FIGURES.some(wanted)) {
    log('dht figures: PeerNet over HyperDHT and over TCP, and a plain HyperDHT stream, between two network namespaces…');
    dht = await runDhtFigures({
      reps: options.reps,
      streamBytes: wanted('dht_stream_mb_per_s') ? options.streamBytes : 0,
      rawStreamBytes: wanted('dht_raw_stream_mb_per_s') ? options.streamBytes : 0,
      firstCall: wanted('dht_first_call_ms'),
      streamWindow: options.streamWindow,
      dir,
      profileDir: options.profileDir,
      log,
      onLab: (destroy) => labs.add(destroy),
    });
    if (dht.skipped !== undefined) log(`skipping the dht figures: ${dht.skipped}`);
  }

  let primitives: unknown;
  // The crypto primitives go with the loopback kinds: --kinds dht alone runs without them.
  if (options.primitives && options.kinds.length > 0) {
    log('crypto primitives…');
    const w = await spawnWorker(workerPath, ['primitives'], undefined);
    workers.add(w);
    primitives = await w.request('primitives', { ms: options.quick ? 20 : 200, rounds: options.quick ? 3 : 5 });
    await stop(w);
  }

  let scale: unknown;
  if (options.scale) {
    scale = {};
    for (const kind of options.kinds) {
      log(`scale: ${options.scaleConnections} idle ${kind} connections…`);
      (scale as Record<string, unknown>)[kind] = await runScale(kind);
    }
  }

  const summary = summarize(samples);
  const report = {
    machine: host,
    command: `pnpm bench${options.argv.length > 0 ? ` -- ${options.argv.join(' ')}` : ''}`,
    date: new Date(started).toISOString(),
    seconds: Math.round((Date.now() - started) / 1000),
    params: {
      reps: options.reps,
      handshake_ms: options.handshakeMs,
      rtt_count: options.rttCount,
      stream_ms: options.streamMs,
      stream_bytes: options.streamBytes,
      // PeerNet's own default when absent.
      stream_window_bytes: options.streamWindow,
      load_rtt_count: options.loadRttCount,
      idle_connections: options.idle,
      payload_bytes: { rtt: 64, msgs: 64, bulk: 65_536, stream_write: CHUNK_BYTES },
    },
    kinds: options.dht ? [...options.kinds, 'dht'] : options.kinds,
    skipped,
    figures: summary.figures,
    ranges: summary.ranges,
    ratios: summary.ratios,
    ratios_by_kind: summary.ratios_by_kind,
    dht,
    primitives,
    scale,
  };
  console.log(formatTable(report));
  if (options.json) {
    writeFileSync(options.json, JSON.stringify(report, null, 2) + '\n');
    log(`wrote ${options.json}`);
  }
} finally {
  cleanup();
}

/** Opens `n` idle connections; returns (client + server RSS growth) / n in KiB. */
async function idleMemory(client: Worker, server: Worker, n: number): Promise<number> {
  await client.request('prepareIdle', { n });
  // Warm up first (code, crypto and socket set-up that happen once per process), then measure.
  const warm = Math.min(50, n);
  await client.request('openIdle', { from: 0, to: warm, concurrency: 16 });
  await waitFor(server, warm);
  await client.request('closeIdle');
  await waitFor(server, 0);
  const before = ((await server.request('rss')) as number) + ((await client.request('rss')) as number);
  await client.request('openIdle', { from: 0, to: n, concurrency: 32 });
  await waitFor(server, n);
  const after = ((await server.request('rss')) as number) + ((await client.request('rss')) as number);
  await client.request('closeIdle');
  return (after - before) / n / 1024;
}

/** Waits until the server holds exactly `n` authenticated connections (asking it, 20 ms apart). */
async function waitFor(server: Worker, n: number, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const sessions = (await server.request('sessions')) as number;
    if (sessions === n) return;
    if (Date.now() > deadline) throw new Error(`the server holds ${sessions} connections, expected ${n}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function runScale(kind: Kind): Promise<unknown[]> {
  const server = await spawnWorker(workerPath, ['server', kind, createdMaterial(), String(8 + options.scaleConnections)], undefined);
  workers.add(server);
  const client = await spawnWorker(workerPath, ['client', kind, createdMaterial()], undefined);
  workers.add(client);
  const rows: unknown[] = [];
  try {
    const { port } = (await server.request('info')) as { port: number };
    await client.request('setPort', { port });
    const n = options.scaleConnections;
    await client.request('prepareIdle', { n });
    const base = ((await server.request('rss')) as number) + ((await client.request('rss')) as number);
    let open = 0;
    let totalMs = 0;
    const checkpoints = [1, 10, 100, 1000, 2500, 5000, 10_000, n].filter((c, i, all) => c <= n && all.indexOf(c) === i);
    checkpoints.sort((a, b) => a - b);
    for (const target of checkpoints) {
      const ms = (await client.request('openIdle', { from: open, to: target, concurrency: 64 })) as number;
      const step = target - open;
      open = target;
      totalMs += ms;
      await waitFor(server, open, 120_000);
      const [p50, p99] = (await client.request('probe', { n: 200 })) as number[];
      const rss = ((await server.request('rss')) as number) + ((await client.request('rss')) as number);
      const row = {
        connections: open,
        established_s: totalMs / 1000,
        step_handshakes_per_s: (step * 1000) / ms,
        rtt_p50_us: p50,
        rtt_p99_us: p99,
        rss_kib_per_conn: (rss - base) / open / 1024,
      };
      rows.push(row);
      log(`  ${JSON.stringify(row)}`);
    }
  } finally {
    for (const w of [client, server]) {
      await w.request('stop').catch(() => undefined);
      await w.exited();
      workers.delete(w);
    }
  }
  return rows;
}

function createdMaterial(): string {
  return join(dir, 'material.json');
}

export type { BenchOptions };
export { FIGURES, TARGETS };
