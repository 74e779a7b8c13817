// The commands that run a node: serve, call, send and chat.
import { watch } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Duplex } from 'node:stream';
import { PeerNet, PeerId, type PeerNetError, type WireValue } from 'peernet';
import { loadOrCreateIdentity } from '@peernet/identity';
import { openFileTrustStore, type FileTrustStore } from '@peernet/trust';
import { querySnapshot, serveSnapshots, type Snapshot } from './control.js';
import {
  connectAddress,
  dhtSettings,
  logger,
  nodeOptions,
  parseJsonArg,
  parsePeer,
  stringFlag,
  timeoutOf,
  toJson,
  type Context,
} from './context.js';
import {
  DEFAULT_MAX_FILE_BYTES,
  FILE_STREAM,
  printable,
  receiveFile,
  sendFile,
  shownName,
  withPrintableMessage,
  type ReceiveOptions,
} from './files.js';
import { CliError, EXIT, classify, usageError } from './exit.js';

type Event = (fields: Record<string, unknown>, text: string) => void;

const eventPrinter =
  (ctx: Context): Event =>
  (fields, text) =>
    ctx.out(ctx.json ? JSON.stringify(fields) : text);

/** Resolves on the first SIGINT or SIGTERM (then stops listening for them). */
export function untilSignal(): Promise<NodeJS.Signals> {
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

const codeOf = (error: unknown): unknown => (error as { code?: unknown } | null)?.code;

/**
 * The peer refused our session because it has not paired us: what to run on
 * its side is the one thing the user needs, so the message ends with it.
 */
function refusal(node: PeerNet, peer: PeerId): CliError {
  const self = node.id.toString();
  return new CliError(
    'refused_by_peer',
    `peer ${peer.toString()} refused us: it has not paired this node (${self}); to let us in, run on that node: peernet pair ${self}`,
    EXIT.notPaired,
  );
}

/** `error` as the CLI reports it: a refusal with the command that fixes it, anything else as it is. */
function explained(node: PeerNet, peer: PeerId, error: unknown): unknown {
  return codeOf(error) === 'refused_by_peer' ? refusal(node, peer) : error;
}

function printChat(ctx: Context, peer: PeerId, args: WireValue): void {
  const text = typeof args === 'string' ? args : toJson(args);
  if (ctx.json) ctx.out(JSON.stringify({ event: 'chat', peer: peer.toString(), text }));
  else ctx.out(`<${peer.toString().slice(0, 8)}> ${text}`);
}

/** `peernet serve`: a node until SIGINT/SIGTERM, one line per event. */
export async function cmdServe(ctx: Context): Promise<number> {
  const exposed = ctx.flags.expose ?? [];
  for (const name of exposed) {
    if (name !== 'echo' && name !== 'chat') throw usageError(`--expose knows 'echo' and 'chat', not ${JSON.stringify(name)}`);
  }
  const options = await nodeOptions(ctx);
  const overDht = await dhtSettings(ctx);
  const accept = await acceptFilesOptions(ctx);
  const event = eventPrinter(ctx);
  // Two nodes with one identity would keep replacing each other's sessions.
  if (await querySnapshot(ctx.dataDir)) {
    throw new CliError('already_running', `another peernet serve is running on ${ctx.dataDir}`);
  }
  // The node gets a trust store we hold, so that edits by `peernet pair`/`unpair` can be reloaded into it.
  const trust = await openFileTrustStore({ path: join(ctx.dataDir, 'trust.json') });
  const closers: (() => Promise<void>)[] = [() => trust.close()];
  try {
    const node = await PeerNet.start({ ...options, trust });
    const receiving = new Set<Promise<void>>();
    closers.unshift(async () => {
      await node.stop();
      // Stopping ends every stream; each receipt then removes its temporary file before we exit.
      await Promise.all(receiving);
    });
    if (exposed.includes('echo')) node.expose('echo', (args) => args);
    if (exposed.includes('chat')) node.expose('chat', (args, { peer }) => printChat(ctx, peer, args));
    if (accept) {
      node.exposeStream(FILE_STREAM, (stream, { peer }) => {
        const receipt = receiveFile(stream, accept).then((outcome) => {
          const from = peer.toString();
          if (outcome.ok) {
            const { name, bytes, sha256 } = outcome;
            event(
              { event: 'received', peer: from, name, bytes, sha256, path: outcome.path },
              `received ${name} from ${from}: ${bytes} bytes, sha256 ${sha256}`,
            );
          } else {
            const code = outcome.error.code;
            // A reset's reason is the peer's text, and the name may be what was refused: neither is printed raw.
            const message = printable(outcome.error.message);
            const name = outcome.name === undefined ? 'a file' : shownName(outcome.name);
            event(
              { event: 'not-received', peer: from, name: outcome.name ?? null, code, message },
              `not received ${name} from ${from} (${code}: ${message})`,
            );
          }
        });
        const tracked = receipt.finally(() => receiving.delete(tracked));
        receiving.add(tracked);
        return tracked;
      });
    }
    const { host, port } = node.address;
    const id = node.id.toString();
    event({ event: 'listening', id, host, port }, `listening ${id} ${host}:${port}`);
    // Reached here, the DHT listener has announced the node: paired peers can find it by id.
    if (overDht) {
      const network = overDht.bootstrap ? 'private' : 'public';
      event(
        { event: 'dht', id, network, bootstrap: overDht.bootstrap ?? null },
        `dht listening ${id} (${overDht.bootstrap ? `private network, bootstrap ${overDht.bootstrap.join(',')}` : 'PUBLIC network'})`,
      );
    }
    node.on('peer:online', (peer) => event({ event: 'online', peer: peer.toString() }, `online ${peer.toString()}`));
    node.on('peer:offline', (peer, reason) =>
      event(
        { event: 'offline', peer: peer.toString(), reason: reason?.code ?? null },
        `offline ${peer.toString()}${reason ? ` (${reason.code})` : ''}`,
      ),
    );
    // The stranger's id is what its owner needs us to pair, so it is printed with the command.
    node.on('peer:refused', ({ peer, address, reason }) =>
      event(
        { event: 'refused', peer: peer.toString(), address: address ?? null, reason },
        `refused ${peer.toString()} (not paired; to let it in run: peernet pair ${peer.toString()})`,
      ),
    );
    // An unpairing made by `peernet unpair` ends the peer's session at once, as `node.unpair` does.
    const closeSession = (peer: PeerId): void => void node.unpair(peer).catch(() => undefined);
    closers.unshift(watchTrustFile(trust, event, closeSession));
    closers.unshift(await answerStatus(ctx, node, `${host}:${port}`));
    await untilSignal();
  } finally {
    for (const close of closers) await close();
  }
  return EXIT.ok;
}

/**
 * The `--accept-files` settings, checked before a node starts: DIR must be an
 * existing directory and not the data dir (a peer could otherwise replace
 * identity.key or trust.json with --overwrite).
 */
async function acceptFilesOptions(ctx: Context): Promise<ReceiveOptions | undefined> {
  const given = stringFlag(ctx.flags, 'accept-files');
  const maxText = stringFlag(ctx.flags, 'max-file-bytes');
  if (given === undefined) {
    if (maxText !== undefined || ctx.flags.overwrite) throw usageError('--max-file-bytes and --overwrite need --accept-files DIR');
    return undefined;
  }
  if (given === '') throw usageError('--accept-files needs a directory: --accept-files DIR');
  let found;
  try {
    found = await stat(given);
  } catch (error) {
    const reason = codeOf(error) === 'ENOENT' ? 'no such directory (create it first)' : (error as Error).message;
    throw usageError(`--accept-files ${given}: ${reason}`);
  }
  if (!found.isDirectory()) throw usageError(`--accept-files ${given} is not a directory`);
  const dir = await realpath(given);
  const dataDir = await realpath(ctx.dataDir).catch(() => resolve(ctx.dataDir));
  if (dir === dataDir) {
    throw usageError(`--accept-files must not be the data dir (${ctx.dataDir}): peers could replace its files; use a directory of its own`);
  }
  let maxBytes = DEFAULT_MAX_FILE_BYTES;
  if (maxText !== undefined) {
    if (!/^\d+$/.test(maxText) || !Number.isSafeInteger(Number(maxText))) {
      throw usageError(`--max-file-bytes must be a whole number of bytes, got ${JSON.stringify(maxText)}`);
    }
    maxBytes = Number(maxText);
  }
  return { dir, maxBytes, overwrite: ctx.flags.overwrite === true };
}

/** Reloads the trust file whenever another process rewrites it; returns the stopper. */
function watchTrustFile(trust: FileTrustStore, event: Event, onRemoved: (peer: PeerId) => void): () => Promise<void> {
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
        for (const e of removed) {
          event({ event: 'unpaired', peer: e.id.toString() }, `unpaired ${e.id.toString()}`);
          onRemoved(e.id);
        }
        for (const e of added) event({ event: 'paired', peer: e.id.toString() }, `paired ${e.id.toString()}`);
      })
      .catch((error: unknown) => {
        // A damaged edit leaves the pairings as they were; say so and keep serving.
        const { code, message } = classify(error);
        process.stderr.write(`peernet: ${code}: ${message}\n`);
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

/** An address as `peers` shows it: `host:port`, or `dht` for the DHT's (whose host is the peer's own id). */
function addressText(address: { transport?: string; host: string; port: number }): string {
  return address.transport === 'dht' ? 'dht' : `${address.host}:${address.port}`;
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
      address: p.addresses[0] ? addressText(p.addresses[0]) : null,
      transport: p.transport ?? null,
    })),
  });
  try {
    const control = await serveSnapshots(ctx.dataDir, snapshot);
    return () => control.close();
  } catch (error) {
    if (codeOf(error) === 'already_running') throw new CliError('already_running', (error as Error).message);
    // E.g. a data dir path too long for a Unix socket: serving works, `peers` just shows no live status.
    logger(ctx)?.warn?.('live status for `peernet peers` is unavailable', { error: (error as Error).message });
    return async () => undefined;
  }
}

/**
 * Starts a node and waits until `peer` is connected within `timeoutMs`:
 * dialling `--connect` if given, else waiting for discovery or the peer's
 * own dial. A refusal by the peer ends the wait at once.
 */
async function startConnected(
  ctx: Context,
  peer: PeerId,
  timeoutMs: number,
  setup: (node: PeerNet) => void = () => undefined,
): Promise<{ node: PeerNet; close: () => Promise<void> }> {
  const address = connectAddress(ctx);
  const options = await nodeOptions(ctx);
  const identity = await loadOrCreateIdentity({ dataDir: ctx.dataDir });
  const trust = await openFileTrustStore({ path: join(ctx.dataDir, 'trust.json') });
  if (!trust.has(peer)) {
    await trust.close();
    throw new CliError('not_paired', `peer ${peer.toString()} is not paired: run peernet pair ${peer.toString()} first`);
  }
  let node: PeerNet;
  try {
    node = await PeerNet.start({ ...options, identity, trust });
  } catch (error) {
    await trust.close();
    throw error;
  }
  // Handlers go up before the session does, so nothing the peer sends first is refused.
  setup(node);
  // A node does not close a trust store it was given: `close` stops both.
  const close = async (): Promise<void> => {
    await node.stop();
    await trust.close();
  };
  try {
    if (address) {
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        await node.connect(peer, { ...address, signal });
      } catch (error) {
        if (signal.aborted && codeOf(error) !== 'refused_by_peer') {
          throw new CliError('timeout', `peer ${peer.toString()} was not connected at ${address.host}:${address.port} within ${timeoutMs} ms`);
        }
        throw error;
      }
    } else {
      await node.waitForPeer(peer, { timeoutMs });
    }
  } catch (error) {
    await close();
    throw explained(node, peer, error);
  }
  return { node, close };
}

/** `peernet call` and `peernet send`. */
export async function cmdCall(ctx: Context, args: readonly string[], wantReply: boolean): Promise<number> {
  const peer = parsePeer(args[0] as string);
  const handle = args[1] as string;
  const value = parseJsonArg(args[2]);
  const timeoutMs = timeoutOf(ctx);
  const started = Date.now();
  const { node, close } = await startConnected(ctx, peer, timeoutMs);
  try {
    if (wantReply) {
      const remaining = Math.max(1, timeoutMs - (Date.now() - started));
      const result = await node.call(peer, handle, value, { timeoutMs: remaining });
      ctx.out(ctx.json ? toJson({ result }) : toJson(result));
    } else {
      await node.send(peer, handle, value);
      if (ctx.json) ctx.out(JSON.stringify({ sent: true }));
    }
  } catch (error) {
    throw explained(node, peer, error);
  } finally {
    await close();
  }
  return EXIT.ok;
}

/** `peernet chat`: stdin lines to the peer, its chat to stdout, its comings and goings said. */
export async function cmdChat(ctx: Context, text: string): Promise<number> {
  const peer = parsePeer(text);
  const timeoutMs = timeoutOf(ctx);
  const dialling = connectAddress(ctx) !== undefined;
  const event = eventPrinter(ctx);
  const id = peer.toString();
  const { node, close } = await startConnected(ctx, peer, timeoutMs, (n) => {
    n.expose('chat', (args, { peer: from }) => printChat(ctx, from, args), { authorize: (from) => from.equals(peer) });
    if (dialling) return;
    // Tell the user where the peer can reach us while we wait for it.
    const { host, port } = n.address;
    event({ event: 'waiting', peer: id, host, port }, `waiting for ${id} (listening on ${host}:${port})`);
  });
  const ended = new AbortController();
  let fatal: unknown;
  let unsent = 0;
  const pending = new Set<Promise<void>>();
  try {
    event({ event: 'connected', peer: id }, `connected to ${id}; type lines, Ctrl-D to quit`);
    const lines = createInterface({ input: process.stdin, terminal: false });
    const done = new Promise<void>((resolve) => lines.once('close', () => resolve()));
    const stop = new Promise<void>((resolve) => ended.signal.addEventListener('abort', () => resolve(), { once: true }));

    // Once the peer is gone, wait for it to come back; a refusal (it unpaired us) ends the chat.
    const awaitReturn = async (): Promise<void> => {
      while (!ended.signal.aborted) {
        try {
          await node.waitForPeer(peer, { timeoutMs: 3_600_000, signal: ended.signal });
          event({ event: 'online', peer: id }, `online ${id}`);
          return;
        } catch (error) {
          const code = codeOf(error);
          if (code === 'timeout') continue;
          if (code === 'refused_by_peer' || code === 'untrusted_peer') {
            fatal = explained(node, peer, error);
            ended.abort();
          }
          return;
        }
      }
    };
    node.on('peer:offline', (p, reason: PeerNetError | undefined) => {
      if (!p.equals(peer) || ended.signal.aborted) return;
      event(
        { event: 'offline', peer: id, reason: reason?.code ?? null },
        `offline ${id}${reason ? ` (${reason.code})` : ''}; waiting for it to come back (Ctrl-D to quit)`,
      );
      void awaitReturn();
    });

    lines.on('line', (line) => {
      if (line === '') return;
      const sending = node
        .send(peer, 'chat', line)
        .catch((error: unknown) => {
          // The chat goes on: the peer may come back. The line is not queued, and the user is told so.
          unsent++;
          const { code, message } = classify(explained(node, peer, error));
          process.stderr.write(
            ctx.json
              ? `${JSON.stringify({ error: { code, message: `not sent: ${message}` }, line })}\n`
              : `peernet: ${code}: not sent: ${message}\n`,
          );
        })
        .finally(() => pending.delete(sending));
      pending.add(sending);
    });
    await Promise.race([done, stop, untilSignal()]);
    lines.close();
    process.stdin.destroy();
    await Promise.all(pending);
  } finally {
    ended.abort();
    await close();
  }
  if (fatal) throw fatal;
  if (unsent > 0) {
    throw new CliError('not_connected', `${unsent} line${unsent === 1 ? ' was' : 's were'} not sent while ${id} was offline`);
  }
  return EXIT.ok;
}

/** Opens the file `send-file` sends; what cannot be sent is refused before any node starts. */
async function openForSending(path: string): Promise<{ handle: FileHandle; size: number }> {
  const unreadable = (error: unknown): CliError => {
    const code = codeOf(error);
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (error as Error).message;
    return new CliError('invalid_argument', `cannot read ${path}: ${reason}`, EXIT.usage);
  };
  let found;
  try {
    found = await stat(path);
  } catch (error) {
    throw unreadable(error);
  }
  // Checked before opening: opening a FIFO would wait for a writer.
  if (found.isDirectory()) throw new CliError('invalid_argument', `${path} is a directory: send-file sends one file (send each file in turn)`, EXIT.usage);
  if (!found.isFile()) throw new CliError('invalid_argument', `${path} is not a regular file`, EXIT.usage);
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw unreadable(error);
  }
  try {
    const opened = await handle.stat();
    if (!opened.isFile()) throw new CliError('invalid_argument', `${path} is not a regular file`, EXIT.usage);
    return { handle, size: opened.size };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** The peer's refusal to open its file stream, with what to do about it. */
function streamRefusal(peer: PeerId, error: unknown): unknown {
  const code = codeOf(error);
  if (code === 'no_such_handle') {
    return new CliError('no_such_handle', `peer ${peer.toString()} does not accept files (run \`peernet serve --accept-files DIR\` there)`);
  }
  if (code === 'forbidden') return new CliError('forbidden', `peer ${peer.toString()} does not accept files from this node`);
  if (code === 'timeout') return new CliError('timeout', `peer ${peer.toString()} did not accept the file stream in time`);
  return withPrintableMessage(error);
}

/** `peernet send-file`: one file to a peer's `serve --accept-files`. */
export async function cmdSendFile(ctx: Context, args: readonly string[]): Promise<number> {
  const peer = parsePeer(args[0] as string);
  const path = args[1] as string;
  const name = stringFlag(ctx.flags, 'name') ?? basename(path);
  // Only emptiness is checked here: which names it accepts is the receiver's to say (bad_request).
  if (name === '') throw usageError('--name is empty');
  const timeoutMs = timeoutOf(ctx);
  const file = await openForSending(path);
  try {
    const started = Date.now();
    const { node, close } = await startConnected(ctx, peer, timeoutMs);
    try {
      const remaining = Math.max(1, timeoutMs - (Date.now() - started));
      let stream: Duplex;
      try {
        stream = await node.openStream(peer, FILE_STREAM, { timeoutMs: remaining });
      } catch (error) {
        throw streamRefusal(peer, error);
      }
      const sent = await sendFile(stream, { ...file, name, path });
      ctx.out(
        ctx.json
          ? JSON.stringify({ sent: name, peer: peer.toString(), bytes: sent.bytes, sha256: sent.sha256 })
          : `sent ${name}: ${sent.bytes} bytes, sha256 ${sent.sha256}`,
      );
    } catch (error) {
      throw explained(node, peer, error);
    } finally {
      await close();
    }
  } finally {
    await file.handle.close();
  }
  return EXIT.ok;
}
