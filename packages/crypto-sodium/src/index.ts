export { sodiumCrypto } from './provider.js';
