import type * as NodePath from 'node:path';
import { errorCode, nodeApis } from './node.js';

export { describeFileError, errorCode, nodeApis } from './node.js';
export type { NodeApis } from './node.js';
export { checkOwnership } from './ownership.js';
export type { CheckOwnershipOptions, OwnershipProblem } from './ownership.js';

const TEMP_SUFFIX = '.tmp';
const TEMP_MIDDLE = /^(\d+)\.[0-9a-f]{16}$/;

// ".<name>.<pid>.<random>.tmp" beside the target: same directory, so the
// rename or link is atomic; the pid tells a crashed writer's leftovers apart
// from a live writer's file.
function tempPathFor(path: typeof NodePath, target: string): string {
  const random = Array.from(globalThis.crypto.getRandomValues(new Uint8Array(8)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('');
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${random}${TEMP_SUFFIX}`);
}

function processIsAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return errorCode(error) === 'EPERM';
  }
}

/**
 * Deletes temp files of `target` left by writers that no longer run (a crash
 * between creating and renaming them). Best effort: a file that cannot be
 * removed is left alone, as it never affects what `target` holds.
 */
export async function removeStaleTempFiles(target: string): Promise<number> {
  const { fs, path } = await nodeApis();
  const dir = path.dirname(target);
  const prefix = `.${path.basename(target)}.`;
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith(TEMP_SUFFIX)) continue;
    const match = TEMP_MIDDLE.exec(name.slice(prefix.length, -TEMP_SUFFIX.length));
    if (match === null || processIsAlive(Number(match[1]))) continue;
    try {
      await fs.unlink(path.join(dir, name));
      removed++;
    } catch {
      // Already gone, or not ours to remove.
    }
  }
  return removed;
}

/** Options of `writeFileAtomic`. */
export interface WriteFileAtomicOptions {
  /** Final path of the file. */
  path: string;
  /** Complete new contents. */
  data: Uint8Array;
  /** `replace` renames over an existing file; `exclusive` never touches one and reports `'exists'`. */
  mode: 'replace' | 'exclusive';
}

/**
 * Writes a file so that `path` holds either nothing/the old contents or the
 * complete new contents, even across a crash: temp file (0600) in the same
 * directory, fsync, rename (or hard link for `exclusive`), fsync of the
 * directory. No temp file is left behind on failure.
 */
export async function writeFileAtomic(options: WriteFileAtomicOptions): Promise<'written' | 'exists'> {
  const { fs, path } = await nodeApis();
  const target = options.path;
  const temp = tempPathFor(path, target);
  const { O_WRONLY, O_CREAT, O_EXCL } = fs.constants;
  const handle = await fs.open(temp, O_WRONLY | O_CREAT | O_EXCL, 0o600);
  try {
    try {
      // The umask can only clear bits, but a stricter one must not leave the owner unable to read.
      if (process.platform !== 'win32') await handle.chmod(0o600);
      await handle.writeFile(options.data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.mode === 'replace') {
      await fs.rename(temp, target);
    } else {
      // link() fails with EEXIST instead of replacing: the first complete file wins.
      try {
        await fs.link(temp, target);
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw error;
        await fs.unlink(temp);
        return 'exists';
      }
      await fs.unlink(temp);
    }
  } catch (error) {
    await fs.unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncDirectory(path.dirname(target));
  return 'written';
}

/** Makes a rename, link or unlink in `dir` durable. */
export async function syncDirectory(dir: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS journals the rename itself.
  if (process.platform === 'win32') return;
  const { fs } = await nodeApis();
  const handle = await fs.open(dir, fs.constants.O_RDONLY);
  try {
    await handle.sync();
  } catch (error) {
    // Some file systems do not support fsync on directories.
    if (errorCode(error) !== 'EINVAL') throw error;
  } finally {
    await handle.close();
  }
}
