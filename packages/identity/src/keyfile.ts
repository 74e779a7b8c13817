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
import { InsecureKeyfileError, InvalidKeyfileError } from './errors.js';
import { generateIdentity, type Identity } from './identity.js';
import { KEYFILE_BYTES, decodeKeyfile, encodeKeyfile } from './keyfile-format.js';

/** Name of the keyfile inside a data directory. */
export const KEYFILE_NAME = 'identity.key';

// Anything larger is rejected without reading it.
const MAX_READ_BYTES = 4096;

/** Options of `saveIdentity`. */
export interface SaveIdentityOptions {
  /** Replace an existing file at the path (default false: refuse, keeping the old key). */
  overwrite?: boolean;
}

/** Options of `loadOrCreateIdentity`. */
export interface LoadOrCreateIdentityOptions {
  /** Directory holding `identity.key`; created (mode 0700) if missing. */
  dataDir: string;
}

function checkPath(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidArgumentError(`${what} must be a non-empty string`);
  if (value.includes('\0')) throw new InvalidArgumentError(`${what} must not contain NUL characters`);
  return value;
}



/** The error for a keyfile that could not be read, opened, written or created (`action`). */
function fileFailure(action: string, path: string, error: unknown): Error {
  if (isPermissionError(error)) return permissionDenied({ action, what: 'keyfile', path, cause: error });
  return new InvalidKeyfileError(`cannot ${action} keyfile ${path}: ${describeFileError(error)}`, { path, cause: error });
}

// Whoever owns the key or can write where it lives can become this node.
async function checkKeyfileOwnership(path: string, opened?: { uid: number }): Promise<void> {
  let problem: OwnershipProblem | undefined;
  try {
    problem = await checkOwnership({ path, ...(opened === undefined ? {} : { opened }) });
  } catch (error) {
    throw fileFailure('read', path, error);
  }
  if (problem !== undefined) {
    throw new UnsafePermissionsError(`keyfile ${path} refused: ${problem.message}`, {
      path: problem.path,
      problem: problem.kind,
    });
  }
}

function checkPermissions(mode: number, path: string): void {
  // Windows has no POSIX modes; its ACLs are the user's business.
  if (process.platform === 'win32') return;
  if ((mode & 0o077) !== 0) {
    const shown = (mode & 0o777).toString(8).padStart(4, '0');
    throw new InsecureKeyfileError(
      `Permissions ${shown} for keyfile '${path}' are too open. ` +
        'A private key file must not be accessible by group or others, so this key is refused. ' +
        `Run: chmod 600 '${path}'`,
      { path },
    );
  }
}

async function readAtMost(handle: FileHandle, limit: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(limit);
  let filled = 0;
  while (filled < limit) {
    const { bytesRead } = await handle.read(buffer, filled, limit - filled, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

// 'missing' only when nothing exists at the path; everything else is the typed error.
async function readKeyfile(path: string): Promise<Identity | 'missing'> {
  const { fs } = await nodeApis();
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO planted at the path must not hang.
    handle = await fs.open(path, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (error) {
    if (errorCode(error) === 'ENOENT') {
      const link = await fs.lstat(path).catch(() => undefined);
      if (link === undefined) return 'missing';
      throw new InvalidKeyfileError(`cannot read keyfile ${path}: it is a symbolic link to a missing file`, {
        path,
        cause: error,
      });
    }
    throw fileFailure('read', path, error);
  }
  let bytes: Uint8Array | undefined;
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      const kind = stat.isDirectory() ? 'a directory' : 'a special file';
      throw new InvalidKeyfileError(`invalid keyfile ${path}: not a regular file (it is ${kind})`, { path });
    }
    checkPermissions(stat.mode, path);
    await checkKeyfileOwnership(path, stat);
    if (stat.size > MAX_READ_BYTES) {
      throw new InvalidKeyfileError(
        `invalid keyfile ${path}: wrong size: ${stat.size} bytes instead of ${KEYFILE_BYTES}`,
        { path },
      );
    }
    bytes = await readAtMost(handle, MAX_READ_BYTES + 1);
    return decodeKeyfile(bytes, path);
  } finally {
    bytes?.fill(0);
    await handle.close();
  }
}

/** Why the data directory could not be made: no permission, or something that is not a directory in the way. */
async function dataDirFailure(dataDir: string, error: unknown): Promise<Error> {
  const { fs } = await nodeApis();
  if (isPermissionError(error)) {
    const uid = process.platform === 'win32' ? undefined : process.geteuid?.();
    return new PermissionDeniedError(
      `cannot create data directory ${dataDir}: permission denied. Check the owner and mode of the directories above it` +
        `${uid === undefined ? '' : ` (uid ${uid} must be able to write in its parent)`}, or choose a data directory of your own`,
      { path: dataDir, cause: error },
    );
  }
  const code = errorCode(error);
  if (code === 'EEXIST' || code === 'ENOTDIR') {
    // mkdir says EEXIST for a file at the path itself; ENOTDIR when a file stands where a parent should be.
    const stat = await fs.stat(dataDir).catch(() => undefined);
    const what = stat === undefined ? 'a component of its path is a file' : 'it is a file';
    return new InvalidArgumentError(
      `data directory ${dataDir} is not a directory (${what}): give a directory, or move the file away`,
      { cause: error },
    );
  }
  return new InvalidArgumentError(`cannot create data directory ${dataDir}: ${describeFileError(error)}`, { cause: error });
}

/**
 * Loads the identity stored at `path`. Throws `InvalidKeyfileError` if it is
 * missing or damaged, `PermissionDeniedError` if the operating system refuses
 * this process access to it (EACCES, EPERM), `InsecureKeyfileError` if group
 * or others can access it and `UnsafePermissionsError` if it (or a symbolic link's target) is owned by
 * another user than this one or root, or a directory holding or above it is
 * another user's or writable by others (see `checkOwnership` of
 * `@peernet/atomic-file`).
 */
export async function loadIdentity(path: string): Promise<Identity> {
  checkPath(path, 'keyfile path');
  const identity = await readKeyfile(path);
  if (identity === 'missing') throw new InvalidKeyfileError(`cannot read keyfile ${path}: no such file`, { path });
  return identity;
}

/**
 * Writes `identity` to a new keyfile at `path` (mode 0600, atomic and
 * durable). Refuses to replace an existing file unless `overwrite` is set.
 */
export async function saveIdentity(path: string, identity: Identity, options: SaveIdentityOptions = {}): Promise<void> {
  checkPath(path, 'keyfile path');
  const data = encodeKeyfile(identity);
  try {
    const outcome = await writeFileAtomic({ path, data, mode: options.overwrite === true ? 'replace' : 'exclusive' }).catch(
      (error: unknown) => {
        throw fileFailure('write', path, error);
      },
    );
    if (outcome === 'exists') {
      throw new InvalidArgumentError(
        `refusing to overwrite the existing keyfile ${path} (pass { overwrite: true } to replace it)`,
      );
    }
  } finally {
    data.fill(0);
  }
}

/**
 * Loads `dataDir/identity.key`, or creates it with a new identity if no file
 * exists. Concurrent callers (even in other processes) all get the same
 * identity. A damaged keyfile is an error, never replaced. The errors are
 * those of `loadIdentity`; a data directory that is another user's or that
 * group or others may write is refused (`UnsafePermissionsError`) before
 * anything is created in it. A data directory that cannot be created throws
 * `PermissionDeniedError` when access is refused, and `InvalidArgumentError`
 * saying "is not a directory" when a file stands at its path or above it.
 */
export async function loadOrCreateIdentity(options: LoadOrCreateIdentityOptions): Promise<Identity> {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options must be an object');
  const dataDir = checkPath(options.dataDir, 'dataDir');
  const { fs, path } = await nodeApis();
  try {
    await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw await dataDirFailure(dataDir, error);
  }
  const file = path.join(dataDir, KEYFILE_NAME);
  // Before anything is removed or created in the directory: it must not be another user's to control.
  await checkKeyfileOwnership(file);
  await removeStaleTempFiles(file);
  const existing = await readKeyfile(file);
  if (existing !== 'missing') return existing;

  const created = generateIdentity();
  const data = encodeKeyfile(created);
  let outcome: 'written' | 'exists';
  try {
    outcome = await writeFileAtomic({ path: file, data, mode: 'exclusive' });
  } catch (error) {
    // A directory we may read but not write (e.g. read-only, or another mode slip) must not leak a bare EACCES.
    throw fileFailure('create', file, error);
  } finally {
    data.fill(0);
  }
  if (outcome === 'written') return created;
  // Another process created the keyfile first: its identity is the one.
  const theirs = await readKeyfile(file);
  if (theirs === 'missing') {
    throw new InvalidKeyfileError(`keyfile ${file} appeared and vanished while it was being created`, { path: file });
  }
  return theirs;
}
