import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  describeAsOtherUser,
  NODE_UID,
  OTHER_UID,
  ownedDir,
  plainUserUnavailableReason,
  rejection,
  runJsonAsUser,
} from '@peernet/compliance';
import { PeerId, UnsafePermissionsError } from '@peernet/interface';
import { openFileTrustStore } from '../src/index.js';

const builtIndex = path.resolve(__dirname, '..', 'dist', 'index.js');
const childScript = path.join(__dirname, 'fixtures', 'open-as-user.mjs');

const id = (n: number): string => PeerId.fromBytes(new Uint8Array(32).fill(n)).toString();
// The key another local user wants the node to trust.
const PLANTED = id(66);

/** A valid trust file trusting `peers`. */
function trustFileText(...peers: string[]): string {
  return JSON.stringify({ version: 1, peers: peers.map((peer) => ({ id: peer, label: null, addedAt: 1 })) });
}

interface ChildOutcome {
  trusted?: boolean;
  error?: { code: string; path?: string; problem?: string; message: string };
}

/** Opens the trust file `file` in a process of uid NODE_UID (no groups), optionally adds `peer`, and asks whether `peer` is trusted. */
function openAsNode(file: string, action: 'has' | 'add', peer: string): ChildOutcome {
  const { status, outcome } = runJsonAsUser<ChildOutcome>(NODE_UID, [childScript, file, action, peer], { timeoutMs: 20_000 });
  expect(status).toBe(outcome.error === undefined ? 0 : 1);
  return outcome;
}

// runNodeAsUser grants CAP_DAC_READ_SEARCH (the checkout may sit where only root can read), which
// also lets the child read any file: a refused read needs a plain child.
const plainUnavailable = plainUserUnavailableReason(builtIndex);

/** `openAsNode` in a child without the read capability: the kernel refuses what the file modes refuse. */
function openAsPlainNode(file: string, action: 'has' | 'add', peer: string): ChildOutcome {
  return runJsonAsUser<ChildOutcome>(NODE_UID, [childScript, file, action, peer], { timeoutMs: 20_000, plain: true }).outcome;
}

describeAsOtherUser(
  'trust file ownership',
  { prefix: 'peernet-trust-owner-', needs: { file: builtIndex, build: 'pnpm turbo run build --filter=@peernet/trust...' } },
  (caseDir) => {
    const dirOf = ownedDir;

    /** A file owned by `uid` with `mode`. */
    function fileOf(file: string, text: string, uid: number, mode: number): string {
      fs.writeFileSync(file, text);
      fs.chownSync(file, uid, uid);
      fs.chmodSync(file, mode);
      return file;
    }

    describe('a node running as another user (nobody)', () => {
      it('pairs and finds the pairing again in its own 0700 data directory', () => {
        const file = path.join(dirOf(caseDir(), 'data', NODE_UID, 0o700), 'trust.json');
        expect(openAsNode(file, 'add', id(1))).toEqual({ trusted: true });
        expect(openAsNode(file, 'has', id(1))).toEqual({ trusted: true });
        expect(fs.statSync(file).uid).toBe(NODE_UID);
      });

      it('refuses a trust.json planted 0644 by another user in a 0777 data directory that user made; the key is never trusted', () => {
        const dataDir = dirOf(caseDir(), 'data', OTHER_UID, 0o777);
        const file = fileOf(path.join(dataDir, 'trust.json'), trustFileText(PLANTED), OTHER_UID, 0o644);
        const { error, trusted } = openAsNode(file, 'has', PLANTED);
        expect(trusted).toBeUndefined();
        expect(error).toMatchObject({ code: 'unsafe_permissions', path: file, problem: 'owner' });
        expect(error?.message).toContain(`'${file}' is owned by uid ${OTHER_UID}, not by this user (uid ${NODE_UID}) or root`);
        expect(error?.message).toContain('remove it');
      });

      it('refuses the same file planted in a sticky, world-writable directory like /tmp', () => {
        const shared = dirOf(caseDir(), 'shared', 0, 0o1777);
        const file = fileOf(path.join(shared, 'trust.json'), trustFileText(PLANTED), OTHER_UID, 0o644);
        expect(openAsNode(file, 'has', PLANTED).error).toMatchObject({ code: 'unsafe_permissions', path: file, problem: 'owner' });
        // Nothing planted yet: such a directory is still refused, before the store is created.
        const empty = dirOf(caseDir(), 'shared', 0, 0o1777);
        const { error } = openAsNode(path.join(empty, 'trust.json'), 'add', id(1));
        expect(error).toMatchObject({ code: 'unsafe_permissions', path: empty, problem: 'writable' });
        expect(error?.message).toContain('a shared directory such as /tmp');
        expect(fs.readdirSync(empty)).toEqual([]);
      });

      it.each([
        ['0777', 0o777],
        ['1777', 0o1777],
        ['0775', 0o775],
      ])('refuses its own data directory with mode %s, its own file in it included', (shown, mode) => {
        const dataDir = dirOf(caseDir(), 'data', NODE_UID, mode);
        const file = fileOf(path.join(dataDir, 'trust.json'), trustFileText(id(1)), NODE_UID, 0o600);
        const { error } = openAsNode(file, 'has', id(1));
        expect(error).toMatchObject({ code: 'unsafe_permissions', path: dataDir, problem: 'writable' });
        expect(error?.message).toContain(`(mode ${shown})`);
        expect(error?.message).toContain(`chmod 700 '${dataDir}'`);
      });

      it("refuses a symbolic link to a trust file another user owns, and one in another user's directory", () => {
        const dir = caseDir();
        const dataDir = dirOf(dir, 'data', NODE_UID, 0o700);
        const theirs = dirOf(dir, 'theirs', OTHER_UID, 0o755);
        const target = fileOf(path.join(theirs, 'trust.json'), trustFileText(PLANTED), OTHER_UID, 0o644);
        const link = path.join(dataDir, 'trust.json');
        fs.symlinkSync(target, link);
        expect(openAsNode(link, 'has', PLANTED).error).toMatchObject({ code: 'unsafe_permissions', path: target, problem: 'owner' });
        // Even a file of ours there: the directory's owner can replace it.
        fs.chownSync(target, NODE_UID, NODE_UID);
        expect(openAsNode(link, 'has', PLANTED).error).toMatchObject({ code: 'unsafe_permissions', path: theirs, problem: 'owner' });
        fs.chownSync(theirs, NODE_UID, NODE_UID);
        expect(openAsNode(link, 'has', PLANTED)).toEqual({ trusted: true });
      });

      (plainUnavailable ? it.skip : it)('reports a trust file it may not read (root made it) as permission_denied, not as corrupt', () => {
        const dataDir = dirOf(caseDir(), 'data', NODE_UID, 0o700);
        // As after `sudo peernet pair`: root's file, 0600, in the user's own directory.
        const file = fileOf(path.join(dataDir, 'trust.json'), trustFileText(id(1)), 0, 0o600);
        const { error } = openAsPlainNode(file, 'has', id(1));
        expect(error).toMatchObject({ code: 'permission_denied', path: file });
        expect(error?.message).toContain(`cannot use trust store ${file}: permission denied`);
        expect(error?.message).toContain(`Check the owner and mode of '${file}'`);
        expect(error?.message).not.toMatch(/corrupt|repair/);
        // Control: given back, the same file is read.
        fs.chownSync(file, NODE_UID, NODE_UID);
        expect(openAsPlainNode(file, 'has', id(1))).toEqual({ trusted: true });
      });

      it('reports a pairing it may not write (a read-only data directory) as permission_denied, and keeps the file', () => {
        const dataDir = dirOf(caseDir(), 'data', NODE_UID, 0o700);
        const file = fileOf(path.join(dataDir, 'trust.json'), trustFileText(id(1)), NODE_UID, 0o600);
        fs.chmodSync(dataDir, 0o500);
        const { error } = openAsNode(file, 'add', id(2));
        expect(error).toMatchObject({ code: 'permission_denied', path: file });
        expect(error?.message).toContain(`cannot write trust store ${file}: permission denied`);
        expect(fs.readFileSync(file, 'utf8')).toBe(trustFileText(id(1)));
      });

      it('reports a data directory it may not create as permission_denied naming it', () => {
        const parent = dirOf(caseDir(), 'parent', 0, 0o755);
        const dataDir = path.join(parent, 'data');
        const { error } = openAsNode(path.join(dataDir, 'trust.json'), 'add', id(1));
        expect(error).toMatchObject({ code: 'permission_denied', path: dataDir });
        expect(error?.message).toContain(`permission denied creating its directory ${dataDir}`);
      });

      it('refuses a data directory whose parent is group-writable', () => {
        const parent = dirOf(caseDir(), 'parent', NODE_UID, 0o770);
        const dataDir = dirOf(parent, 'data', NODE_UID, 0o700);
        const file = fileOf(path.join(dataDir, 'trust.json'), trustFileText(id(1)), NODE_UID, 0o600);
        const { error } = openAsNode(file, 'has', id(1));
        expect(error).toMatchObject({ code: 'unsafe_permissions', path: parent, problem: 'writable' });
        expect(error?.message).toContain(`chmod go-w '${parent}'`);
        fs.chmodSync(parent, 0o750);
        expect(openAsNode(file, 'has', id(1))).toEqual({ trusted: true });
      });
    });

    describe('a node running as root', () => {

      it('checks again on reload: a file rewritten by another user, or a directory opened to others, changes nothing', async () => {
        const dataDir = dirOf(caseDir(), 'data', 0, 0o700);
        const file = path.join(dataDir, 'trust.json');
        const store = await openFileTrustStore({ path: file });
        try {
          await store.add(id(1));
          fileOf(file, trustFileText(id(1), PLANTED), NODE_UID, 0o644);
          const error = await rejection(store.reload());
          expect(error).toBeInstanceOf(UnsafePermissionsError);
          expect(error).toMatchObject({ code: 'unsafe_permissions', path: file, problem: 'owner' });
          expect(store.has(PLANTED)).toBe(false);
          expect(store.has(id(1))).toBe(true);

          fs.chownSync(file, 0, 0);
          fs.chmodSync(dataDir, 0o777);
          expect(await rejection(store.reload())).toMatchObject({ code: 'unsafe_permissions', path: dataDir, problem: 'writable' });
          expect(store.has(PLANTED)).toBe(false);

          // Control: once both are root's and closed to others, the edit is taken.
          fs.chmodSync(dataDir, 0o700);
          expect((await store.reload()).added.map((entry) => entry.id.toString())).toEqual([PLANTED]);
        } finally {
          await store.close();
        }
      });

      it("refuses at open a trust.json owned by another user, even 0600", async () => {
        const dataDir = dirOf(caseDir(), 'data', 0, 0o700);
        const file = fileOf(path.join(dataDir, 'trust.json'), trustFileText(PLANTED), NODE_UID, 0o600);
        expect(await rejection(openFileTrustStore({ path: file }))).toMatchObject({
          code: 'unsafe_permissions',
          path: file,
          problem: 'owner',
        });
      });
    });
  },
);
