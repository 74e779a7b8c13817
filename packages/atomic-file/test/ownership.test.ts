import { chmodSync, chownSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkOwnership } from '@peernet/atomic-file';

// Files of another user can only be made by root (chown); a root process must
// still refuse files owned by a user other than root, which is what these test.
const unavailable =
  process.platform === 'win32'
    ? 'Windows has no uids: ownership is not checked there'
    : process.getuid?.() !== 0
      ? 'files owned by another user can only be made as root'
      : undefined;

// A uid that is neither root nor this process: nobody.
const OTHER = 65534;

if (unavailable !== undefined) {
  describe('checkOwnership', () => {
    it.skip(`skipped: ${unavailable}`, () => {});
  });
} else {
  describe('checkOwnership (as root)', () => {
    let root: string;
    let counter = 0;
    beforeAll(() => {
      // Real path: the problems name directories with links resolved.
      root = realpathSync(mkdtempSync(join(tmpdir(), 'atomic-file-owner-')));
    });
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    /** A fresh directory (0700) holding `data.json` (0600), both ours. */
    function fresh(): { dir: string; file: string } {
      const dir = join(root, `case-${++counter}`);
      mkdirSync(dir, { mode: 0o700 });
      const file = join(dir, 'data.json');
      writeFileSync(file, '{}', { mode: 0o600 });
      return { dir, file };
    }

    it('accepts our file in our 0700 directory below a sticky world-writable ancestor', async () => {
      const { dir, file } = fresh();
      const sticky = join(dir, 'shared');
      mkdirSync(sticky);
      chmodSync(sticky, 0o1777);
      const inner = join(sticky, 'mine');
      mkdirSync(inner, { mode: 0o700 });
      const deep = join(inner, 'data.json');
      writeFileSync(deep, '{}', { mode: 0o600 });
      await expect(checkOwnership({ path: file })).resolves.toBeUndefined();
      await expect(checkOwnership({ path: deep })).resolves.toBeUndefined();
      // Not there yet: only the directories count.
      await expect(checkOwnership({ path: join(inner, 'missing.json') })).resolves.toBeUndefined();
    });

    it("refuses a file owned by another user, even if root could read it", async () => {
      const { file } = fresh();
      chownSync(file, OTHER, OTHER);
      const problem = await checkOwnership({ path: file });
      expect(problem).toEqual({ path: file, kind: 'owner', message: expect.stringContaining(`'${file}' is owned by uid ${OTHER}, not by root`) });
      expect(problem?.message).toContain(`chown 0 '${file}'`);
    });

    it('checks the owner the caller opened rather than the path', async () => {
      const { file } = fresh();
      expect((await checkOwnership({ path: file, opened: { uid: OTHER } }))?.kind).toBe('owner');
      chownSync(file, OTHER, OTHER);
      await expect(checkOwnership({ path: file, opened: { uid: 0 } })).resolves.toBeUndefined();
    });

    it.each([
      ['0777', 0o777],
      ['0770', 0o770],
      ['0702', 0o702],
      ['1777', 0o1777],
    ])('refuses a holding directory with mode %s, with the fix', async (shown, mode) => {
      const { dir, file } = fresh();
      chmodSync(dir, mode);
      const problem = await checkOwnership({ path: file });
      expect(problem).toMatchObject({ path: dir, kind: 'writable' });
      expect(problem?.message).toContain(`directory '${dir}', which holds '${file}', is writable by group or others (mode ${shown})`);
      expect(problem?.message).toContain(`chmod 700 '${dir}'`);
      if (mode & 0o1000) expect(problem?.message).toContain('a shared directory such as /tmp');
      // The same before the file exists: nothing may be created there.
      expect(await checkOwnership({ path: join(dir, 'new.json') })).toMatchObject({ path: dir, kind: 'writable' });
    });

    it("refuses a holding directory owned by another user", async () => {
      const { dir, file } = fresh();
      chownSync(dir, OTHER, OTHER);
      expect(await checkOwnership({ path: file })).toMatchObject({ path: dir, kind: 'owner' });
    });

    it('refuses a group-writable ancestor that is not sticky, and one owned by another user', async () => {
      const { dir: parent } = fresh();
      const dir = join(parent, 'data');
      mkdirSync(dir, { mode: 0o700 });
      const file = join(dir, 'data.json');
      writeFileSync(file, '{}', { mode: 0o600 });
      chmodSync(parent, 0o770);
      const problem = await checkOwnership({ path: file });
      expect(problem).toMatchObject({ path: parent, kind: 'writable' });
      expect(problem?.message).toContain(`chmod go-w '${parent}'`);
      chmodSync(parent, 0o1770);
      await expect(checkOwnership({ path: file })).resolves.toBeUndefined();
      chmodSync(parent, 0o755);
      chownSync(parent, OTHER, OTHER);
      expect(await checkOwnership({ path: file })).toMatchObject({ path: parent, kind: 'owner' });
    });

    it("follows a symbolic link: the target's owner and the target's directories count too", async () => {
      const { dir } = fresh();
      const { dir: elsewhere, file: target } = fresh();
      const link = join(dir, 'linked.json');
      symlinkSync(target, link);
      await expect(checkOwnership({ path: link })).resolves.toBeUndefined();
      chownSync(target, OTHER, OTHER);
      expect(await checkOwnership({ path: link })).toMatchObject({ path: target, kind: 'owner' });
      chownSync(target, 0, 0);
      chmodSync(elsewhere, 0o775);
      expect(await checkOwnership({ path: link })).toMatchObject({ path: elsewhere, kind: 'writable' });
      chmodSync(elsewhere, 0o700);
      // The link's own directory: whoever can write it can point the link anywhere.
      chmodSync(dir, 0o777);
      expect(await checkOwnership({ path: link })).toMatchObject({ path: dir, kind: 'writable' });
    });
  });
}
