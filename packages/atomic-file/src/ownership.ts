import { errorCode, nodeApis } from './node.js';

/** What `checkOwnership` found wrong with a file or one of the directories above it. */
export interface OwnershipProblem {
  /** The file or directory at fault, symbolic links resolved. */
  readonly path: string;
  /** `owner`: a user other than this one and root owns it; `writable`: group or others may write to it. */
  readonly kind: 'owner' | 'writable';
  /** What is wrong with `path`, why it matters and the command that fixes it. */
  readonly message: string;
}

/** Options of `checkOwnership`. */
export interface CheckOwnershipOptions {
  /** The file, as the caller names it: a symbolic link is followed; the file need not exist yet. */
  path: string;
  /**
   * The file's owner as the caller opened it (from `FileHandle.stat()`), so
   * that the file checked is the file read. Without it the path is stat'ed.
   */
  opened?: { readonly uid: number };
}

const modeText = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');

/**
 * Checks that no other user can have planted `path` or can change it, as
 * ssh's StrictModes does for `authorized_keys`:
 *
 * - the file (the target of a symbolic link) is owned by the effective user
 *   or by root;
 * - the directories holding it (that of the path as given, i.e. the data
 *   directory, and that of the real file) are owned by the effective user
 *   or root and writable by nobody else, sticky bit or not;
 * - every directory above them, up to `/`, is owned by the effective user or
 *   root and is not writable by group or others unless it is sticky (like
 *   `/tmp`): a sticky directory keeps others from renaming or removing what
 *   is ours in it.
 *
 * Resolves with the first problem, nearest to the file first, or
 * `undefined`. A file or directory that does not exist is not a problem (the
 * directories that do exist are still checked). Nothing is checked on
 * Windows, which has no uids; what failing system calls other than a
 * missing path throw is rethrown.
 */
export async function checkOwnership(options: CheckOwnershipOptions): Promise<OwnershipProblem | undefined> {
  const uid = process.platform === 'win32' ? undefined : process.geteuid?.();
  if (uid === undefined) return undefined;
  const { fs, path } = await nodeApis();
  const file = path.resolve(options.path);
  const owned = (owner: number): boolean => owner === uid || owner === 0;
  const whom = uid === 0 ? 'root' : `this user (uid ${uid}) or root`;

  const realOrMissing = async (p: string): Promise<string | undefined> => {
    try {
      return await fs.realpath(p);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return undefined;
      throw error;
    }
  };

  const real = await realOrMissing(file);
  const fileOwner = options.opened?.uid ?? (real === undefined ? undefined : (await fs.stat(real)).uid);
  if (fileOwner !== undefined && !owned(fileOwner)) {
    const at = real ?? file;
    return {
      path: at,
      kind: 'owner',
      message:
        `'${at}' is owned by uid ${fileOwner}, not by ${whom}: another user may have planted it and can change it. ` +
        `If it is yours, give it to uid ${uid} (as root: chown ${uid} '${at}'); if not, remove it`,
    };
  }

  // Where the name lives (a link there can be replaced) and where the data lives.
  const holders: string[] = [];
  const named = await realOrMissing(path.dirname(file));
  if (named !== undefined) holders.push(named);
  if (real !== undefined && !holders.includes(path.dirname(real))) holders.push(path.dirname(real));
  const above: string[] = [];
  for (const holder of holders) {
    for (let dir = holder; path.dirname(dir) !== dir; ) {
      dir = path.dirname(dir);
      if (!holders.includes(dir) && !above.includes(dir)) above.push(dir);
    }
  }

  for (const dir of holders) {
    const stat = await fs.stat(dir);
    if (!owned(stat.uid)) {
      return {
        path: dir,
        kind: 'owner',
        message:
          `directory '${dir}', which holds '${file}', is owned by uid ${stat.uid}, not by ${whom}: ` +
          'its owner can plant or replace the files in it. ' +
          `Keep the file in a directory of your own, or, if this one is yours, run as root: chown ${uid} '${dir}'`,
      };
    }
    if ((stat.mode & 0o022) !== 0) {
      const sticky = (stat.mode & 0o1000) !== 0;
      return {
        path: dir,
        kind: 'writable',
        message:
          `directory '${dir}', which holds '${file}', is writable by group or others (mode ${modeText(stat.mode)}): ` +
          `another user can plant ${sticky ? 'files that do not exist yet in it (the sticky bit does not stop that)' : 'or replace the files in it'}. ` +
          `Run: chmod 700 '${dir}'` +
          (sticky ? ', or, if it is a shared directory such as /tmp, keep the file in a directory of your own' : ''),
      };
    }
  }

  for (const dir of above) {
    const stat = await fs.stat(dir);
    if (!owned(stat.uid)) {
      return {
        path: dir,
        kind: 'owner',
        message:
          `directory '${dir}', above '${file}', is owned by uid ${stat.uid}, not by ${whom}: ` +
          'its owner can replace the directories below it. ' +
          `Keep the file where every directory above it is yours or root's, or run as root: chown ${uid} '${dir}'`,
      };
    }
    if ((stat.mode & 0o022) !== 0 && (stat.mode & 0o1000) === 0) {
      return {
        path: dir,
        kind: 'writable',
        message:
          `directory '${dir}', above '${file}', is writable by group or others and not sticky ` +
          `(mode ${modeText(stat.mode)}): another user can rename the directories in it and put their own in place. ` +
          `Run: chmod go-w '${dir}'`,
      };
    }
  }
  return undefined;
}
