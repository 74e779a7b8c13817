import { FileError, type FileErrorOptions } from '@peernet/interface';

/** Options of `CorruptTrustStoreError`. */
export interface CorruptTrustStoreErrorOptions extends FileErrorOptions {
  /** Path of the trust file, when there is one. */
  path?: string;
}

/**
 * A trust file that cannot be used as it is: unreadable, unparsable, of an
 * unknown version, with invalid or duplicate ids, or open to tampering. The
 * store refuses to open rather than start with a wrong (e.g. empty) allowlist.
 */
export class CorruptTrustStoreError extends FileError {
  constructor(message: string, options?: CorruptTrustStoreErrorOptions) {
    super('corrupt_trust_store', message, options);
  }
}
