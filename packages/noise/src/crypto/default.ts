import { nodeCrypto } from './node.js';
import type { CryptoProvider } from './provider.js';

/** The provider used when none is given. */
export const defaultCrypto: CryptoProvider = nodeCrypto;
