// Tests of what a node does with files of other local users: they need real
// files owned by other uids (chown, as root) and a node running as a user who
// is not root (setpriv), so that the kernel, not a mock, decides who owns what.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The uid a node under test runs as: nobody. */
export const NODE_UID = 65534;

/** A uid nobody uses: "another local user", the owner of planted files. */
export const OTHER_UID = 65533;

/** Why files of other users cannot be made, or a process run as one, on this machine; undefined when they can. */
export function otherUserUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'ownership tests run on Linux (Windows has no uids to check)';
  if (process.getuid?.() !== 0) return 'ownership tests need root (chown, and setpriv to run a node as another user)';
  const probe = spawnSync('setpriv', ['--version'], { stdio: 'ignore' });
  if (probe.error !== undefined || probe.status !== 0) return 'setpriv (Debian package util-linux) is not installed';
  return undefined;
}

/** How {@link runNodeAsUser} and {@link runJsonAsUser} start the child. */
export interface UserRunOptions {
  /** Killed after this long (default 15 s). */
  timeoutMs?: number;
  /**
   * Without CAP_DAC_READ_SEARCH: the kernel then refuses every read the file
   * modes refuse, which a test of a refused read needs; the checkout must be
   * readable by the uid as it is ({@link plainUserUnavailableReason}).
   */
  plain?: boolean;
}

/** How a process run by {@link runNodeAsUser} ended and what it printed. */
export interface UserRunResult {
  /** Exit status; null when it was killed at the timeout. */
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

// The children open no TLS connection; without this variable each Node start skips parsing a CA bundle.
const { NODE_EXTRA_CA_CERTS: _unused, ...childEnv } = process.env;

/**
 * The command line that runs `node <args>` as `uid`: as is for root; for any
 * other uid through setpriv, with that uid as its group, no supplementary
 * groups, and one capability, CAP_DAC_READ_SEARCH. The checkout (its code
 * and node_modules) may sit below a directory only root can enter, such as
 * a `mktemp -d`; the capability lets the process read it, and nothing more:
 * it writes, and owns, exactly what the uid may, and ownership is judged by
 * uids, which no capability changes.
 */
export function commandAsUser(
  uid: number,
  args: readonly string[],
  options: UserRunOptions = {},
): [command: string, ...args: string[]] {
  if (uid === 0) return [process.execPath, ...args];
  const capability = options.plain ? [] : ['--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search'];
  return ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...capability, process.execPath, ...args];
}

/**
 * Why a plain child of `NODE_UID` (see {@link UserRunOptions.plain}) cannot
 * run here, or undefined when it can: besides what
 * {@link otherUserUnavailableReason} needs, that user must be able to read
 * `file` (a built module of the checkout) without the capability.
 */
export function plainUserUnavailableReason(file: string): string | undefined {
  const reason = otherUserUnavailableReason();
  if (reason !== undefined) return reason;
  const [command, ...rest] = commandAsUser(NODE_UID, ['-e', `require('fs').accessSync(${JSON.stringify(file)})`], { plain: true });
  return spawnSync(command, rest, { stdio: 'ignore' }).status === 0
    ? undefined
    : `the checkout is not readable by uid ${NODE_UID} without CAP_DAC_READ_SEARCH`;
}

/**
 * Runs `node <args>` as `uid` (see {@link commandAsUser}) and waits for it to
 * exit, killing it after `timeoutMs` (default 15 s).
 */
export function runNodeAsUser(uid: number, args: readonly string[], options: UserRunOptions = {}): UserRunResult {
  const [command, ...rest] = commandAsUser(uid, args, options);
  const child = spawnSync(command, rest, { encoding: 'utf8', env: childEnv, timeout: options.timeoutMs ?? 15_000 });
  if (child.error !== undefined && child.status === null && child.signal === null) throw child.error;
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

/**
 * Runs a script as `uid` (see {@link runNodeAsUser}) that reports its outcome
 * as a JSON line, and returns the last line it printed, parsed, with its exit
 * status; throws with its stderr when it printed none.
 */
export function runJsonAsUser<T>(
  uid: number,
  args: readonly string[],
  options: UserRunOptions = {},
): { status: number | null; outcome: T } {
  const child = runNodeAsUser(uid, args, options);
  const line = child.stdout.trim().split('\n').pop() ?? '';
  if (!line.startsWith('{')) throw new Error(`child printed no outcome (status ${child.status}): ${child.stderr}`);
  return { status: child.status, outcome: JSON.parse(line) as T };
}

/**
 * A new temp directory, real path, that other users may pass through (0755:
 * mkdtemp makes it 0700, which would stop a node running as `NODE_UID`
 * before it reaches the files under test). Remove it with `fs.rmSync`.
 */
export function passableTempDir(prefix: string): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** Makes the directory `parent/name`, owned by `uid` (and group `uid`) with `mode` exactly, whatever the umask. */
export function ownedDir(parent: string, name: string, uid: number, mode: number): string {
  const dir = path.join(parent, name);
  fs.mkdirSync(dir);
  fs.chownSync(dir, uid, uid);
  fs.chmodSync(dir, mode);
  return dir;
}

/** Options of {@link describeAsOtherUser}. */
export interface OtherUserSuiteOptions {
  /** Prefix of the suite's temp directory. */
  readonly prefix: string;
  /** A file the children need (built code), and the command that makes it. */
  readonly needs?: { readonly file: string; readonly build: string };
}

/**
 * Declares a jest suite that needs files owned by other users and a node run
 * as one. Where that cannot be done here, the suite is one skipped test that
 * says why. Otherwise `body` runs inside `describe(title)` and gets
 * `caseDir()`: a fresh directory (root's, 0755) for each case, below one temp
 * root that other users may pass through and that is removed afterwards.
 */
export function describeAsOtherUser(title: string, options: OtherUserSuiteOptions, body: (caseDir: () => string) => void): void {
  const unavailable = otherUserUnavailableReason();
  if (unavailable !== undefined) {
    describe(title, () => {
      it.skip(`skipped: ${unavailable}`, () => {});
    });
    return;
  }
  describe(title, () => {
    let root: string | undefined;
    let counter = 0;
    beforeAll(() => {
      const needs = options.needs;
      if (needs !== undefined && !fs.existsSync(needs.file)) {
        throw new Error(`${needs.file} is missing: this suite runs it as another user. Build it first: ${needs.build}`);
      }
      root = passableTempDir(options.prefix);
    });
    afterAll(() => {
      if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
    });
    body(() => ownedDir(root as string, `case-${++counter}`, 0, 0o755));
  });
}
