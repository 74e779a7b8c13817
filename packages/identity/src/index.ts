export {
  ed25519KeyPair,
  formatPeerId,
  generateIdentity,
  identityFromSeed,
  parsePeerId,
  verify,
  x25519PublicKeyOf,
} from './identity.js';
export type { Identity, NoiseKeyPair, VerifyOptions, X25519FormOptions } from './identity.js';
export { KEYFILE_NAME, loadIdentity, loadOrCreateIdentity, saveIdentity } from './keyfile.js';
export type { LoadOrCreateIdentityOptions, SaveIdentityOptions } from './keyfile.js';
export { InsecureKeyfileError, InvalidKeyfileError } from './errors.js';
export type { KeyfileErrorOptions } from './errors.js';
export type { PeerId, PeerIdLike } from '@peernet/interface';
