import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  NODE_UID,
  OTHER_UID,
  commandAsUser,
  describeAsOtherUser,
  ownedDir,
  runNodeAsUser,
  type UserRunResult,
} from '@peernet/compliance';

// A data directory another local user prepared must not let them decide whom
// the node trusts or which key it uses. The built CLI runs as nobody (setpriv)
// on directories and files owned by root or by another uid.
const main = path.join(__dirname, '..', 'dist', 'main.js');

// The key the other user wants trusted (any valid id: it is never dialled).
const PLANTED = 'bf5tir7dg725tlifzwfrww2fw2hj4onqstodb64pqxitbol7w3hq';

/** Runs `peernet <args>` as `uid`; a `serve` that starts never exits by itself, so its null status (killed at the timeout) fails the test. */
const peernet = (uid: number, args: readonly string[]): UserRunResult => runNodeAsUser(uid, [main, ...args]);

const NET = ['--host', '127.0.0.1', '--no-discovery'];
describeAsOtherUser(
  'peernet on a data directory of another user',
  { prefix: 'peernet-cli-owner-', needs: { file: main, build: 'pnpm --filter @peernet/cli build' } },
  (caseDir) => {
    /** A directory owned by `uid` with `mode`, in a fresh root-owned 0755 directory. */
    function dirOf(uid: number, mode: number): string {
      return ownedDir(caseDir(), 'peernet', uid, mode);
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
      expect(r.status).toBe(7);
      // Nothing of the node's was created there either.
      expect(fs.readdirSync(dir)).toEqual(['trust.json']);
      const peers = peernet(NODE_UID, ['peers', '--data-dir', dir, '--json']);
      expect(peers.status).toBe(7);
      expect(JSON.parse(peers.stderr)).toEqual({ error: { code: 'unsafe_permissions', message: expect.stringContaining(file) } });
    });

    it('id refuses a world-writable data directory of its own, before creating a key', () => {
      const dir = dirOf(NODE_UID, 0o777);
      const r = peernet(NODE_UID, ['id', '--data-dir', dir, '--no-qr']);
      expect(r.status).toBe(7);
      expect(r.stderr).toContain(`chmod 700 '${dir}'`);
      expect(fs.readdirSync(dir)).toEqual([]);
    });

    it('a root node refuses a 0600 identity.key owned by another user', () => {
      const dir = dirOf(0, 0o700);
      expect(peernet(0, ['id', '--data-dir', dir, '--no-qr']).status).toBe(0);
      const key = path.join(dir, 'identity.key');
      fs.chownSync(key, NODE_UID, NODE_UID);
      const r = peernet(0, ['id', '--data-dir', dir, '--no-qr']);
      expect(r.status).toBe(7);
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
      const [command, ...args] = commandAsUser(NODE_UID, [main, 'serve', '--data-dir', dir, ...NET]);
      const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
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

    it('a data directory it may not write: permission_denied with the path and what to check, exit 7, the file kept', () => {
      const dir = dirOf(NODE_UID, 0o700);
      expect(peernet(NODE_UID, ['pair', PLANTED, '--data-dir', dir]).status).toBe(0);
      const file = path.join(dir, 'trust.json');
      const before = fs.readFileSync(file, 'utf8');
      fs.chmodSync(dir, 0o500);
      const other = 'tljigbzjrmox55lz7li76d2ugpxcra3nnioe3uthtd5nmtinud5q';
      const r = peernet(NODE_UID, ['pair', other, '--data-dir', dir]);
      expect(r.status).toBe(7);
      expect(r.stderr).toMatch(new RegExp(`^peernet: permission_denied: cannot write trust store ${file}: permission denied\\. `));
      expect(r.stderr).toContain(`Check the owner and mode of '${file}' and of the directories above it`);
      expect(r.stderr).not.toMatch(/corrupt|repair/);
      expect(fs.readFileSync(file, 'utf8')).toBe(before);
      // A data directory it may not create is said the same way.
      const missing = path.join(dirOf(0, 0o755), 'data');
      const id = peernet(NODE_UID, ['id', '--data-dir', missing, '--no-qr']);
      expect(id.status).toBe(7);
      expect(id.stderr).toMatch(new RegExp(`^peernet: permission_denied: cannot create data directory ${missing}: permission denied`));
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
  },
);
