import { FileError, type FileErrorOptions } from '@peernet/interface';

/** Options of the keyfile errors: the file concerned and the underlying error. */
export interface KeyfileErrorOptions extends FileErrorOptions {
  /** Path of the keyfile the error is about. */
  path?: string;
}

/**
 * A keyfile that cannot be used: missing, unreadable, not a regular file,
 * truncated, extended, corrupt or of an unknown format. Never answered by
 * silently creating a new identity.
 */
export class InvalidKeyfileError extends FileError {
  constructor(message: string, options?: KeyfileErrorOptions) {
    super('invalid_keyfile', message, options);
  }
}

/** A keyfile that group or others may read or write (like ssh, the key is refused). */
export class InsecureKeyfileError extends FileError {
  constructor(message: string, options?: KeyfileErrorOptions) {
    super('insecure_keyfile', message, options);
  }
}
