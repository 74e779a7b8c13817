import { parseOptions, USAGE } from '../src/options.js';

// What the command line selects: the loopback kinds, and the DHT figures as the kind `dht`.

it('runs every loopback kind and the DHT figures by default', () => {
  const options = parseOptions([]);
  expect(options.kinds).toEqual(['peernet', 'peernet-sodium', 'tls', 'tcp']);
  expect(options.dht).toBe(true);
  expect(options.only).toEqual([]);
});

it('runs the DHT figures alone with --kinds dht', () => {
  const options = parseOptions(['--', '--kinds', 'dht', '--reps', '5']);
  expect(options.kinds).toEqual([]);
  expect(options.dht).toBe(true);
  expect(options.reps).toBe(5);
});

it('leaves the DHT figures out when --kinds does not name dht, and mixes them with loopback kinds when it does', () => {
  expect(parseOptions(['--kinds', 'peernet,tcp'])).toMatchObject({ kinds: ['peernet', 'tcp'], dht: false });
  expect(parseOptions(['--kinds', 'tcp,dht'])).toMatchObject({ kinds: ['tcp'], dht: true });
});

it('takes the DHT figures in --only and names them in the usage', () => {
  expect(parseOptions(['--only', 'dht_stream_mb_per_s,rtt_p50_us']).only).toEqual(['dht_stream_mb_per_s', 'rtt_p50_us']);
  expect(() => parseOptions(['--kinds', 'udp'])).toThrow(/--kinds: unknown udp \(one of peernet, peernet-sodium, tls, tcp, dht\)/);
  expect(parseOptions(['--only', 'dht_raw_stream_mb_per_s']).only).toEqual(['dht_raw_stream_mb_per_s']);
  expect(USAGE).toContain('dht_first_call_ms, dht_stream_mb_per_s, dht_raw_stream_mb_per_s');
});
