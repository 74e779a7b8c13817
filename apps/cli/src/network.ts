// The commands that run a node: serve, call, send and chat.
import { watch } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { PeerNet, PeerId, type PeerNetError, type WireValue } from 'peernet';
import { loadOrCreateIdentity } from '@peernet/identity';
import { openFileTrustStore, type FileTrustStore } from '@peernet/trust';
import { querySnapshot, serveSnapshots, type Snapshot } from './control.js';
import {
  connectAddress,
  logger,
  nodeOptions,
  parseJsonArg,
  parsePeer,
  timeoutOf,
  toJson,
  type Context,
} from './context.js';
import { CliError, EXIT, classify, usageError } from './exit.js';

type Event = (fields: Record<string, unknown>, text: string) => void;

const eventPrinter =
  (ctx: Context): Event =>
  (fields, text) =>
    ctx.out(ctx.json ? JSON.stringify(fields) : text);

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
  const options = nodeOptions(ctx);
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
  const options = nodeOptions(ctx);
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
