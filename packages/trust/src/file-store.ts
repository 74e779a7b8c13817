import {
  InvalidArgumentError, PermissionDeniedError, UnsafePermissionsError, isPermissionError, permissionDenied,
} from '@peernet/interface';
import type { FileHandle } from 'node:fs/promises';
import {
  checkOwnership,
  describeFileError,
  errorCode,
  nodeApis,
  removeStaleTempFiles,
  writeFileAtomic,
  type OwnershipProblem,
} from '@peernet/atomic-file';
import { CorruptTrustStoreError } from './errors.js';
import { parseTrustFile, serializeTrustFile } from './format.js';
import { QueuedTrustStore, type TrustChanges, type TrustEntry, type TrustStore } from './store.js';

/** Largest trust file read (32 MiB, some 250 000 peers); a bigger one is refused unread. */
export const MAX_TRUST_FILE_BYTES = 32 * 1024 * 1024;

/** Options of `openFileTrustStore`. */
export interface FileTrustStoreOptions {
  /** The trust file. Its directory is created (0700) if missing; a missing file is an empty store. */
  path: string;
  /** Clock for `addedAt` (ms since the Unix epoch); defaults to `Date.now`. */
  now?: () => number;
}

/** A trust store persisted in a JSON file (Node). */
export interface FileTrustStore extends TrustStore {
  /** Absolute path of the file written (a symbolic link is resolved at open). */
  readonly path: string;
  /**
   * Re-reads the file after another process changed it (e.g. `peernet pair`
   * while a node runs) and applies the differences, emitting `added`,
   * `updated` and `removed` as for local changes. The file wins over
   * memory. A damaged file rejects with `CorruptTrustStoreError`, one this
   * process may not read with `PermissionDeniedError`, one that
   * another user owns or could have replaced with `UnsafePermissionsError`;
   * none of them changes anything.
   */
  reload(): Promise<TrustChanges>;
}

class JsonFileTrustStore extends QueuedTrustStore implements FileTrustStore {
  readonly path: string;

  constructor(path: string, entries: readonly TrustEntry[], now: (() => number) | undefined) {
    super({
      entries,
      now,
      persist: (list) =>
        writeFileAtomic({ path, data: serializeTrustFile(list), mode: 'replace' }).then(
          () => undefined,
          (error: unknown) => {
            throw isPermissionError(error) ? permissionDenied({ action: 'write', what: 'trust store', path, cause: error }) : error;
          },
        ),
    });
    this.path = path;
  }

  reload(): Promise<TrustChanges> {
    return this.replaceFrom(() => readTrustFile(this.path));
  }
}



/** The error for a trust file that could not be used because of `error`, a failed file-system call. */
function fileFailure(path: string, error: unknown): Error {
  if (isPermissionError(error)) return permissionDenied({ action: 'use', what: 'trust store', path, cause: error });
  return new CorruptTrustStoreError(`cannot use trust store ${path}: ${describeFileError(error)}`, { path, cause: error });
}

// Whoever owns the allowlist or can write where it lives can make the node trust anyone.
async function checkTrustFileOwnership(path: string, opened?: { uid: number }): Promise<void> {
  let problem: OwnershipProblem | undefined;
  try {
    problem = await checkOwnership({ path, ...(opened === undefined ? {} : { opened }) });
  } catch (error) {
    throw fileFailure(path, error);
  }
  if (problem !== undefined) {
    throw new UnsafePermissionsError(`cannot use trust store ${path}: ${problem.message}`, {
      path: problem.path,
      problem: problem.kind,
    });
  }
}

async function readAll(handle: FileHandle, size: number): Promise<Uint8Array> {
  // One byte more than stat said, to notice a file that grew meanwhile.
  const buffer = new Uint8Array(Math.min(size, MAX_TRUST_FILE_BYTES) + 1);
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

/** Reads and checks the file at `path` (links resolved); missing is empty. */
async function readTrustFile(path: string): Promise<TrustEntry[]> {
  const { fs } = await nodeApis();
  const corrupt = (reason: string, cause?: unknown): CorruptTrustStoreError =>
    new CorruptTrustStoreError(`cannot use trust store ${path}: ${reason}`, { path, cause });
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO planted at the path must not hang.
    handle = await fs.open(path, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw fileFailure(path, error);
    // The store will be created here: not in a directory another user controls.
    await checkTrustFileOwnership(path);
    return [];
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw corrupt(`not a regular file (it is ${stat.isDirectory() ? 'a directory' : 'a special file'})`);
    // Whoever can write the allowlist can make us trust anyone: refuse, as ssh does for authorized_keys.
    if (process.platform !== 'win32' && (stat.mode & 0o022) !== 0) {
      const shown = (stat.mode & 0o777).toString(8).padStart(4, '0');
      throw corrupt(`it is writable by group or others (mode ${shown}), so its contents cannot be trusted; run: chmod 600 '${path}'`);
    }
    await checkTrustFileOwnership(path, stat);
    if (stat.size > MAX_TRUST_FILE_BYTES) throw corrupt(`it is larger than ${MAX_TRUST_FILE_BYTES} bytes`);
    const bytes = await readAll(handle, stat.size);
    if (bytes.length > MAX_TRUST_FILE_BYTES) throw corrupt(`it is larger than ${MAX_TRUST_FILE_BYTES} bytes`);
    return parseTrustFile(bytes, path);
  } finally {
    await handle.close();
  }
}

/** Why the directory of the trust file could not be made: no permission, or a file where a directory should be. */
async function directoryFailure(dir: string, file: string, error: unknown): Promise<Error> {
  const { fs } = await nodeApis();
  if (isPermissionError(error)) {
    return new PermissionDeniedError(
      `cannot use trust store ${file}: permission denied creating its directory ${dir}. ` +
        'Check the owner and mode of the directories above it, or keep the trust file in a directory of your own',
      { path: dir, cause: error },
    );
  }
  const code = errorCode(error);
  if (code === 'EEXIST' || code === 'ENOTDIR') {
    // mkdir says EEXIST for a file at the path itself; ENOTDIR when a file stands where a parent should be.
    const what = (await fs.stat(dir).catch(() => undefined)) === undefined ? 'a component of its path is a file' : 'it is a file';
    return new InvalidArgumentError(
      `cannot use trust store ${file}: its directory ${dir} is not a directory (${what}): give a directory, or move the file away`,
      { cause: error },
    );
  }
  return new CorruptTrustStoreError(`cannot use trust store ${file}: cannot create its directory (${describeFileError(error)})`, {
    path: file,
    cause: error,
  });
}

/**
 * Opens (or starts) the trust store kept in the JSON file at `path`. A
 * damaged file throws `CorruptTrustStoreError`, never yields an empty store.
 * A file (or a symbolic link's target) owned by another user than this one
 * or root, or a directory holding or above it that is another user's or
 * writable by others, throws `UnsafePermissionsError` (see `checkOwnership`
 * of `@peernet/atomic-file`); so does `reload`. A file or directory this
 * process may not read or write throws `PermissionDeniedError` (so does a
 * change that cannot be written); a file where its directory should be,
 * `InvalidArgumentError` saying "is not a directory". Temp files left by a
 * crashed writer are removed. One process at a time should have a given
 * file open.
 */
export async function openFileTrustStore(options: FileTrustStoreOptions): Promise<FileTrustStore> {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options must be an object');
  const { path: given, now } = options;
  if (typeof given !== 'string' || given.length === 0 || given.includes('\0')) {
    throw new InvalidArgumentError('path must be a non-empty string without NUL characters');
  }
  if (now !== undefined && typeof now !== 'function') throw new InvalidArgumentError('now must be a function');
  const { fs, path } = await nodeApis();
  const named = path.resolve(given);
  let file = named;
  try {
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  } catch (error) {
    throw await directoryFailure(path.dirname(file), file, error);
  }
  // Write where the data lives: replacing a symbolic link by a file would silently fork the store.
  try {
    file = await fs.realpath(file);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw fileFailure(file, error);
    if ((await fs.lstat(file).catch(() => undefined)) !== undefined) {
      throw new CorruptTrustStoreError(`cannot use trust store ${file}: it is a symbolic link to a missing file`, {
        path: file,
      });
    }
  }
  // The directory of the name (where a link could be replaced) as well as the data's, and
  // before anything is removed in them: neither may be another user's to control.
  await checkTrustFileOwnership(named);
  await removeStaleTempFiles(file);
  return new JsonFileTrustStore(file, await readTrustFile(file), now);
}
