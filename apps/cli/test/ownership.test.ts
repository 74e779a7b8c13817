import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// A data directory another local user prepared must not let them decide whom
// the node trusts or which key it uses. The built CLI runs as nobody (setpriv)
// on directories and files owned by root or by another uid.
const main = path.join(__dirname, '..', 'dist', 'main.js');

const NODE_UID = 65534;
const OTHER_UID = 65533;
// The key the other user wants trusted (any valid id: it is never dialled).
const PLANTED = 'bf5tir7dg725tlifzwfrww2fw2hj4onqstodb64pqxitbol7w3hq';

// The children open no TLS connection; without this variable each Node start skips parsing a CA bundle.
const { NODE_EXTRA_CA_CERTS: _unused, ...childEnv } = process.env;

function unavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'ownership tests run on Linux (Windows has no uids to check)';
  if (process.getuid?.() !== 0) return 'ownership tests need root (chown, and setpriv to run the CLI as another user)';
  const probe = spawnSync('setpriv', ['--version'], { stdio: 'ignore' });
  if (probe.error !== undefined || probe.status !== 0) return 'setpriv (Debian package util-linux) is not installed';
  return undefined;
}

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `peernet <args>` as `uid` (root when 0, else without any group) and
 * waits for it to exit. A `serve` that starts never exits by itself: it is
 * killed at the timeout and its null status fails the test.
 */
function peernet(uid: number, args: readonly string[]): Result {
  const command = [process.execPath, main, ...args];
  const child =
    uid === 0
      ? spawnSync(command[0] as string, command.slice(1), { encoding: 'utf8', env: childEnv, timeout: 15_000 })
      : spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...command], {
          encoding: 'utf8',
          env: childEnv,
          timeout: 15_000,
        });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

const NET = ['--host', '127.0.0.1', '--no-discovery'];
const unavailable = unavailableReason();

if (unavailable !== undefined) {
  describe('peernet on a data directory of another user', () => {
    it.skip(`skipped: ${unavailable}`, () => {});
  });
} else {
  describe('peernet on a data directory of another user', () => {
    let root: string;
    let counter = 0;
    beforeAll(() => {
      if (!fs.existsSync(main)) throw new Error(`${main} is missing: build apps/cli first (pnpm --filter @peernet/cli build)`);
      // mkdtemp makes it 0700: nobody must be able to pass through (this directory only).
      root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'peernet-cli-owner-')));
      fs.chmodSync(root, 0o755);
    });
    afterAll(() => {
      if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
    });

    /** A directory owned by `uid` with `mode`, in a fresh root-owned 0755 directory. */
    function dirOf(uid: number, mode: number): string {
      const parent = path.join(root, `case-${++counter}`);
      fs.mkdirSync(parent, { mode: 0o755 });
      const dir = path.join(parent, 'peernet');
      fs.mkdirSync(dir);
      fs.chownSync(dir, uid, uid);
      fs.chmodSync(dir, mode);
      return dir;
    }

    /** What another user plants: a trust.json (0644) that trusts their key. */
    function plant(dir: string): string {
      const file = path.join(dir, 'trust.json');
      fs.writeFileSync(file, JSON.stringify({ version: 1, peers: [{ id: PLANTED, label: null, addedAt: 1 }] }));
      fs.chownSync(file, OTHER_UID, OTHER_UID);
      fs.chmodSync(file, 0o644);
      return file;
    }

    it.each([
      ['0777', 0o777],
      ['1777', 0o1777],
    ])('serve refuses to start on a %s directory where another user planted trust.json', (_shown, mode) => {
      const dir = dirOf(OTHER_UID, mode);
      const file = plant(dir);
      const r = peernet(NODE_UID, ['serve', '--expose', 'echo', '--data-dir', dir, ...NET]);
      expect(r.stdout).not.toMatch(/listening/);
      expect(r.stderr).toContain(`peernet: unsafe_permissions: cannot use trust store ${file}: '${file}' is owned by uid ${OTHER_UID}`);
      expect(r.status).toBe(1);
      // Nothing of the node's was created there either.
      expect(fs.readdirSync(dir)).toEqual(['trust.json']);
      const peers = peernet(NODE_UID, ['peers', '--data-dir', dir, '--json']);
      expect(peers.status).toBe(1);
      expect(JSON.parse(peers.stderr)).toEqual({ error: { code: 'unsafe_permissions', message: expect.stringContaining(file) } });
    });

    it('id refuses a world-writable data directory of its own, before creating a key', () => {
      const dir = dirOf(NODE_UID, 0o777);
      const r = peernet(NODE_UID, ['id', '--data-dir', dir, '--no-qr']);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`chmod 700 '${dir}'`);
      expect(fs.readdirSync(dir)).toEqual([]);
    });

    it('a root node refuses a 0600 identity.key owned by another user', () => {
      const dir = dirOf(0, 0o700);
      expect(peernet(0, ['id', '--data-dir', dir, '--no-qr']).status).toBe(0);
      const key = path.join(dir, 'identity.key');
      fs.chownSync(key, NODE_UID, NODE_UID);
      const r = peernet(0, ['id', '--data-dir', dir, '--no-qr']);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`peernet: unsafe_permissions: keyfile ${key} refused: '${key}' is owned by uid ${NODE_UID}, not by root`);
    });

    it('a running serve ignores a trust.json rewritten after its data directory was opened to others', async () => {
      const dir = dirOf(NODE_UID, 0o700);
      // serve starts watching trust.json before it creates serve.sock: once the socket is there, an edit is seen.
      let watcher: fs.FSWatcher | undefined;
      const socketCreated = new Promise<void>((resolve) => {
        watcher = fs.watch(dir, (_, name) => {
          if (name === 'serve.sock') resolve();
        });
      });
      const child = spawn(
        'setpriv',
        [`--reuid=${NODE_UID}`, `--regid=${NODE_UID}`, '--clear-groups', process.execPath, main, 'serve', '--data-dir', dir, ...NET],
        { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      const seen = (pattern: RegExp, what: string): Promise<void> =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no ${what} within 15 s; stdout: ${stdout}; stderr: ${stderr}`)), 15_000);
          const check = (): void => {
            if (pattern.test(stdout) || pattern.test(stderr)) {
              clearTimeout(timer);
              child.stdout.off('data', check);
              child.stderr.off('data', check);
              resolve();
            }
          };
          child.stdout.on('data', check);
          child.stderr.on('data', check);
          check();
        });
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      try {
        await seen(/^listening /m, 'listening line');
        await socketCreated;
        fs.chmodSync(dir, 0o777);
        // Another user's edit, written the way the store writes: a new file renamed over the old one.
        const temp = path.join(dir, 'planted.tmp');
        fs.writeFileSync(temp, JSON.stringify({ version: 1, peers: [{ id: PLANTED, label: null, addedAt: 1 }] }));
        fs.chownSync(temp, OTHER_UID, OTHER_UID);
        fs.renameSync(temp, path.join(dir, 'trust.json'));
        await seen(/unsafe_permissions/, 'refusal of the reloaded trust file');
        expect(stderr).toContain(`peernet: unsafe_permissions: cannot use trust store ${path.join(dir, 'trust.json')}:`);
        expect(stdout).not.toContain(`paired ${PLANTED}`);
        expect(child.exitCode).toBeNull();
      } finally {
        watcher?.close();
        child.kill('SIGTERM');
        if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
      }
    });

    it('works as before in a 0700 data directory of its own: id, pair, peers', () => {
      const dir = path.join(dirOf(NODE_UID, 0o700), 'data');
      const id = peernet(NODE_UID, ['id', '--data-dir', dir, '--no-qr']);
      expect(id.stderr).toBe('');
      expect(id.stdout).toMatch(/^[a-z2-7]{52}\n$/);
      expect(peernet(NODE_UID, ['pair', PLANTED, '--label', 'friend', '--data-dir', dir]).status).toBe(0);
      const peers = peernet(NODE_UID, ['peers', '--data-dir', dir, '--json']);
      expect(peers.status).toBe(0);
      expect(peers.stdout).toContain(PLANTED);
      expect(fs.statSync(dir).mode & 0o7777).toBe(0o700);
    });
  });
}
