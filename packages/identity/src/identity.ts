import { ed25519 } from '@noble/curves/ed25519.js';
import { hexToBytes } from '@noble/curves/utils.js';
import { InvalidArgumentError, InvalidPeerIdError, PeerId, type PeerIdLike } from '@peernet/interface';

const SEED_BYTES = 32;
const PUBLIC_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;

/** The X25519 keypair a node uses as its Noise static key. */
export interface NoiseKeyPair {
  /** X25519 public key (32 bytes), the Montgomery form of the Ed25519 public key. */
  publicKey: Uint8Array;
  /** X25519 private key (32 bytes), derived from the Ed25519 seed. */
  privateKey: Uint8Array;
}

/**
 * A node's identity: an Ed25519 keypair. Its public key is its `PeerId`.
 * The secret seed never appears in an enumerable property, `toString`,
 * `util.inspect` or JSON.
 */
export interface Identity {
  /** The peer id: the Ed25519 public key. */
  readonly id: PeerId;
  /** A copy of the 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** Ed25519 signature (64 bytes, RFC 8032) of `message`. */
  sign(message: Uint8Array): Uint8Array;
  /** Fresh copies of the X25519 keypair used as the Noise static key. */
  noiseKeyPair(): NoiseKeyPair;
}

// Lets the keyfile code read the seed without making it reachable from outside the package.
let seedOf: (identity: Ed25519Identity) => Uint8Array;

class Ed25519Identity implements Identity {
  readonly id: PeerId;
  readonly #seed: Uint8Array;
  #noise: NoiseKeyPair | undefined;

  constructor(seed: Uint8Array) {
    // noble keeps a reference to the seed it is given: own a private copy.
    this.#seed = Uint8Array.from(seed);
    this.id = PeerId.fromBytes(ed25519.getPublicKey(this.#seed));
    Object.freeze(this);
  }

  /** A copy of the 32-byte Ed25519 public key. */
  get publicKey(): Uint8Array {
    return this.id.bytes;
  }

  /** Ed25519 signature (RFC 8032) of `message`. */
  sign(message: Uint8Array): Uint8Array {
    if (!(message instanceof Uint8Array)) throw new InvalidArgumentError('message to sign must be a Uint8Array');
    return ed25519.sign(message, this.#seed);
  }

  /** Fresh copies of the X25519 keypair for Noise. */
  noiseKeyPair(): NoiseKeyPair {
    this.#noise ??= {
      publicKey: ed25519.utils.toMontgomery(this.id.unsafeBytes),
      privateKey: ed25519.utils.toMontgomerySecret(this.#seed),
    };
    // Copies, so a caller that wipes or alters its keypair cannot affect the next one.
    return { publicKey: Uint8Array.from(this.#noise.publicKey), privateKey: Uint8Array.from(this.#noise.privateKey) };
  }

  /** `Identity(<peer id>)`: never the secret. */
  toString(): string {
    return `Identity(${this.id.toString()})`;
  }

  /** `{ id }` only: never the secret. */
  toJSON(): { id: string } {
    return { id: this.id.toString() };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  static {
    seedOf = (identity) => identity.#seed;
  }
}

/** Creates a new identity from 32 bytes of the platform's secure random generator. */
export function generateIdentity(): Identity {
  return new Ed25519Identity(ed25519.utils.randomSecretKey());
}

/** Rebuilds the identity whose Ed25519 secret key (RFC 8032 seed) is `seed` (32 bytes). */
export function identityFromSeed(seed: Uint8Array): Identity {
  if (!(seed instanceof Uint8Array)) throw new InvalidArgumentError('identity seed must be a Uint8Array');
  if (seed.length !== SEED_BYTES) {
    throw new InvalidArgumentError(`identity seed must be ${SEED_BYTES} bytes, got ${seed.length}`);
  }
  return new Ed25519Identity(seed);
}

/**
 * Internal: a copy of the seed of an identity made by this package, for the
 * keyfile writer. Not exported from the package.
 */
export function identitySeed(identity: Identity): Uint8Array {
  if (!(identity instanceof Ed25519Identity)) {
    throw new InvalidArgumentError(
      'only identities created by @peernet/identity (generateIdentity, identityFromSeed, loadIdentity) can be saved',
    );
  }
  return Uint8Array.from(seedOf(identity));
}

/**
 * The identity's Ed25519 key pair in libsodium's layout (`secretKey` is the
 * 32-byte seed followed by the public key), for a transport whose network
 * addresses nodes by this key (a DHT). The secret is the keyfile's: hand it
 * only to code you would let read the keyfile.
 */
export function ed25519KeyPair(identity: Identity): { publicKey: Uint8Array; secretKey: Uint8Array } {
  const seed = identitySeed(identity);
  const secretKey = new Uint8Array(64);
  secretKey.set(seed, 0);
  secretKey.set(identity.publicKey, 32);
  seed.fill(0);
  return { publicKey: identity.publicKey, secretKey };
}

/** What `verify` checks: a signature over a message by a key given as bytes or as a peer id. */
export type VerifyOptions = {
  /** The signed bytes. */
  message: Uint8Array;
  /** The 64-byte Ed25519 signature. */
  signature: Uint8Array;
} & (
  | { /** The signer's 32-byte Ed25519 public key. */ publicKey: Uint8Array; peerId?: undefined }
  | { /** The signer's peer id (same key, any `PeerIdLike` form). */ peerId: PeerIdLike; publicKey?: undefined }
);

/**
 * Checks an Ed25519 signature (strict RFC 8032: canonical encodings, no
 * small-order keys). Returns false, never throws, on any malformed input.
 */
export function verify(options: VerifyOptions): boolean {
  // The inputs usually come from the network: any oddity is a failed check, not an exception.
  try {
    if (typeof options !== 'object' || options === null) return false;
    const { message, signature, publicKey, peerId } = options;
    if (!(message instanceof Uint8Array) || !(signature instanceof Uint8Array)) return false;
    if (signature.length !== SIGNATURE_BYTES) return false;
    let key: Uint8Array;
    if (publicKey !== undefined) {
      if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) return false;
      if (peerId !== undefined && !PeerId.from(peerId).equals(publicKey)) return false;
      key = publicKey;
    } else if (peerId !== undefined) {
      key = PeerId.from(peerId).unsafeBytes;
    } else {
      return false;
    }
    return ed25519.verify(signature, message, key, { zip215: false });
  } catch {
    return false;
  }
}

/** Options of `x25519PublicKeyOf`. */
export interface X25519FormOptions {
  /**
   * X25519 of a 32-byte scalar (already clamped) and a 32-byte public key,
   * throwing when the result is all zeros; e.g. `(k, u) => crypto.x25519(k).dh(u)`
   * with a `@peernet/noise` provider. With a native implementation the check
   * that the key has no small-order component costs one DH instead of a
   * pure-JS scalar multiplication (about 2 ms here, ten times more).
   */
  x25519?: ((scalar: Uint8Array, publicKey: Uint8Array) => Uint8Array) | undefined;
}

const Fp = ed25519.Point.Fp;
// c = 2^254 + 8t, a clamped X25519 scalar with c ≡ -1 (mod L) and c ≡ 0 (mod 8):
// for Q = P + T (P of prime order L, T of order dividing 8), [c]Q = -P, whose u
// coordinate equals u(Q) exactly when T is the identity. (Derivation in the tests.)
const TORSION_PROBE = hexToBytes('a023cdd083ef5bb82f10d62e59e15a6800000000000000000000000000000050');

/**
 * The X25519 (Montgomery) form of a peer's Ed25519 key: what its Noise static
 * key must equal. Throws `InvalidPeerIdError` for a key that is not a valid,
 * prime-order Ed25519 point.
 */
export function x25519PublicKeyOf(peerId: PeerIdLike, options: X25519FormOptions = {}): Uint8Array {
  const id = PeerId.from(peerId);
  let point: InstanceType<typeof ed25519.Point>;
  try {
    point = ed25519.Point.fromBytes(id.unsafeBytes, false);
  } catch (error) {
    throw new InvalidPeerIdError(`peer id ${id.toString()} is not a valid Ed25519 public key`, { cause: error });
  }
  // Keys made from a seed are always in the prime-order subgroup. A key with a
  // small-order component can be used in a Noise handshake by whoever holds the
  // matching prime-order key, so one secret would answer to several peer ids.
  const notPrimeOrder = (): InvalidPeerIdError =>
    new InvalidPeerIdError(`peer id ${id.toString()} is not a prime-order Ed25519 public key`);
  if (point.isSmallOrder()) throw notPrimeOrder();
  // u = (1 + y) / (1 - y); y ≠ 1 here, since the identity point has small order.
  const { y } = point.toAffine();
  const u = Fp.toBytes(Fp.div(Fp.add(Fp.ONE, y), Fp.sub(Fp.ONE, y)));
  if (options.x25519 === undefined) {
    if (!point.isTorsionFree()) throw notPrimeOrder();
    return u;
  }
  let probe: Uint8Array | undefined;
  try {
    probe = options.x25519(TORSION_PROBE, u);
  } catch {
    probe = undefined;
  }
  if (probe === undefined || probe.length !== 32 || probe.some((byte, i) => byte !== u[i])) throw notPrimeOrder();
  return u;
}

/** Parses a peer id's text form (52-char base32 or 64-char hex); throws `InvalidPeerIdError`. */
export function parsePeerId(text: string): PeerId {
  return PeerId.parse(text);
}

/** The canonical text form (52-char lowercase base32) of a peer id. */
export function formatPeerId(id: PeerIdLike): string {
  return PeerId.from(id).toString();
}
