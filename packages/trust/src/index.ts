export { MemoryTrustStore } from './store.js';
export type { AddOptions, MemoryTrustStoreOptions, TrustChanges, TrustEntry, TrustStore, TrustStoreEvents } from './store.js';
export { MAX_TRUST_FILE_BYTES, openFileTrustStore } from './file-store.js';
export type { FileTrustStore, FileTrustStoreOptions } from './file-store.js';
export { MAX_LABEL_LENGTH, TRUST_FILE_VERSION } from './format.js';
export { CorruptTrustStoreError } from './errors.js';
export type { CorruptTrustStoreErrorOptions } from './errors.js';
