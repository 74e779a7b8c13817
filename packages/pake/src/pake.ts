// The protocol flow of section 7 as pure functions: no I/O, randomness
// injected. The application carries each share (and its associated data, if
// any) to the peer; these functions only turn bytes into bytes.
import { InvalidArgumentError } from '@peernet/interface';
import { checkInputs, checkPeerAd, finish, share, sharedSecret, type Setting } from './cpace.js';

/** The ciphersuite this package implements, named as draft-irtf-cfrg-cpace names it. */
export const CPACE_SUITE = 'CPACE-RISTR255-SHA512';

/** Length in bytes of a share (Ya or Yb), the only CPace message: one encoded ristretto255 element. */
export const CPACE_MESSAGE_LENGTH = 32;

/** Length in bytes of the intermediate session key: one SHA-512 output. */
export const CPACE_ISK_LENGTH = 64;

/** Inputs of one CPace run on one side. */
export interface CpaceOptions {
  /** The password-related string: the shared low-entropy secret (the invite code, normalized by the caller). Not empty. */
  prs: Uint8Array;
  /**
   * The channel identifier: secret-or-public context both sides must hold
   * identically and that is never sent, such as the parties' identities in
   * initiator-then-responder order. Empty is allowed.
   */
  ci: Uint8Array;
  /**
   * The session identifier: a public value unique to this session that both
   * sides hold before the run, such as the Noise handshake hash. Empty is
   * allowed, but then nothing ties the key to one session.
   */
  sid: Uint8Array;
  /** This side's associated data (ADa or ADb), sent in clear by the application beside the share. Empty by default. */
  ad?: Uint8Array | undefined;
  /** Returns `length` uniformly random bytes; a CSPRNG by default. Tests inject fixed bytes. */
  random?: ((length: number) => Uint8Array) | undefined;
}

/** What arrived from the peer. */
export interface CpacePeerMessage {
  /** The peer's share, `CPACE_MESSAGE_LENGTH` bytes. */
  peerMessage: Uint8Array;
  /** The peer's associated data as received; empty by default. */
  peerAd?: Uint8Array | undefined;
}

/** One side's run between sending its share and receiving the peer's; single use. */
export interface CpaceState {
  /** Which transcript the run will hash. */
  readonly setting: 'initiator' | 'symmetric';
}

/** A run that has sent its share and waits for the peer's. */
export interface CpaceStarted {
  /** Pass to `cpaceFinish` with the peer's share. */
  state: CpaceState;
  /** This side's share, to send to the peer. */
  message: Uint8Array;
}

/** The responder's result: its share, to send, and the key. */
export interface CpaceResponse {
  /** The responder's share Yb, to send to the initiator. */
  message: Uint8Array;
  /** The intermediate session key, `CPACE_ISK_LENGTH` bytes; equal on both sides only if every input matched. */
  isk: Uint8Array;
}

interface Pending {
  setting: Setting;
  y: bigint;
  sid: Uint8Array;
  own: [Uint8Array, Uint8Array];
}

// The secret scalar stays out of the state object so it can be neither read
// nor copied from it, and is dropped at the first cpaceFinish: a scalar must
// never serve two runs (section 10.9).
const pending = new WeakMap<CpaceState, Pending>();

function start(setting: Setting, options: CpaceOptions): CpaceStarted {
  const inputs = checkInputs(options);
  const { y, message } = share(inputs);
  const state: CpaceState = Object.freeze({ setting: setting === 'symmetric' ? 'symmetric' : 'initiator' });
  pending.set(state, { setting, y, sid: inputs.sid, own: [message.slice(), inputs.ad] });
  return { state, message };
}

/** Starts a run as initiator (party A): returns this side's share Ya, to send first, and the state to finish with. */
export function cpaceInitiate(options: CpaceOptions): CpaceStarted {
  return start('initiator-responder', options);
}

/** Answers an initiator's share as responder (party B): returns the share Yb to send back, and the key. */
export function cpaceRespond(options: CpaceOptions & CpacePeerMessage): CpaceResponse {
  const inputs = checkInputs(options);
  const peerAd = checkPeerAd(options.peerAd);
  const { y, message } = share(inputs);
  // Check the initiator's share before answering: an invalid one gets no reply.
  const k = sharedSecret(y, options.peerMessage);
  const isk = finish('initiator-responder', inputs.sid, k, [options.peerMessage, peerAd], [message, inputs.ad]);
  return { message, isk };
}

/**
 * Starts a run in the symmetric setting, where neither side is the
 * initiator and both may send first: the transcript orders the two shares
 * by value. The draft allows it only when ADa and ADb differ in every run.
 */
export function cpaceStartSymmetric(options: CpaceOptions): CpaceStarted {
  return start('symmetric', options);
}

/** Finishes a run begun by `cpaceInitiate` or `cpaceStartSymmetric` with the peer's share; returns the key. */
export function cpaceFinish(state: CpaceState, peer: CpacePeerMessage): Uint8Array {
  const run = pending.get(state);
  if (run === undefined) throw new InvalidArgumentError('CPace: state is not from cpaceInitiate or cpaceStartSymmetric, or was already finished');
  // Single use even when the peer's share is refused: a retry is a new run with a new scalar.
  pending.delete(state);
  if (typeof peer !== 'object' || peer === null) throw new InvalidArgumentError('CPace: expected { peerMessage, peerAd? }');
  const peerAd = checkPeerAd(peer.peerAd);
  const k = sharedSecret(run.y, peer.peerMessage);
  return finish(run.setting, run.sid, k, run.own, [peer.peerMessage, peerAd]);
}
