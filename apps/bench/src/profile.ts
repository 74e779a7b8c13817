// Summarises V8 CPU profiles (from `pnpm bench -- --profile DIR`): the
// functions with the most self time, per profile file.
//   node apps/bench/dist/profile.js DIR [--top N]
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function (ms) of one profile, largest first, as [label, ms, share]. */
export function selfTimes(profile: Profile): [string, number, number][] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  let all = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    all += ms;
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url ? `${url.replace(/^.*\/(packages|apps|node_modules)\//, '$1/')}:${lineNumber + 1}` : '';
    const label = `${functionName || '(anonymous)'} ${file}`.trim();
    totals.set(label, (totals.get(label) ?? 0) + ms);
  });
  return [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([label, ms]) => [label, ms, ms / all]);
}

// Where a self-time row belongs, first match wins.
const CATEGORIES: [string, RegExp][] = [
  ['idle', /^\(idle\)/],
  ['garbage collection', /^\(garbage collector\)/],
  ['start-up (module loading)', /^(compile\w*|openFileHandle|fstat|readFileUtf8|internalModuleStat) |node:internal\/(modules|bootstrap)\/|^\(program\)/],
  ['bench harness', /apps\/bench\//],
  ['node:crypto', /node:internal\/crypto|^(Hmac|Hash|diffieHellman|KeyObject)\b|^(update|initiv|final|setAAD|getAuthTag|setAuthTag) ?$/],
  // Native functions of the addons HyperDHT runs on, by name only (no file): V8 names them unreliably, so they are not told apart.
  ['HyperDHT: native (sodium-native, udx-native)', /^(crypto_|extension_|udx_napi|sodium_)\w* ?$/],
  ['pure-JS crypto (noble, stablelib)', /@noble|@stablelib/],
  ['PeerNet: noise', /packages\/noise\//],
  ['PeerNet: CBOR and envelopes', /packages\/frame\/dist\/(cbor|envelope)/],
  ['PeerNet: frame', /packages\/frame\//],
  ['PeerNet: connection', /packages\/connection\//],
  ['PeerNet: node, registry, liveness, trust, transport', /packages\/(peernet|registry|liveness|trust|transport-tcp|transport-dht|interface|identity)\//],
  // What HyperDHT carries a stream with (the DHT figures' profiles).
  ['HyperDHT: secret-stream (its encryption)', /node_modules\/(@hyperswarm\/secret-stream|sodium-secretstream|sodium-native|sodium-universal)\//],
  ['HyperDHT: UDX', /node_modules\/udx-native\//],
  ['HyperDHT: streamx', /node_modules\/streamx\//],
  ['HyperDHT: dht and the rest', /node_modules\/(hyperdht|dht-rpc|@hyperswarm|b4a|compact-encoding|protomux|noise-handshake|noise-curve-ed)/],
  ['socket system calls', /^(writeBuffer|writev|writeUtf8String|close|shutdown|connect|getpeername|getsockname) ?$|_getpeername|internalConnect/],
  ['node streams, net, timers, events, promises', /node:|runMicrotasks|native |^\(anonymous\) ?$/],
];

/** Self time per category (ms, share), for a profile's rows. */
export function byCategory(rows: [string, number, number][]): [string, number, number][] {
  const totals = new Map<string, [number, number]>();
  for (const [label, ms, share] of rows) {
    const name = CATEGORIES.find(([, re]) => re.test(label))?.[0] ?? 'other';
    const t = totals.get(name) ?? [0, 0];
    totals.set(name, [t[0] + ms, t[1] + share]);
  }
  return [...totals.entries()].sort((a, b) => b[1][0] - a[1][0]).map(([name, [ms, share]]) => [name, ms, share]);
}

if (process.argv[1] && basename(process.argv[1]) === 'profile.js') {
  const args = process.argv.slice(2);
  const dir = args[0];
  if (!dir) {
    console.error('usage: node profile.js DIR [--top N] [--categories]');
    process.exit(2);
  }
  const topAt = args.indexOf('--top');
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 25;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
    const all = selfTimes(JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile);
    const rows = args.includes('--categories') ? byCategory(all) : all.slice(0, top);
    console.log(`\n${file}`);
    for (const [label, ms, share] of rows) {
      console.log(`${(share * 100).toFixed(1).padStart(5)}%  ${ms.toFixed(0).padStart(7)} ms  ${label}`);
    }
  }
}
