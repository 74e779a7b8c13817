// CPACE-RISTR255-SHA512 of draft-irtf-cfrg-cpace-21: the group environment
// G_Ristretto255 (section 8.3) with H = SHA-512, and the protocol of section 7
// in both its initiator-responder and symmetric settings.
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';
import { bytesToNumberLE } from '@noble/curves/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { InvalidArgumentError, ProtocolError } from '@peernet/interface';
import { concat, generatorString, lvCat, transcriptIr, transcriptOc } from './encoding.js';

const Point = ristretto255.Point;

/** The part of a ristretto255 element this module uses (noble's class type cannot be named in declarations). */
export interface Element {
  multiply(scalar: bigint): Element;
  toBytes(): Uint8Array;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** G.DSI of G_Ristretto255. */
export const DSI = text('CPaceRistretto255');
/** G.DSI || b"_ISK", which domain-separates the ISK hash. */
export const DSI_ISK = text('CPaceRistretto255_ISK');
/** H.s_in_bytes: SHA-512 compresses 128-byte blocks. */
const SHA512_BLOCK_BYTES = 128;
/** G.field_size_bytes, and the length of every encoded element. */
const FIELD_SIZE_BYTES = 32;
/** G.I: ristretto255 encodes the identity as 32 zero bytes. */
const IDENTITY = new Uint8Array(FIELD_SIZE_BYTES);

/**
 * `G.calculate_generator(H, PRS, CI, sid)`: hash the generator string to
 * 2 * field_size_bytes = 64 bytes and map them with ristretto255's element
 * derivation (RFC 9496 section 4.3.4), which `deriveToCurve` implements.
 */
export function calculateGenerator(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): Element {
  const hash = sha512(generatorString(DSI, prs, ci, sid, SHA512_BLOCK_BYTES));
  // deriveToCurve is optional in noble's hasher type, but ristretto255's always has it.
  return ristretto255_hasher.deriveToCurve!(hash.subarray(0, 2 * FIELD_SIZE_BYTES));
}

/**
 * `G.sample_scalar()` as section 8.3 recommends: 32 random bytes with the
 * bits above group_size_bits (252) cleared, read little-endian. That is
 * always below the group order (2^252 + ...), so no reduction is needed.
 * Zero, which would make our share the identity that the peer must refuse,
 * is drawn again.
 */
export function sampleScalar(random: (length: number) => Uint8Array): bigint {
  for (let attempt = 0; attempt < 4; attempt++) {
    const bytes = random(FIELD_SIZE_BYTES);
    if (!(bytes instanceof Uint8Array) || bytes.length !== FIELD_SIZE_BYTES) {
      throw new InvalidArgumentError(`CPace: random(${FIELD_SIZE_BYTES}) must return ${FIELD_SIZE_BYTES} bytes`);
    }
    const copy = Uint8Array.from(bytes);
    copy[FIELD_SIZE_BYTES - 1] = (copy[FIELD_SIZE_BYTES - 1] as number) & 0x0f;
    const y = bytesToNumberLE(copy);
    copy.fill(0);
    if (y !== 0n) return y;
  }
  throw new InvalidArgumentError('CPace: random() keeps returning a zero scalar; it is not a random source');
}

/** `G.scalar_mult(y, g)`: `encode(y * g)`. */
export function scalarMult(y: bigint, g: Element): Uint8Array {
  return g.multiply(y).toBytes();
}

/**
 * `G.scalar_mult_vfy(y, X)`: G.I if X is not the canonical encoding of a
 * group element (wrong length included), else `encode(y * decode(X))`.
 * ristretto255 has prime order, so the result is G.I exactly when X encodes
 * the identity; the caller aborts on G.I either way.
 */
export function scalarMultVfy(y: bigint, encoded: Uint8Array): Uint8Array {
  let point: Element;
  try {
    point = Point.fromBytes(encoded);
  } catch {
    return IDENTITY.slice();
  }
  return point.multiply(y).toBytes();
}

/** Scalars as the draft's vectors write them: 32 bytes, little-endian. */
export function scalarFromBytes(bytes: Uint8Array): bigint {
  return bytesToNumberLE(bytes);
}

function isIdentity(encoded: Uint8Array): boolean {
  let bits = 0;
  for (const byte of encoded) bits |= byte;
  return bits === 0;
}

/** `ISK = H.hash(lv_cat(G.DSI || b"_ISK", sid, K) || transcript)` (section 7.2). */
export function intermediateSessionKey(sid: Uint8Array, k: Uint8Array, transcript: Uint8Array): Uint8Array {
  return sha512(concat(lvCat(DSI_ISK, sid, k), transcript));
}

/** The transcript of each setting: ordered by role, or by value when there are no roles. */
export type Setting = 'initiator-responder' | 'symmetric';

/** Inputs both sides of a run must agree on, and this side's own associated data and randomness. */
export interface Inputs {
  prs: Uint8Array;
  ci: Uint8Array;
  sid: Uint8Array;
  ad?: Uint8Array | undefined;
  random?: ((length: number) => Uint8Array) | undefined;
}

/** Checks the caller's inputs and copies them, so a buffer changed later changes nothing here. */
export function checkInputs(inputs: Inputs): Required<Inputs> {
  if (typeof inputs !== 'object' || inputs === null) throw new InvalidArgumentError('CPace: expected an options object');
  const { prs, ci, sid, ad = new Uint8Array(0), random = randomBytes } = inputs;
  for (const [name, value] of [['prs', prs], ['ci', ci], ['sid', sid], ['ad', ad]] as const) {
    if (!(value instanceof Uint8Array)) throw new InvalidArgumentError(`CPace: ${name} must be a Uint8Array`);
  }
  // An empty PRS is allowed by the draft but is never what a pairing meant: it is a bug upstream.
  if (prs.length === 0) throw new InvalidArgumentError('CPace: prs must not be empty');
  if (typeof random !== 'function') throw new InvalidArgumentError('CPace: random must be a function');
  return { prs: prs.slice(), ci: ci.slice(), sid: sid.slice(), ad: ad.slice(), random };
}

/** Checks the peer's associated data, which the application received alongside its share. */
export function checkPeerAd(peerAd: Uint8Array | undefined): Uint8Array {
  if (peerAd === undefined) return new Uint8Array(0);
  if (!(peerAd instanceof Uint8Array)) throw new InvalidArgumentError('CPace: peerAd must be a Uint8Array');
  return peerAd.slice();
}

/** Our share: a fresh scalar y and `Y = encode(y * g)`. */
export function share(inputs: Required<Inputs>): { y: bigint; message: Uint8Array } {
  const y = sampleScalar(inputs.random);
  return { y, message: scalarMult(y, calculateGenerator(inputs.prs, inputs.ci, inputs.sid)) };
}

/**
 * `K = G.scalar_mult_vfy(y, peer)`, aborting on G.I as section 7.2 requires:
 * an invalid or identity share must never yield a key, since an identity K
 * would be the same whatever the password.
 */
export function sharedSecret(y: bigint, peerMessage: unknown): Uint8Array {
  if (!(peerMessage instanceof Uint8Array)) throw new InvalidArgumentError('CPace: peerMessage must be a Uint8Array');
  const k = scalarMultVfy(y, peerMessage);
  if (isIdentity(k)) {
    throw new ProtocolError(
      `CPace: the peer's share is not a valid ristretto255 element other than the identity (${peerMessage.length} bytes); the run is aborted`,
    );
  }
  return k;
}

/** The ISK of a finished run, from each side's share and associated data in the roles of the draft (a = initiator). */
export function finish(setting: Setting, sid: Uint8Array, k: Uint8Array, a: [Uint8Array, Uint8Array], b: [Uint8Array, Uint8Array]): Uint8Array {
  const transcript = setting === 'symmetric' ? transcriptOc(a[0], a[1], b[0], b[1]) : transcriptIr(a[0], a[1], b[0], b[1]);
  const isk = intermediateSessionKey(sid, k, transcript);
  k.fill(0); // K must never leave this module (section 10.3); drop it as soon as the ISK exists.
  return isk;
}
