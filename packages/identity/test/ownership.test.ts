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
import { UnsafePermissionsError } from '@peernet/interface';
import { KEYFILE_NAME, generateIdentity, loadIdentity, loadOrCreateIdentity, saveIdentity } from '../src/index.js';

const builtIndex = path.resolve(__dirname, '..', 'dist', 'index.js');
const childScript = path.join(__dirname, 'fixtures', 'open-as-user.mjs');

interface ChildOutcome {
  id?: string;
  error?: { code: string; path?: string; problem?: string; message: string };
}

/** Runs `loadOrCreateIdentity({ dataDir })` in a process of uid NODE_UID (no groups) and returns what it printed. */
function openAsNode(dataDir: string): ChildOutcome {
  const { status, outcome } = runJsonAsUser<ChildOutcome>(NODE_UID, [childScript, dataDir], { timeoutMs: 20_000 });
  expect(status).toBe(outcome.error === undefined ? 0 : 1);
  return outcome;
}

// runNodeAsUser grants CAP_DAC_READ_SEARCH (the checkout may sit where only root can read), which
// also lets the child read any file: a refused read needs a plain child.
const plainUnavailable = plainUserUnavailableReason(builtIndex);

/** `openAsNode` in a child without the read capability: the kernel refuses what the file modes refuse. */
function openAsPlainNode(dataDir: string): ChildOutcome {
  return runJsonAsUser<ChildOutcome>(NODE_UID, [childScript, dataDir], { timeoutMs: 20_000, plain: true }).outcome;
}

describeAsOtherUser(
  'keyfile ownership',
  { prefix: 'peernet-identity-owner-', needs: { file: builtIndex, build: 'pnpm turbo run build --filter=@peernet/identity...' } },
  (caseDir) => {
    const dirOf = ownedDir;

    describe('a node running as root', () => {
      it("refuses a 0600 identity.key owned by another user, and creates no key instead", async () => {
        const dataDir = dirOf(caseDir(), 'data', 0, 0o700);
        const file = path.join(dataDir, KEYFILE_NAME);
        const theirs = generateIdentity();
        await saveIdentity(file, theirs);
        // Control: root's own file is used.
        expect((await loadOrCreateIdentity({ dataDir })).id.equals(theirs.id)).toBe(true);
        const before = fs.readFileSync(file);
        fs.chownSync(file, NODE_UID, NODE_UID);
        for (const attempt of [() => loadOrCreateIdentity({ dataDir }), () => loadIdentity(file)]) {
          const error = await rejection(attempt());
          expect(error).toBeInstanceOf(UnsafePermissionsError);
          expect(error).toMatchObject({ code: 'unsafe_permissions', path: file, problem: 'owner' });
          expect(error.message).toContain(`'${file}' is owned by uid ${NODE_UID}, not by root`);
          expect(error.message).toContain(`chown 0 '${file}'`);
        }
        expect(fs.readFileSync(file).equals(before)).toBe(true);
        expect(fs.readdirSync(dataDir)).toEqual([KEYFILE_NAME]);
      });

      it("refuses a symbolic link to a key owned by another user, naming the target", async () => {
        const dir = caseDir();
        const dataDir = dirOf(dir, 'data', 0, 0o700);
        const keys = dirOf(dir, 'keys', 0, 0o700);
        const target = path.join(keys, 'node.key');
        await saveIdentity(target, generateIdentity());
        fs.symlinkSync(target, path.join(dataDir, KEYFILE_NAME));
        await expect(loadOrCreateIdentity({ dataDir })).resolves.toBeDefined();
        fs.chownSync(target, OTHER_UID, OTHER_UID);
        const error = await rejection(loadOrCreateIdentity({ dataDir }));
        expect(error).toMatchObject({ code: 'unsafe_permissions', path: target, problem: 'owner' });
      });

      it('refuses a key in a directory another user owns', async () => {
        const dataDir = dirOf(caseDir(), 'data', OTHER_UID, 0o700);
        const error = await rejection(loadOrCreateIdentity({ dataDir }));
        expect(error).toMatchObject({ code: 'unsafe_permissions', path: dataDir, problem: 'owner' });
        expect(fs.readdirSync(dataDir)).toEqual([]);
      });
    });

    describe('a node running as another user (nobody)', () => {
      it('creates its key in its own 0700 directory below root-owned and sticky ancestors, then loads it', () => {
        const dataDir = path.join(dirOf(caseDir(), 'home', NODE_UID, 0o700), 'peernet');
        const first = openAsNode(dataDir);
        expect(first.error).toBeUndefined();
        expect(first.id).toMatch(/^[a-z2-7]{52}$/);
        expect(openAsNode(dataDir)).toEqual(first);
        const stat = fs.statSync(dataDir);
        expect({ uid: stat.uid, mode: stat.mode & 0o7777 }).toEqual({ uid: NODE_UID, mode: 0o700 });
        expect(fs.statSync(path.join(dataDir, KEYFILE_NAME)).uid).toBe(NODE_UID);
      });

      it.each([
        ['0777', 0o777],
        ['1777', 0o1777],
        ['0770', 0o770],
      ])('refuses its own data directory with mode %s before creating a key in it', (shown, mode) => {
        const dataDir = dirOf(caseDir(), 'data', NODE_UID, mode);
        const { error } = openAsNode(dataDir);
        expect(error).toMatchObject({ code: 'unsafe_permissions', path: dataDir, problem: 'writable' });
        expect(error?.message).toContain(`is writable by group or others (mode ${shown})`);
        expect(error?.message).toContain(`chmod 700 '${dataDir}'`);
        expect(fs.readdirSync(dataDir)).toEqual([]);
      });

      (plainUnavailable ? it.skip : it)('reports a data directory it cannot enter as permission_denied, not as a damaged keyfile', () => {
        const dataDir = dirOf(caseDir(), 'data', NODE_UID, 0o000);
        const { error } = openAsPlainNode(dataDir);
        const file = path.join(dataDir, KEYFILE_NAME);
        expect(error).toMatchObject({ code: 'permission_denied', path: file });
        expect(error?.message).toContain(`cannot read keyfile ${file}: permission denied`);
        expect(error?.message).toContain(`Check the owner and mode of '${file}'`);
        expect(error?.message).toContain(`(uid ${NODE_UID})`);
      });

      (plainUnavailable ? it.skip : it)('reports a key it may not read (root made it) as permission_denied, and keeps the key', () => {
        const dataDir = dirOf(caseDir(), 'data', NODE_UID, 0o700);
        expect(openAsPlainNode(dataDir).id).toMatch(/^[a-z2-7]{52}$/);
        const file = path.join(dataDir, KEYFILE_NAME);
        const before = fs.readFileSync(file);
        // As after running the command once with sudo: root's key, 0600.
        fs.chownSync(file, 0, 0);
        const { error } = openAsPlainNode(dataDir);
        expect(error).toMatchObject({ code: 'permission_denied', path: file });
        expect(error?.message).toContain(`cannot read keyfile ${file}: permission denied`);
        expect(fs.readFileSync(file).equals(before)).toBe(true);
        // Control: the same file given back is loaded.
        fs.chownSync(file, NODE_UID, NODE_UID);
        expect(openAsPlainNode(dataDir).error).toBeUndefined();
      });

      it('reports a read-only data directory without a key as permission_denied when creating the key', () => {
        const dataDir = dirOf(caseDir(), 'data', NODE_UID, 0o500);
        const { error } = openAsNode(dataDir);
        expect(error).toMatchObject({ code: 'permission_denied', path: path.join(dataDir, KEYFILE_NAME) });
        expect(error?.message).toContain('cannot create keyfile');
        expect(fs.readdirSync(dataDir)).toEqual([]);
      });

      it('reports a data directory it may not create as permission_denied naming it', () => {
        const parent = dirOf(caseDir(), 'parent', 0, 0o755);
        const dataDir = path.join(parent, 'data');
        const { error } = openAsNode(dataDir);
        expect(error).toMatchObject({ code: 'permission_denied', path: dataDir });
        expect(error?.message).toContain(`cannot create data directory ${dataDir}: permission denied`);
      });

      it("refuses a data directory made by another user, whatever its mode", () => {
        const dataDir = dirOf(caseDir(), 'data', OTHER_UID, 0o777);
        const { error } = openAsNode(dataDir);
        expect(error).toMatchObject({ code: 'unsafe_permissions', path: dataDir, problem: 'owner' });
        expect(fs.readdirSync(dataDir)).toEqual([]);
      });

      it('refuses a data directory whose parent is group-writable, or another user\'s', () => {
        const parent = dirOf(caseDir(), 'parent', NODE_UID, 0o770);
        const dataDir = dirOf(parent, 'data', NODE_UID, 0o700);
        const { error } = openAsNode(dataDir);
        expect(error).toMatchObject({ code: 'unsafe_permissions', path: parent, problem: 'writable' });
        expect(error?.message).toContain(`chmod go-w '${parent}'`);
        fs.chownSync(parent, OTHER_UID, OTHER_UID);
        fs.chmodSync(parent, 0o755);
        expect(openAsNode(dataDir).error).toMatchObject({ code: 'unsafe_permissions', path: parent, problem: 'owner' });
        fs.chownSync(parent, NODE_UID, NODE_UID);
        expect(openAsNode(dataDir).id).toMatch(/^[a-z2-7]{52}$/);
      });
    });
  },
);
