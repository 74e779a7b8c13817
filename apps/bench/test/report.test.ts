import { formatTable, summarize, summarizeDht, TARGETS, type Samples } from '../src/report.js';
import { byteCount } from '../src/options.js';

// The report's arithmetic on made-up samples: what the table claims (ratios,
// pass or miss, how far from the bound) must follow from the figures.
const machine = { cpu: 'test cpu', cpus: 2, memory_gib: 4, os: 'test', node: 'v20', openssl: '3', load_average_at_start: [0, 0, 0] };

function table(samples: Samples, params: { reps: number; stream_bytes?: number } = { reps: 3 }): string {
  return formatTable({ machine, command: 'pnpm bench', date: '2020-01-01T00:00:00.000Z', params, ...summarize(samples) });
}

it('holds the stream against node:tls (the target) and raw TCP (beside it)', () => {
  const summary = summarize({ stream_mb_per_s: { peernet: [900, 1000, 950], 'peernet-sodium': [1200, 1300, 1250], tls: [1000, 1000, 1000], tcp: [4000, 4000, 4000] } });
  expect(summary.ratios.stream_mb_per_s).toMatchObject({ ratio: 0.95, vs: 'tls', met: true, also: { tcp: 0.238 } });
  expect(summary.ratios_by_kind['peernet-sodium']?.stream_mb_per_s).toMatchObject({ ratio: 1.25, met: true, also: { tcp: 0.313 } });
  const text = table({ stream_mb_per_s: { peernet: [900, 1000, 950], 'peernet-sodium': [1200, 1300, 1250], tls: [1000, 1000, 1000], tcp: [4000, 4000, 4000] } }, { reps: 3, stream_bytes: 2 ** 30 });
  expect(text).toContain('| figure | PeerNet | PeerNet (sodium) | node:tls mTLS | raw TCP | target | PeerNet ratio | met | PeerNet (sodium) ratio | met |');
  expect(text).toContain('| one stream MB/s, 1 GiB | 950 (900–1,000) | 1,250 (1,200–1,300) | 1,000 (1,000–1,000) | 4,000 (4,000–4,000) | ≥ 0.9× tls | 0.95× tls (0.24× tcp) | yes, 6% above | 1.25× tls (0.31× tcp) | yes, 39% above |');
});

it('takes the round trip under load against the idle one of the same repetition', () => {
  // Repetition by repetition: 2×, 4×, 2.5× (median 2.5×); the ratio of the medians would be 500 / 150.
  const samples: Samples = {
    rtt_p50_us: { peernet: [100, 150, 200], tls: [50, 50, 50] },
    rtt_p50_under_load_us: { peernet: [200, 600, 500], tls: [100, 100, 100] },
  };
  const summary = summarize(samples);
  expect(TARGETS.rtt_p50_under_load_us).toMatchObject({ vs: 'own', figure: 'rtt_p50_us', atMost: 3 });
  expect(summary.ratios.rtt_p50_under_load_us).toMatchObject({ ratio: 2.5, vs: 'idle p50', met: true });
  // The baselines' own ratio is reported too, without a column of its own.
  expect(summary.ratios_by_kind.tls?.rtt_p50_under_load_us).toMatchObject({ ratio: 2 });
  const text = table(samples);
  expect(text).toContain('| ≤ 3× idle p50 | 2.50× idle p50 | yes, 17% below |');
  expect(text).toContain('node:tls mTLS 2.00×');
  // No sodium figures: no sodium columns.
  expect(text).not.toContain('sodium');
});

it('says by how much a target is missed, either way', () => {
  const text = table({
    bulk_mb_per_s: { peernet: [600], tls: [1000] },
    rtt_p50_us: { peernet: [150], tcp: [100] },
  }, { reps: 1 });
  // 0.6× against ≥ 0.9×: PeerNet needs 50% more; 1.5× against ≤ 1.2×: 20% less.
  expect(text).toContain('| 0.60× tls | no, needs +50% |');
  expect(text).toContain('| 1.50× tcp | no, needs −20% |');
});

it('names a kind that was asked for but not measured', () => {
  const text = formatTable({
    machine, command: 'pnpm bench', date: '2020-01-01T00:00:00.000Z', params: { reps: 1 },
    skipped: { 'peernet-sodium': '@peernet/crypto-sodium could not be loaded' }, ...summarize({}),
  });
  expect(text).toContain('PeerNet (sodium) not measured: @peernet/crypto-sodium could not be loaded');
});

it('reads byte counts with binary units', () => {
  expect(byteCount('--stream-bytes', '1G', 1)).toBe(2 ** 30);
  expect(byteCount('--stream-bytes', '256M', 1)).toBe(256 * 2 ** 20);
  expect(byteCount('--stream-bytes', '4MiB', 1)).toBe(4 * 2 ** 20);
  expect(byteCount('--stream-bytes', '4096', 1)).toBe(4096);
  expect(byteCount('--stream-bytes', undefined, 7)).toBe(7);
  expect(() => byteCount('--stream-bytes', '1.5G', 1)).toThrow(/positive byte count/);
});

it('prints the DHT figures against TCP, with the ratio of the medians and the parts of the first call', () => {
  const dht = summarizeDht(
    { dht_first_call_ms: { dht: [80, 100, 90], tcp: [40, 50, 45] }, dht_stream_mb_per_s: { dht: [30, 20, 25], tcp: [100, 100, 100] } },
    { dht: { start_ms: [20, 30, 25], session_ms: [50, 60, 55], call_ms: [5, 5, 5] }, tcp: { start_ms: [10, 10, 10], session_ms: [20, 30, 25], call_ms: [3, 3, 3] } },
  );
  expect(dht.figures).toEqual({ dht_first_call_ms: { dht: 90, tcp: 45 }, dht_stream_mb_per_s: { dht: 25, tcp: 100 } });
  expect(dht.ratios).toEqual({ dht_first_call_ms: 2, dht_stream_mb_per_s: 0.25 });
  // Only DHT figures (--kinds dht): no loopback table.
  const text = formatTable({ machine, command: 'pnpm bench -- --kinds dht', date: '2020-01-01T00:00:00.000Z', params: { reps: 3, stream_bytes: 2 ** 30 }, dht, ...summarize({}) });
  expect(text).not.toContain('| figure | PeerNet');
  expect(text).toContain('| figure | over the DHT | over TCP | DHT ÷ TCP |');
  expect(text).toContain('| first answered call, from PeerNet.start (ms) | 90 (80–100) | 45 (40–50) | 2.00× |');
  expect(text).toContain('| one stream MB/s, 1 GiB | 25 (20–30) | 100 (100–100) | 0.25× |');
  expect(text).toContain('DHT: PeerNet.start 25 + session 55 + call 5; TCP: PeerNet.start 10 + session 25 + call 3');
});

it('splits the DHT stream at the plain HyperDHT stream, and prints each side\'s CPU', () => {
  const dht = summarizeDht(
    {
      dht_stream_mb_per_s: { dht: [30, 20, 25], tcp: [100, 100, 100] },
      dht_raw_stream_mb_per_s: { dht: [40, 60, 50] },
    },
    {},
    {
      dht: {
        sender: [{ user_s: 2, system_s: 1, seconds: 4, bytes: 100e6 }],
        receiver: [{ user_s: 3, system_s: 1, seconds: 5, bytes: 100e6 }],
      },
      raw: {
        sender: [{ user_s: 1, system_s: 1, seconds: 2, bytes: 100e6 }],
        receiver: [{ user_s: 1, system_s: 0.5, seconds: 2, bytes: 100e6 }],
      },
    },
  );
  expect(dht.figures?.dht_raw_stream_mb_per_s).toEqual({ dht: 50 });
  // No TCP path of its own: no DHT ÷ TCP ratio; the split instead, whose product is the stream's DHT ÷ TCP (0.25).
  expect(dht.ratios).toEqual({ dht_stream_mb_per_s: 0.25 });
  expect(dht.stream_split).toEqual({ peernet_dht_over_raw_dht: 0.5, raw_dht_over_peernet_tcp: 0.5 });
  // 3 s of CPU for 100 MB: 30 ms per MB, 10 of them system; 3 s of CPU in 4 s: busy 0.75.
  expect(dht.stream_cpu?.dht).toEqual({
    sender: { ms_per_mb: 30, system_ms_per_mb: 10, busy: 0.75 },
    receiver: { ms_per_mb: 40, system_ms_per_mb: 10, busy: 0.8 },
  });
  expect(dht.stream_cpu?.tcp).toBeUndefined();
  const text = formatTable({ machine, command: 'pnpm bench -- --kinds dht', date: '2020-01-01T00:00:00.000Z', params: { reps: 3, stream_bytes: 2 ** 30 }, dht, ...summarize({}) });
  expect(text).toContain('| one stream MB/s, 1 GiB | 25 (20–30) | 100 (100–100) | 0.25× |');
  expect(text).toContain('| one plain HyperDHT stream MB/s (no PeerNet), 1 GiB | 50 (40–60) | – | 0.50× PeerNet over TCP |');
  expect(text).toContain('PeerNet over the DHT ÷ plain HyperDHT 0.50×');
  expect(text).toContain('plain HyperDHT ÷ PeerNet over TCP 0.50×');
  expect(text).toContain("their product is the stream's DHT ÷ TCP");
  expect(text).toContain("| one stream's CPU | PeerNet over the DHT | plain HyperDHT |");
  expect(text).toContain('| sender, ms per MB | 30.00 (system 10.00) | 20.00 (system 10.00) |');
  expect(text).toContain('| receiver busy | 0.80 | 0.75 |');
});

it('prints the plain HyperDHT stream alone (--only dht_raw_stream_mb_per_s), without the split', () => {
  const dht = summarizeDht({ dht_raw_stream_mb_per_s: { dht: [50] } });
  expect(dht.stream_split).toBeUndefined();
  const text = formatTable({ machine, command: 'pnpm bench', date: '2020-01-01T00:00:00.000Z', params: { reps: 1, stream_bytes: 2 ** 20 }, dht, ...summarize({}) });
  expect(text).toContain('| one plain HyperDHT stream MB/s (no PeerNet), 1 MiB | 50 | – | – |');
  expect(text).not.toContain('Where the DHT stream');
});

it('says why the DHT figures were not measured, beside the loopback table', () => {
  const text = formatTable({
    machine, command: 'pnpm bench', date: '2020-01-01T00:00:00.000Z', params: { reps: 1 },
    dht: { skipped: 'network namespaces need root' }, ...summarize({ rtt_p50_us: { peernet: [150], tcp: [100] } }),
  });
  expect(text).toContain('| 64 B round trip p50 (µs) |');
  expect(text).toContain('DHT figures not measured: network namespaces need root');
});
