import { watch } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { PeerNet, PeerId, isErrorCode, isPeerNetError, type Logger, type PeerNetOptions, type Value } from 'peernet';
import { loadOrCreateIdentity } from '@peernet/identity';
import { openFileTrustStore, type FileTrustStore } from '@peernet/trust';
import { defaultDataDir } from './data-dir.js';
import { querySnapshot, serveSnapshots, type Snapshot } from './control.js';
import { renderQr } from './qr.js';

/** Exit codes (also in the README). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  notPaired: 3,
  timeout: 4,
  remote: 5,
  connect: 6,
} as const;

const USAGE = `usage: peernet <command> [options]

commands:
  id                                 print this node's id (creates the identity if missing)
  pair <id> [--label L]              trust a peer
  unpair <id>                        forget a peer
  peers                              list paired peers
  serve [--expose echo] [--expose chat]
                                     run a node until SIGINT/SIGTERM
  call <id> <handle> [json]          call a handle of a peer and print the result as JSON
  send <id> <handle> [json]          send to a handle of a peer (no reply)
  chat <id>                          send stdin lines to the peer's 'chat' handle, print incoming chat

options:
  --data-dir DIR       identity and trust list (default: ${defaultDataDir()})
  --host ADDR          address to listen on (default 0.0.0.0)
  --port N             port to listen on (default: any free port)
  --interfaces LIST    comma-separated IPv4 addresses or interface names for discovery
  --udp-port N         UDP port of broadcast discovery (default 4040)
  --no-discovery       no mDNS or UDP discovery (use --connect)
  --connect HOST:PORT  dial the peer at this address (call, send, chat)
  --timeout MS         how long call/send/chat wait for the peer and the reply (default 10000)
  --label L            label of a paired peer (pair)
  --no-qr              id: do not print the QR code
  --json               machine-readable output (errors too, on stderr)
  --verbose            diagnostics on stderr
  -h, --help           this text
`;

const OPTIONS = {
  'data-dir': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  interfaces: { type: 'string' },
  'udp-port': { type: 'string' },
  'no-discovery': { type: 'boolean' },
  connect: { type: 'string' },
  timeout: { type: 'string' },
  label: { type: 'string' },
  expose: { type: 'string', multiple: true },
  'no-qr': { type: 'boolean' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = {
  'data-dir'?: string;
  host?: string;
  port?: string;
  interfaces?: string;
  'udp-port'?: string;
  'no-discovery'?: boolean;
  connect?: string;
  timeout?: string;
  label?: string;
  expose?: string[];
  'no-qr'?: boolean;
  json?: boolean;
  verbose?: boolean;
  help?: boolean;
};

/** An error the CLI reports as one line with a given exit code. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

const usageError = (message: string): CliError => new CliError('usage', message, EXIT.usage);

interface Context {
  flags: Flags;
  dataDir: string;
  json: boolean;
  out: (text: string) => void;
}

/** Runs the CLI with `argv` (without node and script); resolves with the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  let json = argv.includes('--json');
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    } catch (error) {
      throw usageError((error as Error).message);
    }
    const flags = parsed.values as Flags;
    json = flags.json === true;
    const [command, ...rest] = parsed.positionals;
    if (flags.help || command === 'help') {
      process.stdout.write(USAGE);
      return EXIT.ok;
    }
    if (!command) throw usageError('missing command (try peernet --help)');
    const ctx: Context = {
      flags,
      dataDir: flags['data-dir'] || defaultDataDir(),
      json,
      out: (text) => process.stdout.write(`${text}\n`),
    };
    switch (command) {
      case 'id':
        return await cmdId(ctx, rest);
      case 'pair':
        return await cmdPair(ctx, rest);
      case 'unpair':
        return await cmdUnpair(ctx, rest);
      case 'peers':
        return await cmdPeers(ctx, rest);
      case 'serve':
        return await cmdServe(ctx, rest);
      case 'call':
        return await cmdCall(ctx, rest, true);
      case 'send':
        return await cmdCall(ctx, rest, false);
      case 'chat':
        return await cmdChat(ctx, rest);
      default:
        throw usageError(`unknown command ${JSON.stringify(command)} (try peernet --help)`);
    }
  } catch (error) {
    return report(error, json);
  }
}

// ---- errors ----------------------------------------------------------------

function classify(error: unknown): { code: string; message: string; exitCode: number } {
  if (error instanceof CliError) return { code: error.code, message: error.message, exitCode: error.exitCode };
  if (isPeerNetError(error) && isErrorCode(error.code)) {
    const exitCode = (() => {
      switch (error.code) {
        case 'invalid_peer_id':
        case 'invalid_argument':
          return EXIT.usage;
        case 'untrusted_peer':
          return EXIT.notPaired;
        case 'timeout':
          return EXIT.timeout;
        case 'no_such_handle':
        case 'forbidden':
        case 'handler_error':
        case 'bad_request':
          return EXIT.remote;
        case 'handshake_failed':
        case 'peer_mismatch':
        case 'connection_closed':
        case 'not_connected':
          return EXIT.connect;
        default:
          return EXIT.failure;
      }
    })();
    return { code: error.code, message: error.message, exitCode };
  }
  const err = error as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && /^E[A-Z]+$/.test(err.code)) {
    return { code: err.code, message: err.message, exitCode: EXIT.connect };
  }
  return { code: 'error', message: err instanceof Error ? err.message : String(error), exitCode: EXIT.failure };
}

function report(error: unknown, json: boolean): number {
  const { code, message, exitCode } = classify(error);
  const line = json ? JSON.stringify({ error: { code, message } }) : `peernet: ${code}: ${message}`;
  process.stderr.write(`${line}\n`);
  return exitCode;
}

// ---- argument helpers ------------------------------------------------------

function parsePeer(text: string | undefined): PeerId {
  if (text === undefined) throw usageError('missing peer id');
  return PeerId.parse(text); // InvalidPeerIdError → exit 2
}

function parseIntFlag(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw usageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

function parseJsonArg(text: string | undefined): Value {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as Value;
  } catch (error) {
    throw usageError(`arguments are not valid JSON: ${(error as Error).message}`);
  }
}

function parseAddress(text: string): { host: string; port: number } {
  const match = /^(.+):(\d+)$/.exec(text);
  const port = match ? Number(match[2]) : NaN;
  if (!match || !match[1] || !(port >= 1 && port <= 65535)) {
    throw usageError(`--connect must be HOST:PORT, got ${JSON.stringify(text)}`);
  }
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
}

function noExtra(rest: readonly string[], max: number): void {
  if (rest.length > max) throw usageError(`unexpected argument ${JSON.stringify(rest[max])}`);
}

/** JSON text of a PeerNet value: bigint as a decimal string, bytes as `{"$bytes": base64}`. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('base64') };
    return v;
  });
}

function logger(ctx: Context): Logger | undefined {
  if (!ctx.flags.verbose) return undefined;
  const write = (level: string) => (message: string, details?: Record<string, unknown>) =>
    process.stderr.write(`[${level}] ${message}${details ? ` ${toJson(details)}` : ''}\n`);
  return { debug: write('debug'), info: write('info'), warn: write('warn') };
}

function nodeOptions(ctx: Context): PeerNetOptions {
  const f = ctx.flags;
  const port = parseIntFlag('port', f.port, 0, 65535);
  const udpPort = parseIntFlag('udp-port', f['udp-port'], 1, 65535);
  const interfaces = f.interfaces
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (f.interfaces !== undefined && (!interfaces || interfaces.length === 0)) throw usageError('--interfaces is empty');
  const log = logger(ctx);
  return {
    dataDir: ctx.dataDir,
    ...(f.host === undefined ? {} : { host: f.host }),
    ...(port === undefined ? {} : { port }),
    ...(udpPort === undefined ? {} : { udpPort }),
    ...(interfaces ? { interfaces } : {}),
    ...(f['no-discovery'] ? { discovery: [] } : {}),
    ...(log ? { logger: log } : {}),
  };
}

async function withTrust<T>(ctx: Context, use: (trust: FileTrustStore) => Promise<T>): Promise<T> {
  const trust = await openFileTrustStore({ path: join(ctx.dataDir, 'trust.json') });
  try {
    return await use(trust);
  } finally {
    await trust.close();
  }
}

// ---- commands --------------------------------------------------------------

async function cmdId(ctx: Context, rest: string[]): Promise<number> {
  noExtra(rest, 0);
  const identity = await loadOrCreateIdentity({ dataDir: ctx.dataDir });
  const id = identity.id.toString();
  if (ctx.json) {
    ctx.out(JSON.stringify({ id }));
  } else {
    ctx.out(id);
    if (!ctx.flags['no-qr'] && process.stdout.isTTY) ctx.out(renderQr(id));
  }
  return EXIT.ok;
}

async function cmdPair(ctx: Context, rest: string[]): Promise<number> {
  noExtra(rest, 1);
  const peer = parsePeer(rest[0]);
  const entry = await withTrust(ctx, (trust) =>
    trust.add(peer, ctx.flags.label === undefined ? {} : { label: ctx.flags.label }),
  );
  if (ctx.json) ctx.out(JSON.stringify({ paired: peer.toString(), label: entry.label ?? null }));
  else ctx.out(`paired ${peer.toString()}${entry.label ? ` (${entry.label})` : ''}`);
  return EXIT.ok;
}

async function cmdUnpair(ctx: Context, rest: string[]): Promise<number> {
  noExtra(rest, 1);
  const peer = parsePeer(rest[0]);
  const removed = await withTrust(ctx, (trust) => trust.remove(peer));
  if (!removed) throw new CliError('not_paired', `peer ${peer.toString()} is not paired`, EXIT.notPaired);
  if (ctx.json) ctx.out(JSON.stringify({ unpaired: peer.toString() }));
  else ctx.out(`unpaired ${peer.toString()}`);
  return EXIT.ok;
}

async function cmdPeers(ctx: Context, rest: string[]): Promise<number> {
  noExtra(rest, 0);
  const entries = await withTrust(ctx, async (trust) => trust.list());
  // Live status comes from a `peernet serve` running on this data dir, if there is one.
  const live = await querySnapshot(ctx.dataDir);
  const liveById = new Map(live?.peers.map((p) => [p.id, p]));
  const rows = entries.map((e) => ({
    id: e.id.toString(),
    label: e.label ?? null,
    status: live ? (liveById.get(e.id.toString())?.status ?? 'offline') : null,
    address: liveById.get(e.id.toString())?.address ?? null,
    added: new Date(e.addedAt).toISOString(),
  }));
  if (ctx.json) {
    ctx.out(JSON.stringify(rows));
    return EXIT.ok;
  }
  if (rows.length === 0) {
    ctx.out('no paired peers');
    return EXIT.ok;
  }
  const width = (header: string, values: (string | null)[]): number =>
    Math.max(header.length, ...values.map((v) => (v ?? '-').length));
  const labelWidth = width('LABEL', rows.map((r) => r.label));
  const statusWidth = width('STATUS', rows.map((r) => r.status));
  const addressWidth = width('ADDRESS', rows.map((r) => r.address));
  const line = (...cells: [string, number][]): string => cells.map(([text, w]) => text.padEnd(w)).join('  ').trimEnd();
  ctx.out(line(['ID', 52], ['LABEL', labelWidth], ['STATUS', statusWidth], ['ADDRESS', addressWidth], ['ADDED', 0]));
  for (const r of rows) {
    ctx.out(
      line([r.id, 52], [r.label ?? '-', labelWidth], [r.status ?? '-', statusWidth], [r.address ?? '-', addressWidth], [r.added, 0]),
    );
  }
  if (!live) ctx.out('(status unknown: no peernet serve is running on this data dir)');
  return EXIT.ok;
}

/** Resolves on the first SIGINT or SIGTERM (then stops listening for them). */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

function printChat(ctx: Context, peer: PeerId, args: Value): void {
  const text = typeof args === 'string' ? args : toJson(args);
  if (ctx.json) ctx.out(JSON.stringify({ event: 'chat', peer: peer.toString(), text }));
  else ctx.out(`<${peer.toString().slice(0, 8)}> ${text}`);
}

async function cmdServe(ctx: Context, rest: string[]): Promise<number> {
  noExtra(rest, 0);
  const exposed = ctx.flags.expose ?? [];
  for (const name of exposed) {
    if (name !== 'echo' && name !== 'chat') throw usageError(`--expose knows 'echo' and 'chat', not ${JSON.stringify(name)}`);
  }
  const event = (fields: Record<string, unknown>, text: string): void =>
    ctx.out(ctx.json ? JSON.stringify(fields) : text);
  // Two nodes with one identity would keep replacing each other's sessions.
  if (await querySnapshot(ctx.dataDir)) {
    throw new CliError('already_running', `another peernet serve is running on ${ctx.dataDir}`, EXIT.failure);
  }
  // The node gets a trust store we hold, so that edits by `peernet pair`/`unpair` can be reloaded into it.
  const trust = await openFileTrustStore({ path: join(ctx.dataDir, 'trust.json') });
  const closers: (() => Promise<void>)[] = [() => trust.close()];
  try {
    const node = await PeerNet.start({ ...nodeOptions(ctx), trust });
    closers.unshift(() => node.stop());
    if (exposed.includes('echo')) node.expose('echo', (args) => args);
    if (exposed.includes('chat')) node.expose('chat', (args, { peer }) => printChat(ctx, peer, args));
    const { host, port } = node.address;
    const id = node.id.toString();
    event({ event: 'listening', id, host, port }, `listening ${id} ${host}:${port}`);
    node.on('peer:online', (peer) => event({ event: 'online', peer: peer.toString() }, `online ${peer.toString()}`));
    node.on('peer:offline', (peer, reason) =>
      event(
        { event: 'offline', peer: peer.toString(), reason: reason?.code ?? null },
        `offline ${peer.toString()}${reason ? ` (${reason.code})` : ''}`,
      ),
    );
    closers.unshift(watchTrustFile(trust, event));
    closers.unshift(await answerStatus(ctx, node, `${host}:${port}`));
    await untilSignal();
  } finally {
    for (const close of closers) await close();
  }
  return EXIT.ok;
}

/** Reloads the trust file whenever another process rewrites it; returns the stopper. */
function watchTrustFile(
  trust: FileTrustStore,
  event: (fields: Record<string, unknown>, text: string) => void,
): () => Promise<void> {
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  const reload = (): void => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = trust
      .reload()
      .then(({ added, removed }) => {
        for (const e of removed) event({ event: 'unpaired', peer: e.id.toString() }, `unpaired ${e.id.toString()}`);
        for (const e of added) event({ event: 'paired', peer: e.id.toString() }, `paired ${e.id.toString()}`);
      })
      .catch((error: unknown) => {
        // A damaged edit leaves the pairings as they were; say so and keep serving.
        process.stderr.write(`peernet: ${classify(error).code}: ${(error as Error).message}\n`);
      })
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          reload();
        }
      });
  };
  // The file is replaced by a rename, so watch its directory, not the file.
  const watcher = watch(dirname(trust.path), (_, name) => {
    if (name === basename(trust.path)) reload();
  });
  watcher.on('error', () => watcher.close());
  return async () => {
    stopped = true;
    watcher.close();
    await running;
  };
}

/** Answers `peernet peers` on this data dir with the node's live view; returns the stopper. */
async function answerStatus(ctx: Context, node: PeerNet, listening: string): Promise<() => Promise<void>> {
  const snapshot = (): Snapshot => ({
    pid: process.pid,
    id: node.id.toString(),
    listening,
    peers: node.listPeers().map((p) => ({
      id: p.id.toString(),
      status: p.status,
      address: p.addresses[0] ? `${p.addresses[0].host}:${p.addresses[0].port}` : null,
    })),
  });
  try {
    const control = await serveSnapshots(ctx.dataDir, snapshot);
    return () => control.close();
  } catch (error) {
    if ((error as { code?: string }).code === 'already_running') {
      throw new CliError('already_running', (error as Error).message, EXIT.failure);
    }
    // E.g. a data dir path too long for a Unix socket: serving works, `peers` just shows no live status.
    logger(ctx)?.warn?.('live status for `peernet peers` is unavailable', { error: (error as Error).message });
    return async () => undefined;
  }
}

/** Starts a node and waits until `peer` is connected (dialling `--connect` if given) within `timeoutMs`. */
async function startConnected(
  ctx: Context,
  peer: PeerId,
  timeoutMs: number,
  setup: (node: PeerNet) => void = () => undefined,
): Promise<{ node: PeerNet; close: () => Promise<void> }> {
  const identity = await loadOrCreateIdentity({ dataDir: ctx.dataDir });
  const trust = await openFileTrustStore({ path: join(ctx.dataDir, 'trust.json') });
  if (!trust.has(peer)) {
    await trust.close();
    throw new CliError('not_paired', `peer ${peer.toString()} is not paired: run peernet pair ${peer.toString()} first`, EXIT.notPaired);
  }
  const address = ctx.flags.connect === undefined ? undefined : parseAddress(ctx.flags.connect);
  let node: PeerNet;
  try {
    node = await PeerNet.start({ ...nodeOptions(ctx), identity, trust });
  } catch (error) {
    await trust.close();
    throw error;
  }
  // Handlers go up before the session does, so nothing the peer sends first is refused.
  setup(node);
  const stop = async (): Promise<void> => {
    await node.stop();
    await trust.close();
  };
  try {
    const timeoutError = (): CliError =>
      new CliError('timeout', `peer ${peer.toString()} was not connected within ${timeoutMs} ms`, EXIT.timeout);
    if (address) {
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        await node.connect(peer, { ...address, signal });
      } catch (error) {
        if (signal.aborted) throw timeoutError();
        throw error;
      }
    } else if (!node.isConnected(peer)) {
      await new Promise<void>((resolve, reject) => {
        const onOnline = (p: PeerId): void => {
          if (!p.equals(peer)) return;
          clearTimeout(timer);
          node.off('peer:online', onOnline);
          resolve();
        };
        const timer = setTimeout(() => {
          node.off('peer:online', onOnline);
          reject(timeoutError());
        }, timeoutMs);
        node.on('peer:online', onOnline);
        if (node.isConnected(peer)) onOnline(peer);
      });
    }
  } catch (error) {
    await stop();
    throw error;
  }
  // A node does not close a trust store it was given: `close` stops both.
  return { node, close: stop };
}

async function cmdCall(ctx: Context, rest: string[], wantReply: boolean): Promise<number> {
  noExtra(rest, 3);
  const peer = parsePeer(rest[0]);
  const handle = rest[1];
  if (!handle) throw usageError('missing handle name');
  const args = parseJsonArg(rest[2]);
  const timeoutMs = parseIntFlag('timeout', ctx.flags.timeout, 1, 3_600_000) ?? 10_000;
  const started = Date.now();
  const { node, close } = await startConnected(ctx, peer, timeoutMs);
  try {
    if (wantReply) {
      const remaining = Math.max(1, timeoutMs - (Date.now() - started));
      const result = await node.call(peer, handle, args, { timeoutMs: remaining });
      ctx.out(ctx.json ? toJson({ result }) : toJson(result));
    } else {
      await node.send(peer, handle, args);
      if (ctx.json) ctx.out(JSON.stringify({ sent: true }));
    }
  } finally {
    await close();
  }
  return EXIT.ok;
}

async function cmdChat(ctx: Context, rest: string[]): Promise<number> {
  noExtra(rest, 1);
  const peer = parsePeer(rest[0]);
  const timeoutMs = parseIntFlag('timeout', ctx.flags.timeout, 1, 3_600_000) ?? 10_000;
  const { node, close } = await startConnected(ctx, peer, timeoutMs, (n) => {
    n.expose('chat', (args, { peer: from }) => printChat(ctx, from, args), { authorize: (from) => from.equals(peer) });
    if (ctx.flags.connect !== undefined) return;
    // Tell the user where the peer can reach us while we wait for it.
    const { host, port } = n.address;
    ctx.out(
      ctx.json
        ? JSON.stringify({ event: 'waiting', peer: peer.toString(), host, port })
        : `waiting for ${peer.toString()} (listening on ${host}:${port})`,
    );
  });
  let failure: unknown;
  try {
    const offline = new Promise<void>((resolve) =>
      node.on('peer:offline', (p) => {
        if (p.equals(peer)) resolve();
      }),
    );
    ctx.out(ctx.json ? JSON.stringify({ event: 'connected', peer: peer.toString() }) : `connected to ${peer.toString()}; type lines, Ctrl-D to quit`);
    const lines = createInterface({ input: process.stdin, terminal: false });
    const done = new Promise<void>((resolve) => lines.once('close', () => resolve()));
    lines.on('line', (line) => {
      if (line === '') return;
      node.send(peer, 'chat', line).catch((error: unknown) => {
        failure = error;
        lines.close();
      });
    });
    await Promise.race([done, offline, untilSignal()]);
    lines.close();
    process.stdin.destroy();
  } finally {
    await close();
  }
  if (failure) throw failure;
  return EXIT.ok;
}
