import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidPeerIdError } from 'peernet';
import { KEYFILE_NAME, loadIdentity, loadOrCreateIdentity } from '@peernet/identity';
import { parseCommandLine } from './args.js';
import { parsePeer, stringFlag, withTrust, type Context } from './context.js';
import { defaultDataDir } from './data-dir.js';
import { querySnapshot } from './control.js';
import { CliError, EXIT, report } from './exit.js';
import { cliVersion, commandHelp, overviewText } from './help.js';
import { cmdDhtBootstrap, cmdDhtRelay } from './dht.js';
import { cmdCall, cmdChat, cmdSendFile, cmdServe } from './network.js';
import { cmdInvite, cmdJoin } from './pairing.js';
import { renderQr } from './qr.js';

export { EXIT, CliError } from './exit.js';

/** Runs the CLI with `argv` (without node and script); resolves with the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  // Known before parsing, so that even a usage error is reported as JSON when asked.
  let json = argv.includes('--json');
  try {
    const parsed = parseCommandLine(argv);
    if (parsed.kind === 'version') {
      process.stdout.write(json ? `${JSON.stringify({ version: cliVersion() })}\n` : `${cliVersion()}\n`);
      return EXIT.ok;
    }
    if (parsed.kind === 'help') {
      process.stdout.write(parsed.command ? commandHelp(parsed.command) : overviewText());
      return EXIT.ok;
    }
    const { command, args, flags } = parsed;
    json = flags.json === true;
    const ctx: Context = {
      flags,
      dataDir: stringFlag(flags, 'data-dir') || defaultDataDir(),
      json,
      out: (text) => process.stdout.write(`${text}\n`),
    };
    await checkDataDir(ctx.dataDir);
    switch (command.name) {
      case 'id':
        return await cmdId(ctx);
      case 'pair':
        return await cmdPair(ctx, args[0] as string);
      case 'invite':
        return await cmdInvite(ctx);
      case 'join':
        return await cmdJoin(ctx, args[0] as string);
      case 'unpair':
        return await cmdUnpair(ctx, args[0] as string);
      case 'peers':
        return await cmdPeers(ctx);
      case 'serve':
        return await cmdServe(ctx);
      case 'call':
        return await cmdCall(ctx, args, true);
      case 'send':
        return await cmdCall(ctx, args, false);
      case 'send-file':
        return await cmdSendFile(ctx, args);
      case 'dht-bootstrap':
        return await cmdDhtBootstrap(ctx);
      case 'dht-relay':
        return await cmdDhtRelay(ctx);
      default:
        return await cmdChat(ctx, args[0] as string);
    }
  } catch (error) {
    return report(error, json);
  }
}

/**
 * Refuses a data dir that is a file, or lies below one, as `not_a_directory`
 * (exit 7, with the other data dir problems): the libraries report it as
 * `invalid_argument`, which here would read as a usage error.
 */
async function checkDataDir(dir: string): Promise<void> {
  let found;
  try {
    found = await stat(dir);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOTDIR') {
      throw new CliError('not_a_directory', `data directory ${dir} is not a directory: a component of its path is a file`);
    }
    // Missing: it is created. Other failures are reported, with their path, by the code that uses it.
    return;
  }
  if (!found.isDirectory()) {
    throw new CliError('not_a_directory', `data directory ${dir} is not a directory (it is a file): give --data-dir a directory`);
  }
}

// ---- commands without a network ---------------------------------------------

async function cmdId(ctx: Context): Promise<number> {
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

async function cmdPair(ctx: Context, text: string): Promise<number> {
  const peer = parsePeer(text);
  // Only an existing key can be ours: pairing must not create an identity as a side effect.
  const keyfile = join(ctx.dataDir, KEYFILE_NAME);
  if (existsSync(keyfile) && (await loadIdentity(keyfile)).id.equals(peer)) {
    throw new InvalidPeerIdError(
      `${peer.toString()} is this node's own id (data dir ${ctx.dataDir}): pair the id the other node prints with peernet id`,
    );
  }
  const label = stringFlag(ctx.flags, 'label');
  const entry = await withTrust(ctx, (trust) => trust.add(peer, label === undefined ? {} : { label }));
  if (ctx.json) ctx.out(JSON.stringify({ paired: peer.toString(), label: entry.label ?? null }));
  else ctx.out(`paired ${peer.toString()}${entry.label ? ` (${entry.label})` : ''}`);
  return EXIT.ok;
}

async function cmdUnpair(ctx: Context, text: string): Promise<number> {
  const peer = parsePeer(text);
  const removed = await withTrust(ctx, (trust) => trust.remove(peer));
  if (!removed) throw new CliError('not_paired', `peer ${peer.toString()} is not paired`);
  if (ctx.json) ctx.out(JSON.stringify({ unpaired: peer.toString() }));
  else ctx.out(`unpaired ${peer.toString()}`);
  return EXIT.ok;
}

async function cmdPeers(ctx: Context): Promise<number> {
  const entries = await withTrust(ctx, async (trust) => trust.list());
  // Live status comes from a `peernet serve` running on this data dir, if there is one.
  const live = await querySnapshot(ctx.dataDir);
  const liveById = new Map(live?.peers.map((p) => [p.id, p]));
  const rows = entries.map((e) => ({
    id: e.id.toString(),
    label: e.label ?? null,
    status: live ? (liveById.get(e.id.toString())?.status ?? 'offline') : null,
    // The transport of the live session (`tcp`, `dht`); null when offline or unknown.
    transport: liveById.get(e.id.toString())?.transport ?? null,
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
  const transportWidth = width('TRANSPORT', rows.map((r) => r.transport));
  const addressWidth = width('ADDRESS', rows.map((r) => r.address));
  const line = (...cells: [string, number][]): string => cells.map(([text, w]) => text.padEnd(w)).join('  ').trimEnd();
  ctx.out(
    line(['ID', 52], ['LABEL', labelWidth], ['STATUS', statusWidth], ['TRANSPORT', transportWidth], ['ADDRESS', addressWidth], ['ADDED', 0]),
  );
  for (const r of rows) {
    ctx.out(
      line(
        [r.id, 52],
        [r.label ?? '-', labelWidth],
        [r.status ?? '-', statusWidth],
        [r.transport ?? '-', transportWidth],
        [r.address ?? '-', addressWidth],
        [r.added, 0],
      ),
    );
  }
  if (!live) ctx.out('(status unknown: no peernet serve is running on this data dir)');
  return EXIT.ok;
}
