import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeStaleTempFiles, writeFileAtomic } from '@peernet/atomic-file';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'atomic-file-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('writeFileAtomic', () => {
  it('replaces a file with mode 0600 and leaves no temp file', async () => {
    const path = join(dir, 'data.json');
    await writeFile(path, 'old');
    await expect(writeFileAtomic({ path, data: bytes('new'), mode: 'replace' })).resolves.toBe('written');
    expect(await readFile(path, 'utf8')).toBe('new');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['data.json']);
  });

  it('in exclusive mode never touches an existing file', async () => {
    const path = join(dir, 'identity.key');
    await expect(writeFileAtomic({ path, data: bytes('first'), mode: 'exclusive' })).resolves.toBe('written');
    await expect(writeFileAtomic({ path, data: bytes('second'), mode: 'exclusive' })).resolves.toBe('exists');
    expect(await readFile(path, 'utf8')).toBe('first');
    expect(await readdir(dir)).toEqual(['identity.key']);
  });

  it('fails cleanly, without a temp file, when the directory is missing', async () => {
    const path = join(dir, 'missing', 'x');
    await expect(writeFileAtomic({ path, data: bytes('x'), mode: 'replace' })).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('removeStaleTempFiles', () => {
  it("removes a dead writer's temp files and keeps a live writer's", async () => {
    const path = join(dir, 'trust.json');
    const dead = join(dir, `.trust.json.999999999.0123456789abcdef.tmp`); // no such pid
    const live = join(dir, `.trust.json.${process.pid}.0123456789abcdef.tmp`);
    const other = join(dir, `.other.json.999999999.0123456789abcdef.tmp`);
    for (const file of [dead, live, other]) await writeFile(file, 'partial');
    await expect(removeStaleTempFiles(path)).resolves.toBe(1);
    expect((await readdir(dir)).sort()).toEqual([live, other].map((f) => f.slice(dir.length + 1)).sort());
  });
});
