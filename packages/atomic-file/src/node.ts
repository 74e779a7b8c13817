import type * as FsPromises from 'node:fs/promises';
import type * as NodePath from 'node:path';

/** Node's file-system modules. */
export interface NodeApis {
  fs: typeof FsPromises;
  path: typeof NodePath;
}

let apis: Promise<NodeApis> | undefined;

/**
 * Node's file APIs, imported on first use: the rest of the package must load
 * in runtimes without `node:fs` (browsers, workers).
 */
export function nodeApis(): Promise<NodeApis> {
  apis ??= Promise.all([import('node:fs/promises'), import('node:path')]).then(([fs, path]) => ({ fs, path }));
  return apis;
}

/** The `code` of a Node system error, if any. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * A few words on why a file-system call failed, for an error message that
 * already names the path (`'permission denied'`, `'no such file'`, ...);
 * the error's own message for codes without a plainer wording.
 */
export function describeFileError(error: unknown): string {
  switch (errorCode(error)) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'not a regular file (it is a directory)';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    case 'ENOTDIR':
      return 'a component of the path is not a directory';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}
