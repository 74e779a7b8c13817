import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  rejection,
  useTempDir,
} from '@peernet/compliance';
import {
  InsecureKeyfileError,
  InvalidKeyfileError,
  KEYFILE_NAME,
  generateIdentity,
  identityFromSeed,
  loadIdentity,
  loadOrCreateIdentity,
  saveIdentity,
} from '../src/index.js';

const posix = process.platform !== 'win32';
const root = useTempDir('peernet-identity-');
let counter = 0;

/** A fresh empty directory for one test. */
function freshDir(): string {
  const dir = path.join(root, `case-${++counter}`);
  fs.mkdirSync(dir, { mode: 0o700 });
  return dir;
}

function writeRaw(file: string, bytes: Uint8Array, mode = 0o600): void {
  fs.writeFileSync(file, bytes);
  fs.chmodSync(file, mode);
}

async function validKeyfileBytes(): Promise<{ bytes: Uint8Array; id: string }> {
  const file = path.join(freshDir(), KEYFILE_NAME);
  const identity = generateIdentity();
  await saveIdentity(file, identity);
  return { bytes: Uint8Array.from(fs.readFileSync(file)), id: identity.id.toString() };
}

function tempFilesIn(dir: string): string[] {
  return fs.readdirSync(dir).filter((name) => name.endsWith('.tmp'));
}

describe('keyfile round trip', () => {
  it('saves and loads the same identity, as a 0600 file of 72 bytes', async () => {
    const dir = freshDir();
    const file = path.join(dir, KEYFILE_NAME);
    const identity = generateIdentity();
    await saveIdentity(file, identity);
    const loaded = await loadIdentity(file);
    expect(loaded.id.equals(identity.id)).toBe(true);
    const message = Uint8Array.of(1, 2, 3);
    expect(loaded.sign(message)).toEqual(identity.sign(message));
    const stat = fs.statSync(file);
    expect(stat.size).toBe(72);
    if (posix) expect(stat.mode & 0o777).toBe(0o600);
    expect(tempFilesIn(dir)).toEqual([]);
  });

  it('writes the documented layout', async () => {
    const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
    const identity = identityFromSeed(seed);
    const file = path.join(freshDir(), KEYFILE_NAME);
    await saveIdentity(file, identity);
    const bytes = fs.readFileSync(file);
    expect(bytes.subarray(0, 7).toString('latin1')).toBe('PNETKEY');
    expect(bytes[7]).toBe(1);
    expect(Uint8Array.from(bytes.subarray(8, 40))).toEqual(seed);
    expect(Uint8Array.from(bytes.subarray(40, 72))).toEqual(identity.publicKey);
  });

  (posix ? it : it.skip)('creates the file 0600 whatever the umask', async () => {
    const previous = process.umask(0);
    try {
      const file = path.join(freshDir(), KEYFILE_NAME);
      await saveIdentity(file, generateIdentity());
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(previous);
    }
  });

  it('refuses to overwrite an existing keyfile unless asked to', async () => {
    const file = path.join(freshDir(), KEYFILE_NAME);
    const first = generateIdentity();
    const second = generateIdentity();
    await saveIdentity(file, first);
    const error = await rejection(saveIdentity(file, second));
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toContain(file);
    expect((await loadIdentity(file)).id.equals(first.id)).toBe(true);
    await saveIdentity(file, second, { overwrite: true });
    expect((await loadIdentity(file)).id.equals(second.id)).toBe(true);
    if (posix) expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(tempFilesIn(path.dirname(file))).toEqual([]);
  });

  it('leaves no temp file when the write fails', async () => {
    const dir = freshDir();
    const target = path.join(dir, 'sub');
    fs.mkdirSync(target); // a directory where the file should go: link/rename fails
    await expect(saveIdentity(target, generateIdentity(), { overwrite: true })).rejects.toThrow();
    await expect(saveIdentity(target, generateIdentity())).rejects.toThrow();
    expect(tempFilesIn(dir)).toEqual([]);
  });

  it('refuses identities it cannot serialise and bad paths', async () => {
    const fake = { ...generateIdentity() };
    await expect(saveIdentity(path.join(freshDir(), 'x'), fake as never)).rejects.toMatchObject({
      code: 'invalid_argument',
    });
    await expect(loadIdentity('')).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(loadOrCreateIdentity({} as never)).rejects.toMatchObject({ code: 'invalid_argument' });
  });
});

describe('damaged keyfiles', () => {
  async function expectInvalid(bytes: Uint8Array, pattern: RegExp): Promise<void> {
    const dir = freshDir();
    const file = path.join(dir, KEYFILE_NAME);
    writeRaw(file, bytes);
    const error = await rejection(loadIdentity(file));
    expect(error).toBeInstanceOf(InvalidKeyfileError);
    expect(error.code).toBe('invalid_keyfile');
    expect(error.message).toContain(file);
    expect(error.message).toMatch(pattern);
    expect((error as InvalidKeyfileError).path).toBe(file);
    // loadOrCreate must report it too, and leave the file alone.
    const again = await rejection(loadOrCreateIdentity({ dataDir: dir }));
    expect(again.code).toBe('invalid_keyfile');
    expect(Uint8Array.from(fs.readFileSync(file))).toEqual(bytes);
    expect(fs.readdirSync(dir)).toEqual([KEYFILE_NAME]);
  }

  it('rejects an empty file', async () => {
    await expectInvalid(new Uint8Array(0), /empty/);
  });

  it('rejects truncated files', async () => {
    const { bytes } = await validKeyfileBytes();
    for (const length of [1, 6, 7, 8, 40, 71]) {
      await expectInvalid(bytes.subarray(0, length), length < 7 ? /magic/ : /wrong size: \d+ bytes instead of 72/);
    }
  });

  it('rejects extended files', async () => {
    const { bytes } = await validKeyfileBytes();
    for (const extra of [1, 32, 5000]) {
      const longer = new Uint8Array(bytes.length + extra);
      longer.set(bytes);
      await expectInvalid(longer, /wrong size/);
    }
  });

  it('rejects a wrong magic, an unknown version and foreign key formats', async () => {
    const { bytes } = await validKeyfileBytes();
    const wrongMagic = Uint8Array.from(bytes);
    wrongMagic[3] = 0x58;
    await expectInvalid(wrongMagic, /wrong magic/);
    const version2 = Uint8Array.from(bytes);
    version2[7] = 2;
    await expectInvalid(version2, /unsupported keyfile version 2/);
    await expectInvalid(new TextEncoder().encode('-----BEGIN OPENSSH PRIVATE KEY-----\n'), /wrong magic/);
    await expectInvalid(new Uint8Array(72), /wrong magic/);
  });

  it('detects every single-bit flip', async () => {
    const { bytes } = await validKeyfileBytes();
    const dir = freshDir();
    const file = path.join(dir, KEYFILE_NAME);
    for (let position = 0; position < bytes.length; position++) {
      for (let bit = 0; bit < 8; bit++) {
        const flipped = Uint8Array.from(bytes);
        flipped[position] = (flipped[position] as number) ^ (1 << bit);
        writeRaw(file, flipped);
        const error = await rejection(loadIdentity(file));
        expect(error.code).toBe('invalid_keyfile');
        if (position >= 8) expect(error.message).toMatch(/does not match/);
      }
    }
  });

  it('rejects a directory, a missing file and a special file', async () => {
    const dir = freshDir();
    const asDir = path.join(dir, KEYFILE_NAME);
    fs.mkdirSync(asDir, { mode: 0o700 });
    const error = await rejection(loadIdentity(asDir));
    expect(error.code).toBe('invalid_keyfile');
    expect(error.message).toContain(asDir);
    expect(error.message).toMatch(/not a regular file/);
    expect((await rejection(loadOrCreateIdentity({ dataDir: dir }))).code).toBe('invalid_keyfile');

    const missing = path.join(freshDir(), 'nothing.key');
    const missingError = await rejection(loadIdentity(missing));
    expect(missingError.code).toBe('invalid_keyfile');
    expect(missingError.message).toBe(`cannot read keyfile ${missing}: no such file`);

    if (posix && spawnSync('mkfifo', ['--help']).status === 0) {
      const fifo = path.join(freshDir(), KEYFILE_NAME);
      execFileSync('mkfifo', ['-m', '600', fifo]);
      const fifoError = await rejection(loadIdentity(fifo));
      expect(fifoError.code).toBe('invalid_keyfile');
      expect(fifoError.message).toMatch(/special file/);
    }
  });
});

(posix ? describe : describe.skip)('keyfile permissions', () => {
  it.each(['0644', '0640', '0604', '0660', '0602', '0620', '0666', '0777', '0720'])(
    'refuses a keyfile with mode %s',
    async (shown) => {
      const mode = parseInt(shown, 8);
      const dir = freshDir();
      const file = path.join(dir, KEYFILE_NAME);
      await saveIdentity(file, generateIdentity());
      fs.chmodSync(file, mode);
      const error = await rejection(loadIdentity(file));
      expect(error).toBeInstanceOf(InsecureKeyfileError);
      expect(error.code).toBe('insecure_keyfile');
      expect(error.message).toContain(`Permissions ${shown} for keyfile '${file}' are too open`);
      expect(error.message).toContain(`chmod 600 '${file}'`);
      expect((await rejection(loadOrCreateIdentity({ dataDir: dir }))).code).toBe('insecure_keyfile');
    },
  );

  it('accepts an owner-only keyfile (0600, 0400)', async () => {
    const file = path.join(freshDir(), KEYFILE_NAME);
    const identity = generateIdentity();
    await saveIdentity(file, identity);
    fs.chmodSync(file, 0o400);
    expect((await loadIdentity(file)).id.equals(identity.id)).toBe(true);
  });

  it('follows a symbolic link and checks the target', async () => {
    const dir = freshDir();
    const target = path.join(freshDir(), 'real.key');
    const identity = generateIdentity();
    await saveIdentity(target, identity);
    const link = path.join(dir, KEYFILE_NAME);
    fs.symlinkSync(target, link);
    expect((await loadOrCreateIdentity({ dataDir: dir })).id.equals(identity.id)).toBe(true);
    fs.chmodSync(target, 0o644);
    expect((await rejection(loadIdentity(link))).code).toBe('insecure_keyfile');
  });

  it('reports a dangling symbolic link instead of creating a key', async () => {
    const dir = freshDir();
    const link = path.join(dir, KEYFILE_NAME);
    fs.symlinkSync(path.join(dir, 'gone.key'), link);
    const error = await rejection(loadOrCreateIdentity({ dataDir: dir }));
    expect(error.code).toBe('invalid_keyfile');
    expect(error.message).toMatch(/symbolic link to a missing file/);
    expect(fs.existsSync(path.join(dir, 'gone.key'))).toBe(false);
  });
});

describe('loadOrCreateIdentity', () => {
  it('creates the data directory (0700) and the keyfile (0600), then loads the same identity', async () => {
    const dataDir = path.join(freshDir(), 'a', 'b');
    const created = await loadOrCreateIdentity({ dataDir });
    const file = path.join(dataDir, KEYFILE_NAME);
    if (posix) {
      expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    }
    const again = await loadOrCreateIdentity({ dataDir });
    expect(again.id.equals(created.id)).toBe(true);
    expect((await loadIdentity(file)).id.equals(created.id)).toBe(true);
    expect(fs.readdirSync(dataDir)).toEqual([KEYFILE_NAME]);
  });

  it('gives concurrent callers in one process the same identity', async () => {
    const dataDir = freshDir();
    const ids = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateIdentity({ dataDir })));
    expect(new Set(ids.map((i) => i.id.toString())).size).toBe(1);
    expect(fs.readdirSync(dataDir)).toEqual([KEYFILE_NAME]);
  });

  it('says a data directory that is a file is not a directory, and leaves the file alone', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'data');
    fs.writeFileSync(file, 'notes');
    const atPath = await rejection(loadOrCreateIdentity({ dataDir: file }));
    expect(atPath).toMatchObject({ code: 'invalid_argument' });
    expect(atPath.message).toBe(`data directory ${file} is not a directory (it is a file): give a directory, or move the file away`);
    const below = await rejection(loadOrCreateIdentity({ dataDir: path.join(file, 'peernet') }));
    expect(below.message).toContain('is not a directory (a component of its path is a file)');
    expect(fs.readFileSync(file, 'utf8')).toBe('notes');
  });

  it('removes temp files left by a crashed writer, not those of a running one', async () => {
    const dataDir = freshDir();
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    const stale = path.join(dataDir, `.${KEYFILE_NAME}.${dead}.0123456789abcdef.tmp`);
    const live = path.join(dataDir, `.${KEYFILE_NAME}.${process.pid}.0123456789abcdef.tmp`);
    const unrelated = path.join(dataDir, 'notes.tmp');
    for (const file of [stale, live, unrelated]) writeRaw(file, new Uint8Array(72));
    await loadOrCreateIdentity({ dataDir });
    expect(fs.existsSync(stale)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
    expect(fs.existsSync(unrelated)).toBe(true);
  });
});
