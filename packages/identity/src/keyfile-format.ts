import { InvalidKeyfileError } from './errors.js';
import { identityFromSeed, identitySeed, type Identity } from './identity.js';

// Layout (72 bytes): "PNETKEY" | u8 version = 1 | 32-byte Ed25519 seed | 32-byte Ed25519 public key.
// The public key is redundant on purpose: deriving it again from the seed
// detects any damage to either half.
const MAGIC = Uint8Array.from([0x50, 0x4e, 0x45, 0x54, 0x4b, 0x45, 0x59]);
const VERSION = 1;
const SEED_OFFSET = MAGIC.length + 1;
const PUBLIC_KEY_OFFSET = SEED_OFFSET + 32;

/** Size in bytes of a version 1 keyfile. */
export const KEYFILE_BYTES = PUBLIC_KEY_OFFSET + 32;

/** Serialises an identity into keyfile bytes (contains the secret seed). */
export function encodeKeyfile(identity: Identity): Uint8Array {
  const out = new Uint8Array(KEYFILE_BYTES);
  out.set(MAGIC, 0);
  out[MAGIC.length] = VERSION;
  out.set(identitySeed(identity), SEED_OFFSET);
  out.set(identity.id.unsafeBytes, PUBLIC_KEY_OFFSET);
  return out;
}

/** Parses keyfile bytes; any damage throws `InvalidKeyfileError` naming `path`. */
export function decodeKeyfile(bytes: Uint8Array, path: string): Identity {
  const fail = (reason: string): never => {
    throw new InvalidKeyfileError(`invalid keyfile ${path}: ${reason}`, { path });
  };
  if (bytes.length === 0) fail('the file is empty');
  if (bytes.length < MAGIC.length || !MAGIC.every((b, i) => bytes[i] === b)) {
    fail('not a PeerNet keyfile (wrong magic bytes)');
  }
  if (bytes.length > MAGIC.length && bytes[MAGIC.length] !== VERSION) {
    fail(`unsupported keyfile version ${bytes[MAGIC.length]} (this version reads version ${VERSION})`);
  }
  if (bytes.length !== KEYFILE_BYTES) {
    fail(`wrong size: ${bytes.length} bytes instead of ${KEYFILE_BYTES} (truncated or extended)`);
  }
  const seed = bytes.subarray(SEED_OFFSET, PUBLIC_KEY_OFFSET);
  const stored = bytes.subarray(PUBLIC_KEY_OFFSET, KEYFILE_BYTES);
  const identity = identityFromSeed(seed);
  if (!identity.id.equals(stored)) fail('corrupt: the stored public key does not match the secret key');
  return identity;
}
