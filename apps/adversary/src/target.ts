import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PeerId, type PeerNetOptions, type Value } from 'peernet';
import { PendingReplies } from './pending-replies.js';

/** A command for the node under attack. */
export type TargetRequest =
  | { op: 'pair'; peer: string; label?: string }
  | { op: 'unpair'; peer: string }
  | { op: 'grant'; peer: string }
  | { op: 'connect'; peer: string; port: number }
  | { op: 'call'; peer: string; name: string; args?: Value; timeoutMs?: number }
  | { op: 'invite'; label?: string; ttlMs?: number; attempts?: number }
  | { op: 'inviteOutcome'; invite: number; waitMs?: number }
  | { op: 'cancelInvite'; invite: number }
  | { op: 'peers' }
  | { op: 'stats'; gc?: boolean }
  | { op: 'resetStats' }
  | { op: 'stop' };

/** Options of `Target.invite`: those of `PeerNet.invite`, without the signal. */
export interface TargetInviteOptions {
  label?: string;
  ttlMs?: number;
  attempts?: number;
}

/** An invite the node under attack opened. */
export interface TargetInvite {
  /** Names the invite in `inviteOutcome` and `cancelInvite`. */
  handle: number;
  code: string;
  uri: string;
  expiresAt: number;
}

/** How an invite ended so far: still open, paired a peer (with the run's SAS), or closed without pairing. */
export type TargetInviteOutcome =
  | { state: 'open' }
  | { state: 'paired'; peer: string; label?: string; sas: string }
  | { state: 'closed'; code: string; reason: string };

/** What the node under attack reports about itself. */
export interface TargetStats {
  /** Resident set size of the node's process, bytes. */
  rss: number;
  heapUsed: number;
  /** Memory outside the JS heap (Buffers, ArrayBuffers), bytes. */
  external: number;
  /** `process.getActiveResourcesInfo()` counted by kind (`TCPSocketWrap`, `Timeout`, ...). */
  resources: Record<string, number>;
  /** Handler runs by peer id (text form) and handler name. */
  runs: Record<string, Record<string, number>>;
  /** `slow` handlers running now, and the most at once since the last reset. */
  slowInFlight: number;
  slowMaxInFlight: number;
  /** `hold` handlers running now, and the most at once since the last reset. */
  holdInFlight: number;
  holdMaxInFlight: number;
  /** The largest `heapUsed` sampled (every 20 ms, and at each stats request) since the last reset. */
  heapPeak: number;
  /** The node's event-loop delay since the last reset (99th percentile and maximum, ms): how long it was kept from anything else. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** Paired peers with a live session. */
  online: number;
  /** Warnings the node logged, by message (and code), with counts. */
  warnings: Record<string, number>;
  /** Arguments of `record` sends, by sender. */
  received: Record<string, Value[]>;
}

/** Options of `spawnTarget`. */
export interface TargetOptions extends Partial<Omit<PeerNetOptions, 'logger' | 'transport' | 'identity' | 'trust' | 'discovery' | 'crypto'>> {
  /** Open files the node's process needs (its limit is raised with `prlimit` when below). */
  fileLimit?: number;
  /** Extra flags for the node's `node` process, e.g. `--max-old-space-size=1024`. */
  nodeArgs?: string[];
}

const here = dirname(fileURLToPath(import.meta.url));

/** The built child script (this module may run from `src/` under jest or from `dist/`). */
function targetScript(): string {
  const script = join(here, '..', 'dist', 'target-node.js');
  if (!existsSync(script)) {
    throw new Error(`${script} is missing: the node under attack runs from the build. Run: pnpm turbo run build --filter @peernet/adversary...`);
  }
  return script;
}

/** The soft (or hard) limit on open files of this process (from /proc; Infinity where unknown). */
export function openFileLimit(which: 'soft' | 'hard' = 'soft'): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const value = line?.split(/\s{2,}/)[which === 'soft' ? 1 : 2];
    return value === undefined || value === 'unlimited' ? Infinity : Number(value);
  } catch {
    return Infinity;
  }
}

/** The `--nofile` argument of prlimit that gives at least `needed` files, or throws why it cannot. */
function nofileArgument(needed: number): string {
  const hard = openFileLimit('hard');
  // Raising the soft limit up to the hard one needs no privilege; beyond it needs root.
  const limit = hard >= needed ? `${needed}:${hard === Infinity ? 'unlimited' : hard}` : `${needed}:${needed}`;
  return `--nofile=${limit}`;
}

/**
 * Makes sure this process may open `needed` files, raising its soft limit
 * with `prlimit` if it can. Throws with the reason when it cannot, so a flood
 * test fails on the machine's limit, not on a confusing EMFILE.
 */
export function ensureOwnFileLimit(needed: number): void {
  if (openFileLimit() >= needed) return;
  const result = spawnSync('prlimit', [`--pid=${process.pid}`, nofileArgument(needed)], { encoding: 'utf8' });
  if (openFileLimit() < needed) {
    throw new Error(
      `this test needs ${needed} open files but the limit is ${openFileLimit()} ` +
        `(prlimit: ${result.error?.message ?? result.stderr.trim()}); raise it with ulimit -n`,
    );
  }
}

/**
 * A PeerNet node running in a child process, with handlers `echo`, `slow`,
 * `hold` (keeps its arguments for 30 s, or until cancelled), `record` and
 * `admin` (authorised peers only), and the stream handler `stream-echo`.
 * It opens invites on request and reports how they ended.
 */
export class Target {
  readonly id: PeerId;
  readonly port: number;
  readonly pid: number;
  readonly dataDir: string;
  readonly #child: ChildProcess;
  readonly #ownsDir: boolean;
  readonly #replies = new PendingReplies();
  #stderr = '';
  /** Resolves with the exit code or signal when the process ends. */
  readonly exited: Promise<string>;

  private constructor(child: ChildProcess, ready: { id: string; port: number; pid: number }, dataDir: string, ownsDir: boolean, stderr: string) {
    this.#child = child;
    this.id = PeerId.parse(ready.id);
    this.port = ready.port;
    this.pid = ready.pid;
    this.dataDir = dataDir;
    this.#ownsDir = ownsDir;
    this.#stderr = stderr;
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-8192);
    });
    child.on('message', (message: { seq: number; ok: boolean; result?: unknown; error?: { code: string; message: string } }) => {
      const error = message.ok ? undefined : Object.assign(new Error(message.error?.message), { code: message.error?.code });
      this.#replies.settle(message.seq, message.result, error);
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.#replies.rejectAll(new Error(`the node's process exited (${signal ?? code}): ${this.#stderr}`));
        resolve(signal ?? String(code));
      }),
    );
  }

  /** Starts a node in a child process; resolves once it listens on 127.0.0.1. */
  static async spawn(options: TargetOptions = {}): Promise<Target> {
    const { fileLimit, nodeArgs = [], ...nodeOptions } = options;
    const ownsDir = nodeOptions.dataDir === undefined;
    const dataDir = nodeOptions.dataDir ?? mkdtempSync(join(tmpdir(), 'peernet-target-'));
    const args = ['--expose-gc', ...nodeArgs, targetScript(), JSON.stringify({ ...nodeOptions, dataDir })];
    // The child opens no TLS connection; without this variable its start skips parsing a CA bundle.
    const { NODE_EXTRA_CA_CERTS: _unused, ...env } = process.env;
    const raise = fileLimit !== undefined && openFileLimit() < fileLimit;
    const child = raise
      ? spawn('prlimit', [nofileArgument(fileLimit), process.execPath, ...args], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env })
      : spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env });
    let stderr = '';
    const onErr = (chunk: Buffer): void => void (stderr += chunk.toString());
    child.stderr?.on('data', onErr);
    try {
      const ready = await new Promise<{ id: string; port: number; pid: number }>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code, signal) => reject(new Error(`the node exited (${signal ?? code}) before it was ready: ${stderr}`)));
        child.on('message', (message: { ready?: { id: string; port: number; pid: number } }) => {
          if (message.ready) resolve(message.ready);
        });
      });
      child.stderr?.off('data', onErr);
      child.removeAllListeners('exit');
      child.removeAllListeners('error');
      child.on('error', () => undefined);
      return new Target(child, ready, dataDir, ownsDir, stderr);
    } catch (error) {
      child.kill('SIGKILL');
      if (ownsDir) rmSync(dataDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Sends a command and resolves with its result. */
  request<T = unknown>(request: TargetRequest, timeoutMs = 30_000): Promise<T> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) {
      return Promise.reject(new Error(`the node's process has exited: ${this.#stderr}`));
    }
    return this.#replies.request<T>(
      (seq) => this.#child.send({ seq, request }),
      timeoutMs,
      () => new Error(`the node did not answer '${request.op}' within ${timeoutMs} ms`),
    );
  }

  /** Pairs `peer` on the node. */
  pair(peer: PeerId | string, label?: string): Promise<void> {
    return this.request({ op: 'pair', peer: peer.toString(), ...(label === undefined ? {} : { label }) });
  }

  /** Opens an invite on the node (`PeerNet.invite`); its code and URI. */
  invite(options: TargetInviteOptions = {}): Promise<TargetInvite> {
    return this.request({ op: 'invite', ...options });
  }

  /**
   * How the invite `handle` has ended: at once, or once it ends within
   * `waitMs` (still `open` if it did not).
   */
  inviteOutcome(handle: number, waitMs = 0): Promise<TargetInviteOutcome> {
    return this.request({ op: 'inviteOutcome', invite: handle, waitMs }, waitMs + 30_000);
  }

  /** Cancels the invite `handle`. */
  cancelInvite(handle: number): Promise<void> {
    return this.request({ op: 'cancelInvite', invite: handle });
  }

  /** The ids of the node's paired peers (`listPeers`), in text form. */
  peers(): Promise<string[]> {
    return this.request({ op: 'peers' });
  }

  /** The node's own measurements; `gc` runs a full collection first. */
  stats(gc = false): Promise<TargetStats> {
    return this.request({ op: 'stats', gc });
  }

  /** True while the process runs. */
  get alive(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** The last lines the node wrote to stderr. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Stops the node gracefully and returns its final stats (taken after `stop()`). */
  async stop(): Promise<TargetStats | undefined> {
    let final: TargetStats | undefined;
    if (this.alive) {
      final = await this.request<TargetStats>({ op: 'stop' }).catch(() => undefined);
      this.#child.disconnect();
      await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
      if (this.alive) this.#child.kill('SIGKILL');
      await this.exited;
    }
    if (this.#ownsDir) rmSync(this.dataDir, { recursive: true, force: true });
    return final;
  }

  /** Kills the process with SIGKILL (the data dir is kept until `stop()`). */
  async kill(): Promise<void> {
    if (this.alive) this.#child.kill('SIGKILL');
    await this.exited;
  }
}
