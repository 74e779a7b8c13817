import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Runs the real bench (orchestrator, server and client processes, all on
// 127.0.0.1) in its quick mode and checks the shape of what it reports.
// Timings are never asserted: only that every figure was measured. The DHT
// figures run too where the bench can make network namespaces (root), and
// are otherwise skipped with the reason: either is checked.
const main = join(__dirname, '..', 'dist', 'main.js');
// The figure keys the JSON report promises, written out here rather than imported
// from src/report.ts, so that a key dropped or renamed there fails this test.
const FIGURES = [
  'handshakes_per_s',
  'handshakes_per_s_8',
  'rtt_p50_us',
  'rtt_p99_us',
  'rtt_p50_under_load_us',
  'msgs_per_s',
  'bulk_mb_per_s',
  'stream_mb_per_s',
  'idle_kib_per_conn',
];
let dir: string;

beforeAll(async () => {
  if (!existsSync(main)) throw new Error(`${main} is missing: build apps/bench first (pnpm turbo run build --filter @peernet/bench...)`);
  dir = await mkdtemp(join(tmpdir(), 'peernet-bench-test-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('measures every figure for PeerNet (both providers), TLS and TCP and writes the JSON report', async () => {
  const file = join(dir, 'figures.json');
  // A few MiB through the stream: the test checks the harness, not the speed.
  const child = spawn(process.execPath, [main, '--', '--quick', '--idle', '20', '--stream-bytes', '4M', '--json', file, '--silent'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });

  const report = JSON.parse(await readFile(file, 'utf8')) as {
    machine: Record<string, unknown>;
    command: string;
    params: Record<string, unknown>;
    skipped: Record<string, string>;
    figures: Record<string, Record<string, number>>;
    ratios: Record<string, { ratio: number; met: boolean }>;
    ratios_by_kind: Record<string, Record<string, { ratio: number; vs: string; met: boolean; also?: Record<string, number> }>>;
    primitives: Record<string, Record<string, number>>;
    kinds: string[];
    dht: {
      skipped?: string;
      figures?: Record<string, Record<string, number>>;
      ratios?: Record<string, number>;
      stream_split?: Record<string, number>;
      stream_cpu?: Record<string, Record<string, Record<string, number>>>;
      phases_ms?: Record<string, Record<string, number>>;
    };
  };
  expect(report.machine).toMatchObject({ cpus: expect.any(Number), node: process.version, cpu: expect.any(String) });
  expect(report.command).toBe('pnpm bench -- --quick --idle 20 --stream-bytes 4M --json ' + file + ' --silent');
  expect(report.params).toMatchObject({ stream_bytes: 4 * 2 ** 20 });
  // The native provider is measured where its package loads, and otherwise skipped with the reason.
  const sodium = report.skipped['peernet-sodium'] === undefined;
  if (!sodium) expect(report.skipped['peernet-sodium']).toMatch(/crypto-sodium/);
  const ours = sodium ? ['peernet', 'peernet-sodium'] : ['peernet'];
  expect(Object.keys(report.figures).sort()).toEqual([...FIGURES].sort());
  for (const figure of FIGURES) {
    const row = report.figures[figure] as Record<string, number>;
    expect(Object.keys(row).sort()).toEqual([...ours, 'tcp', 'tls'].sort());
    for (const value of Object.values(row)) expect(Number.isFinite(value)).toBe(true);
  }
  // 20 idle connections are too few for a positive RSS growth every time; the other figures are rates and times.
  for (const figure of FIGURES.filter((f) => f !== 'idle_kib_per_conn')) {
    for (const value of Object.values(report.figures[figure] as Record<string, number>)) expect(value).toBeGreaterThan(0);
    expect(report.ratios[figure]).toMatchObject({ ratio: expect.any(Number), met: expect.any(Boolean) });
    for (const kind of ours) expect(report.ratios_by_kind[kind]?.[figure]).toMatchObject({ ratio: expect.any(Number), met: expect.any(Boolean) });
  }
  // The stream against both baselines; the round trip under load against the same kind's idle one, baselines included.
  expect(report.ratios.stream_mb_per_s).toMatchObject({ vs: 'tls', also: { tcp: expect.any(Number) } });
  for (const kind of [...ours, 'tls', 'tcp']) {
    expect(report.ratios_by_kind[kind]?.rtt_p50_under_load_us).toMatchObject({ vs: 'idle p50', ratio: expect.any(Number) });
  }
  expect(Object.keys(report.primitives).sort()).toEqual(['node', 'node+js-small-aead', 'pure-js', ...(sodium ? ['sodium'] : [])].sort());
  for (const row of Object.values(report.primitives)) {
    expect(row).toMatchObject({ aead_seal_open_64_per_s: expect.any(Number), xx_handshake_both_sides_per_s: expect.any(Number) });
  }
  // TLS's cipher beside node's ChaCha20-Poly1305, for the bulk ceiling.
  expect(report.primitives.node).toMatchObject({
    chacha20_poly1305_65519_mb_per_s: expect.any(Number),
    aes_256_gcm_65519_mb_per_s_tls_cipher: expect.any(Number),
  });
  expect(stdout).toContain('| aes_256_gcm_65519_mb_per_s_tls_cipher | – |');
  // The same table is printed, with the ratios.
  expect(stdout).toContain('| handshakes/s, 1 dialer |');
  expect(stdout).toMatch(/× tls/);
  expect(stdout).toContain('| one stream MB/s, 4 MiB |');
  expect(stdout).toContain('| 64 B round trip p50, stream saturated (µs) |');
  expect(stdout).toMatch(/× tls \(\d+\.\d\d× tcp\)/);
  expect(stdout).toMatch(/\| (yes, \d+% (above|below)|no, needs [+−]\d+%) \|/);
  if (sodium) expect(stdout).toContain('| PeerNet (sodium) ratio | met |');
  // The DHT figures: measured over both paths, or skipped with why (no root, no namespaces).
  expect(report.kinds).toContain('dht');
  if (report.dht.skipped !== undefined) {
    expect(report.dht.skipped).toMatch(/namespace|root|Linux|iproute2/);
    expect(stdout).toContain(`DHT figures not measured: ${report.dht.skipped}`);
  } else {
    for (const figure of ['dht_first_call_ms', 'dht_stream_mb_per_s']) {
      expect(Object.keys(report.dht.figures?.[figure] ?? {}).sort()).toEqual(['dht', 'tcp']);
      for (const value of Object.values(report.dht.figures?.[figure] ?? {})) expect(value).toBeGreaterThan(0);
      expect(report.dht.ratios?.[figure]).toEqual(expect.any(Number));
    }
    // The plain HyperDHT stream: over the DHT only, and the split of PeerNet's stream at it.
    expect(Object.keys(report.dht.figures?.dht_raw_stream_mb_per_s ?? {})).toEqual(['dht']);
    expect(report.dht.figures?.dht_raw_stream_mb_per_s?.dht).toBeGreaterThan(0);
    expect(report.dht.stream_split).toEqual({ peernet_dht_over_raw_dht: expect.any(Number), raw_dht_over_peernet_tcp: expect.any(Number) });
    expect(Object.keys(report.dht.stream_cpu ?? {}).sort()).toEqual(['dht', 'raw', 'tcp']);
    for (const sides of Object.values(report.dht.stream_cpu ?? {})) {
      for (const side of ['sender', 'receiver']) expect(sides[side]).toEqual({ ms_per_mb: expect.any(Number), system_ms_per_mb: expect.any(Number), busy: expect.any(Number) });
    }
    expect(report.dht.phases_ms?.dht).toMatchObject({ start_ms: expect.any(Number), session_ms: expect.any(Number), call_ms: expect.any(Number) });
    expect(stdout).toContain('| figure | over the DHT | over TCP | DHT ÷ TCP |');
    expect(stdout).toContain('| one stream MB/s, 4 MiB |');
    expect(stdout).toContain('| one plain HyperDHT stream MB/s (no PeerNet), 4 MiB |');
    expect(stdout).toContain("Where the DHT stream's cost goes");
  }
}, 150_000);
