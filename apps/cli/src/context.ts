// What every command shares: the parsed options and data dir, and the
// helpers that turn options and arguments into values.
import { join } from 'node:path';
import { InvalidPeerIdError, PeerId, errorMessage, type Logger, type PeerNetOptions, type WireValue } from 'peernet';
import { x25519PublicKeyOf } from '@peernet/identity';
import { openFileTrustStore, type FileTrustStore } from '@peernet/trust';
import type { Flags, ListOptionName, OptionName } from './args.js';
import { usageError } from './exit.js';

/** What a command runs with: its options, data dir and output. */
export interface Context {
  readonly flags: Flags;
  readonly dataDir: string;
  readonly json: boolean;
  readonly out: (text: string) => void;
}

/** The value of a string option, if given. */
export function stringFlag(flags: Flags, name: Exclude<OptionName, ListOptionName>): string | undefined {
  const value = flags[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Parses a peer id as people paste it: surrounding whitespace dropped, any
 * case (some QR readers return upper case); refused with the reason when it
 * is not the text of a valid public key.
 */
export function parsePeer(text: string): PeerId {
  const trimmed = text.trim();
  const normalized = /^[A-Za-z2-7]{52}$/.test(trimmed) ? trimmed.toLowerCase() : trimmed;
  const shown = JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
  let id: PeerId;
  try {
    id = PeerId.parse(normalized);
  } catch (error) {
    throw new InvalidPeerIdError(`${shown} is not a peer id: ${errorMessage(error)}`);
  }
  try {
    // Also catches most typos: about half of all 32-byte strings are not a point on the curve.
    x25519PublicKeyOf(id);
  } catch {
    throw new InvalidPeerIdError(`${shown} is not a peer id: it does not encode a valid public key (check it for a mistyped character)`);
  }
  return id;
}

/** The JSON arguments of call/send (default null). */
export function parseJsonArg(text: string | undefined): WireValue {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as WireValue;
  } catch (error) {
    throw usageError(`arguments are not valid JSON: ${errorMessage(error)}`);
  }
}

/** JSON text of a PeerNet value: bigint as a decimal string, bytes as `{"$bytes": base64}`. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('base64') };
    return v;
  });
}

function parseIntFlag(ctx: Context, name: 'port' | 'udp-port' | 'timeout', min: number, max: number): number | undefined {
  const text = stringFlag(ctx.flags, name);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw usageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** `--port`, if given: an integer from `min` to 65535. */
export function portFlag(ctx: Context, min: number): number | undefined {
  return parseIntFlag(ctx, 'port', min, 65535);
}

/** `--timeout`, or the default (10 s unless the command says otherwise). */
export function timeoutOf(ctx: Context, defaultMs = 10_000): number {
  return parseIntFlag(ctx, 'timeout', 1, 3_600_000) ?? defaultMs;
}

/** `--connect HOST:PORT`, if given. */
export function connectAddress(ctx: Context): { host: string; port: number } | undefined {
  const text = stringFlag(ctx.flags, 'connect');
  if (text === undefined) return undefined;
  const match = /^(.+):(\d+)$/.exec(text);
  const port = match ? Number(match[2]) : NaN;
  if (!match || !match[1] || !(port >= 1 && port <= 65535)) {
    throw usageError(`--connect must be HOST:PORT, got ${JSON.stringify(text)}`);
  }
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
}

/** The `--verbose` logger: the node's diagnostics on stderr. */
export function logger(ctx: Context): Logger | undefined {
  if (!ctx.flags.verbose) return undefined;
  const write = (level: string) => (message: string, details?: Record<string, unknown>) =>
    process.stderr.write(`[${level}] ${message}${details ? ` ${toJson(details)}` : ''}\n`);
  return { debug: write('debug'), info: write('info'), warn: write('warn') };
}

/**
 * The values of a repeatable option, each split at commas (`--bootstrap a:1,b:2`
 * is `--bootstrap a:1 --bootstrap b:2`), or undefined when it is not given.
 * Given with nothing in it (`--bootstrap ''`), it is a usage error.
 */
export function listFlag(ctx: Context, name: Exclude<ListOptionName, 'expose'>): string[] | undefined {
  const given = ctx.flags[name];
  if (given === undefined) return undefined;
  const list = given
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter((value) => value !== '');
  if (list.length === 0) throw usageError(`--${name} is empty: --${name} ${OPTION_VALUES[name]}`);
  return list;
}

const OPTION_VALUES = { bootstrap: 'HOST:PORT', relay: 'ID', allow: 'ID' } as const;

/**
 * The DHT package, loaded when a command uses it: its native dependencies
 * (udx-native, sodium-native) cost every other command time to load.
 */
export const loadDht = (): Promise<typeof import('@peernet/transport-dht')> => import('@peernet/transport-dht');

/**
 * `--bootstrap`, checked by the DHT package's own rules (an IPv4 address or a
 * name, and a port from 1 to 65535): a usage error names the value it refuses.
 */
export async function bootstrapList(ctx: Context): Promise<string[] | undefined> {
  const list = listFlag(ctx, 'bootstrap');
  if (list === undefined) return undefined;
  const { dht } = await loadDht();
  for (const entry of list) {
    try {
      dht({ bootstrap: [entry] });
    } catch {
      throw usageError(`--bootstrap must be HOST:PORT (an IPv4 address or a host name, a port from 1 to 65535), got ${JSON.stringify(entry)}`);
    }
  }
  return list;
}

/** The peer ids of `--relay` or `--allow`, each checked as `pair` checks an id. */
export function peerList(ctx: Context, name: 'relay' | 'allow'): PeerId[] | undefined {
  return listFlag(ctx, name)?.map((text) => {
    try {
      return parsePeer(text);
    } catch (error) {
      throw new InvalidPeerIdError(`--${name}: ${errorMessage(error)}`);
    }
  });
}

/** What the DHT options ask for: undefined without --dht, --bootstrap or --relay. */
export interface DhtSettings {
  /** The private network's bootstrap nodes; undefined: the public network. */
  readonly bootstrap: string[] | undefined;
  readonly relays: PeerId[] | undefined;
}

/** The DHT settings of a command that starts a node (`--bootstrap` and `--relay` imply `--dht`). */
export async function dhtSettings(ctx: Context): Promise<DhtSettings | undefined> {
  const bootstrap = await bootstrapList(ctx);
  const relays = peerList(ctx, 'relay');
  if (ctx.flags.dht !== true && bootstrap === undefined && relays === undefined) return undefined;
  return { bootstrap, relays };
}

/**
 * Says on stderr, once, that `what` joins the public HyperDHT network. Not
 * with --json: its output (stdout, and the one error line on stderr) stays
 * as documented; the README and the help say it instead.
 */
export function notePublicNetwork(ctx: Context, what: string): void {
  if (ctx.json) return;
  process.stderr.write(
    `peernet: note: ${what} without --bootstrap joins the PUBLIC HyperDHT network: its nodes on the internet see this ` +
      "node's address and the ids it looks up (for a private network run peernet dht-bootstrap and give --bootstrap HOST:PORT)\n",
  );
}

/** The node's options from the network flags. */
export async function nodeOptions(ctx: Context): Promise<PeerNetOptions> {
  const f = ctx.flags;
  const port = parseIntFlag(ctx, 'port', 0, 65535);
  const udpPort = parseIntFlag(ctx, 'udp-port', 1, 65535);
  const given = stringFlag(f, 'interfaces');
  const interfaces = given
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (given !== undefined && (!interfaces || interfaces.length === 0)) throw usageError('--interfaces is empty');
  const host = stringFlag(f, 'host');
  const log = logger(ctx);
  const overDht = await dhtSettings(ctx);
  if (overDht && overDht.bootstrap === undefined) notePublicNetwork(ctx, f.dht === true ? '--dht' : '--relay (which implies --dht)');
  const dht = overDht && (await loadDht()).dht;
  return {
    dataDir: ctx.dataDir,
    ...(host === undefined ? {} : { host }),
    ...(port === undefined ? {} : { port }),
    ...(udpPort === undefined ? {} : { udpPort }),
    ...(interfaces ? { interfaces } : {}),
    ...(f['no-discovery'] ? { discovery: [] } : {}),
    ...(overDht && dht
      ? {
          transports: [
            dht({
              ...(overDht.bootstrap ? { bootstrap: overDht.bootstrap } : {}),
              ...(overDht.relays ? { relays: overDht.relays } : {}),
            }),
          ],
        }
      : {}),
    ...(log ? { logger: log } : {}),
  };
}

/** Opens the data dir's trust list for `use`, and closes it after. */
export async function withTrust<T>(ctx: Context, use: (trust: FileTrustStore) => Promise<T>): Promise<T> {
  const trust = await openFileTrustStore({ path: join(ctx.dataDir, 'trust.json') });
  try {
    return await use(trust);
  } finally {
    await trust.close();
  }
}
