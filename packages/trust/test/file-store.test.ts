import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { useTempDir } from '@peernet/compliance';
import { PeerId } from '@peernet/interface';
import { CorruptTrustStoreError, openFileTrustStore } from '../src/index.js';
import { parseTrustFile } from '../src/format.js';

const posix = process.platform !== 'win32';
const id = (n: number): PeerId => PeerId.fromBytes(new Uint8Array(32).fill(n));

const root = useTempDir('peernet-trust-file-');
let counter = 0;

function freshDir(): string {
  const dir = path.join(root, `case-${++counter}`);
  fs.mkdirSync(dir, { mode: 0o700 });
  return dir;
}

/** What the file holds right now, as [id, label, addedAt] rows. */
function onDisk(file: string): Array<[string, string | undefined, number]> {
  return parseTrustFile(fs.readFileSync(file), file).map((e) => [e.id.toString(), e.label, e.addedAt]);
}

function tempFilesIn(dir: string): string[] {
  return fs.readdirSync(dir).filter((name) => name.endsWith('.tmp'));
}

async function openError(file: string): Promise<CorruptTrustStoreError> {
  try {
    const store = await openFileTrustStore({ path: file });
    await store.close();
  } catch (error) {
    return error as CorruptTrustStoreError;
  }
  throw new Error(`expected ${file} to be refused`);
}

describe('FileTrustStore persistence', () => {
  it('persists every change and reloads it after reopening', async () => {
    const file = path.join(freshDir(), 'trust.json');
    let t = 100;
    const store = await openFileTrustStore({ path: file, now: () => t++ });
    expect(fs.existsSync(file)).toBe(false); // opening writes nothing
    await store.add(id(1), { label: 'one' });
    await store.add(id(2), { label: 'two' });
    await store.add(id(1), { label: 'uno' });
    await store.remove(id(2));
    await store.add(id(3));
    await store.close();
    const reopened = await openFileTrustStore({ path: file });
    expect(reopened.list().map((e) => [e.id.toString(), e.label, e.addedAt])).toEqual([
      [id(1).toString(), 'uno', 100],
      [id(3).toString(), undefined, 102],
    ]);
    expect(reopened.has(id(2))).toBe(false);
    expect(reopened.path).toBe(fs.realpathSync(file));
    await reopened.close();
  });

  it('writes a 0600 file and leaves no temp file', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'trust.json');
    const store = await openFileTrustStore({ path: file });
    await store.add(id(1));
    if (posix) expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    await store.remove(id(1));
    if (posix) expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dir)).toEqual(['trust.json']);
    await store.close();
  });

  (posix ? it : it.skip)('creates missing directories with mode 0700', async () => {
    const dir = path.join(freshDir(), 'a', 'b');
    const store = await openFileTrustStore({ path: path.join(dir, 'trust.json') });
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    await store.add(id(1));
    await store.close();
  });

  it('has each change on disk when its promise resolves, and only the changes before it', async () => {
    const file = path.join(freshDir(), 'trust.json');
    let t = 0;
    const store = await openFileTrustStore({ path: file, now: () => t++ });
    const model: Array<[string, string | undefined, number]> = [];
    const checks: Array<Promise<void>> = [];
    let clock = 0;
    for (let k = 0; k < 40; k++) {
      const n = (k % 7) + 1;
      let expected: Array<[string, string | undefined, number]>;
      const at = model.findIndex(([key]) => key === id(n).toString());
      if (k % 3 === 2 && at >= 0) {
        model.splice(at, 1);
        expected = model.map((row) => [...row]);
        checks.push(store.remove(id(n)).then(() => expect(onDisk(file)).toEqual(expected)));
      } else {
        const label = `k${k}`;
        if (at >= 0) model[at] = [model[at]![0], label, model[at]![2]];
        else model.push([id(n).toString(), label, clock++]);
        expected = model.map((row) => [...row]);
        checks.push(store.add(id(n), { label }).then(() => expect(onDisk(file)).toEqual(expected)));
      }
    }
    await Promise.all(checks);
    await store.close();
  });

  it('resolves a symbolic link and keeps it', async () => {
    const dir = freshDir();
    const real = path.join(freshDir(), 'real.json');
    const link = path.join(dir, 'trust.json');
    fs.symlinkSync(real, link);
    // A link to a missing file is refused (it may point into an unmounted volume).
    expect((await openError(link)).message).toMatch(/symbolic link to a missing file/);
    fs.writeFileSync(real, '{"version":1,"peers":[]}', { mode: 0o600 });
    const store = await openFileTrustStore({ path: link });
    await store.add(id(1));
    await store.close();
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(onDisk(real)).toHaveLength(1);
  });
});

describe('FileTrustStore.reload', () => {
  it("applies another process's edits and emits them; a damaged file changes nothing", async () => {
    const file = path.join(freshDir(), 'trust.json');
    const store = await openFileTrustStore({ path: file });
    await store.add(id(1), { label: 'one' });
    await store.add(id(2), { label: 'two' });
    const events: string[] = [];
    store.on('added', (e) => events.push(`added ${e.label}`));
    store.on('updated', (e, before) => events.push(`updated ${before.label}→${e.label}`));
    store.on('removed', (e) => events.push(`removed ${e.label}`));

    // Another process: drops 2, relabels 1, adds 3.
    const other = await openFileTrustStore({ path: file });
    await other.remove(id(2));
    await other.add(id(1), { label: 'uno' });
    await other.add(id(3), { label: 'three' });
    await other.close();

    const changes = await store.reload();
    expect(events).toEqual(['removed two', 'updated one→uno', 'added three']);
    expect([changes.added, changes.updated, changes.removed].map((list) => list.map((e) => e.label))).toEqual([
      ['three'],
      ['uno'],
      ['two'],
    ]);
    expect(store.has(id(2))).toBe(false);
    expect(store.get(id(3))?.label).toBe('three');
    expect(await store.reload()).toEqual({ added: [], updated: [], removed: [] });

    fs.writeFileSync(file, '{"version":1,"peers":[{"id":"', { mode: 0o600 });
    await expect(store.reload()).rejects.toBeInstanceOf(CorruptTrustStoreError);
    expect(store.list().map((e) => e.label)).toEqual(['uno', 'three']);
    await store.close();
    await expect(store.reload()).rejects.toThrow(/closed/);
  });
});

describe('FileTrustStore with a damaged file', () => {
  const cases: Array<[string, string | Uint8Array]> = [
    ['an empty file', ''],
    ['garbage bytes', Uint8Array.of(0, 159, 146, 150, 255)],
    ['truncated JSON', '{"version":1,"peers":[{"id":"'],
    ['a wrong version', '{"version":2,"peers":[]}'],
    ['an invalid id', '{"version":1,"peers":[{"id":"nope","addedAt":1}]}'],
    ['duplicate ids', `{"version":1,"peers":[{"id":"${id(1)}","addedAt":1},{"id":"${id(1)}","addedAt":2}]}`],
    ['a prototype-polluting key', `{"version":1,"peers":[],"__proto__":{"isAdmin":true}}`],
  ];

  it.each(cases)('refuses to open %s and leaves it untouched', async (_, contents) => {
    const dir = freshDir();
    const file = path.join(dir, 'trust.json');
    fs.writeFileSync(file, contents, { mode: 0o600 });
    const before = fs.readFileSync(file);
    const error = await openError(file);
    expect(error).toBeInstanceOf(CorruptTrustStoreError);
    expect(error.code).toBe('corrupt_trust_store');
    expect(error.message).toContain(file);
    expect(error.path).toBe(file);
    expect(fs.readFileSync(file)).toEqual(before);
    expect(fs.readdirSync(dir)).toEqual(['trust.json']);
  });

  it('refuses a directory or a special file at the path', async () => {
    const dir = freshDir();
    const asDir = path.join(dir, 'trust.json');
    fs.mkdirSync(asDir);
    const error = await openError(asDir);
    expect(error.code).toBe('corrupt_trust_store');
    expect(error.message).toMatch(/not a regular file \(it is a directory\)/);
    if (posix && spawnSync('mkfifo', ['--help']).status === 0) {
      const fifo = path.join(freshDir(), 'trust.json');
      spawnSync('mkfifo', ['-m', '600', fifo]);
      expect((await openError(fifo)).message).toMatch(/special file/);
    }
  });

  it('says a directory that is a file is not a directory, and leaves the file alone', async () => {
    const dir = freshDir();
    const notes = path.join(dir, 'data');
    fs.writeFileSync(notes, 'notes');
    const error = await openError(path.join(notes, 'trust.json'));
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toBe(
      `cannot use trust store ${path.join(notes, 'trust.json')}: its directory ${notes} is not a directory (it is a file): give a directory, or move the file away`,
    );
    expect((await openError(path.join(notes, 'peernet', 'trust.json'))).message).toContain('(a component of its path is a file)');
    expect(fs.readFileSync(notes, 'utf8')).toBe('notes');
  });

  (posix ? it : it.skip)('refuses a file that group or others can write, like ssh', async () => {
    const file = path.join(freshDir(), 'trust.json');
    fs.writeFileSync(file, '{"version":1,"peers":[]}');
    for (const mode of [0o664, 0o666, 0o620, 0o602]) {
      fs.chmodSync(file, mode);
      const error = await openError(file);
      expect(error.code).toBe('corrupt_trust_store');
      expect(error.message).toContain(`mode 0${mode.toString(8)}`);
      expect(error.message).toContain(`chmod 600 '${file}'`);
    }
    fs.chmodSync(file, 0o644); // readable is fine: the list is not a secret
    const store = await openFileTrustStore({ path: file });
    await store.close();
  });
});

describe('FileTrustStore temp files and write failures', () => {
  it('removes temp files left by a crashed writer when opening', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'trust.json');
    fs.writeFileSync(file, `{"version":1,"peers":[{"id":"${id(1)}","label":null,"addedAt":1}]}`, { mode: 0o600 });
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    const stale = path.join(dir, `.trust.json.${dead}.00112233445566ff.tmp`);
    fs.writeFileSync(stale, '{"version":1,"pe', { mode: 0o600 });
    const other = path.join(dir, 'other.json');
    fs.writeFileSync(other, 'keep me');
    const store = await openFileTrustStore({ path: file });
    expect(store.has(id(1))).toBe(true);
    expect(fs.existsSync(stale)).toBe(false);
    expect(fs.existsSync(other)).toBe(true);
    await store.close();
  });

  it('on a failed add: rejects, does not trust the peer, leaves no temp file, and recovers', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'trust.json');
    const store = await openFileTrustStore({ path: file });
    await store.add(id(1));
    // A non-empty directory where the file is: the rename over it fails.
    fs.rmSync(file);
    fs.mkdirSync(file);
    fs.writeFileSync(path.join(file, 'x'), '');
    const added: string[] = [];
    store.on('added', (entry) => added.push(entry.id.toString()));
    await expect(store.add(id(2))).rejects.toThrow();
    expect(store.has(id(2))).toBe(false);
    expect(store.has(id(1))).toBe(true);
    expect(added).toEqual([]);
    expect(tempFilesIn(dir)).toEqual([]);
    fs.rmSync(file, { recursive: true });
    await store.add(id(3));
    expect(onDisk(file).map(([key]) => key)).toEqual([id(1).toString(), id(3).toString()]);
    await store.close();
  });

  it('on a failed remove: rejects but keeps the peer untrusted, and a retry makes it durable', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'trust.json');
    const store = await openFileTrustStore({ path: file });
    await store.add(id(1));
    await store.add(id(2));
    const saved = fs.readFileSync(file);
    fs.rmSync(file);
    fs.mkdirSync(file);
    fs.writeFileSync(path.join(file, 'x'), '');
    const removed: string[] = [];
    store.on('removed', (entry) => removed.push(entry.id.toString()));
    await expect(store.remove(id(1))).rejects.toThrow();
    expect(store.has(id(1))).toBe(false);
    expect(removed).toEqual([id(1).toString()]);
    expect(tempFilesIn(dir)).toEqual([]);
    // The file is back as it was before the failure (still listing peer 1); retrying writes the removal.
    fs.rmSync(file, { recursive: true });
    fs.writeFileSync(file, saved, { mode: 0o600 });
    expect(await store.remove(id(1))).toBe(false);
    expect(onDisk(file).map(([key]) => key)).toEqual([id(2).toString()]);
    await store.close();
  });

  it('rejects bad options with typed errors', async () => {
    await expect(openFileTrustStore({ path: '' })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(openFileTrustStore(null as never)).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(openFileTrustStore({ path: path.join(freshDir(), 't.json'), now: 5 as never })).rejects.toMatchObject({
      code: 'invalid_argument',
    });
  });
});
