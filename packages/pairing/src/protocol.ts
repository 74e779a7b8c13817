// The pairing exchange (docs/pairing.md) as pure functions over the values
// the two calls of a pairing session carry. The joiner sends its CPace share
// (or, with a URI's 128-bit secret, nothing), the inviter answers with its
// share and its confirmation tag, the joiner checks that tag and sends its
// own. Every proof is bound to the Noise session through `sid` (its handshake
// hash) and to both ids through the CPace channel identifier, so a run
// replayed into another session, or relayed between two, fails.
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import {
  BadRequestError, InviteClosedError, InviterNotFoundError, PairingFailedError, ProtocolError,
  type PeerId, type WireValue,
} from '@peernet/interface';
import { CPACE_MESSAGE_LENGTH, CPACE_TAG_LENGTH, cpaceFinish, cpaceKeyConfirmation, cpaceRespond, cpaceInitiate } from '@peernet/pake';
import type { CpaceConfirmation, CpaceState } from '@peernet/pake';
import { shortAuthenticationString } from './sas.js';

/** The version of the pairing messages; a message of another version is refused. */
export const PAIRING_VERSION = 1;

/** The handler names a pairing session serves (and nothing else). */
export const PAIRING_HANDLERS = { join: 'peernet.pair.join', confirm: 'peernet.pair.confirm' } as const;

/** Why an inviter turned a join request away before any proof. */
export type JoinRefusal = 'no_such_invite' | 'expired' | 'burned';

/** What the two sides share: a code's password (low entropy: through CPace) or a URI's 16-byte secret. */
export type PairingSecret = { readonly password: Uint8Array } | { readonly secret: Uint8Array };

/** The session a run is bound to; both sides hold the same values. */
export interface PairingSession {
  /** The inviting node (the responder of the pairing session). */
  readonly inviter: PeerId;
  /** The joining node (the initiator). */
  readonly joiner: PeerId;
  /** The Noise handshake hash of the session the run takes place in. */
  readonly sid: Uint8Array;
  /** The invite's nameplate. */
  readonly nameplate: number;
}

/** A join request as the inviter reads it. */
export interface JoinRequest {
  readonly nameplate: number;
  /** The joiner's CPace share; null when it holds the URI's secret instead. */
  readonly share: Uint8Array | null;
}

/** The joiner's run, between its request and the inviter's answer. */
export interface JoinState {
  readonly session: PairingSession;
  readonly share: Uint8Array | null;
  readonly cpace: CpaceState | undefined;
  readonly secret: PairingSecret;
}

/** What the inviter answers a valid request with, and how it checks the joiner's tag. */
export interface JoinAnswer {
  /** The reply to send. */
  readonly reply: WireValue;
  /** The short authentication string of this run (both sides compute the same one). */
  readonly sas: string;
  /** True if `value` is the joiner's confirmation with the right tag. */
  verifyConfirmation(value: unknown): boolean;
}

const EMPTY = new Uint8Array(0);
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const JOINER_AD = utf8('joiner');
const INVITER_AD = utf8('inviter');
const URI_KEY_LABEL = utf8('peernet-pair/1 uri key');

/**
 * Where an inviter waits on a DHT and a joiner looks for it: a hash of the
 * nameplate alone. Never of the words: a DHT node that stores the
 * announcement could otherwise test guesses of the code offline.
 */
export function meetingPoint(nameplate: number): Uint8Array {
  return sha256(utf8(`peernet-pair/1 meeting point ${nameplate}`));
}

/** The joiner's first step: the request to send, and the state to check the answer with. */
export function startJoin(options: { session: PairingSession; secret: PairingSecret; random?: (length: number) => Uint8Array }): { request: WireValue; state: JoinState } {
  const { session, secret } = options;
  if ('password' in secret) {
    const started = cpaceInitiate({ prs: secret.password, ci: channelId(session), sid: session.sid, ad: JOINER_AD, random: options.random });
    return {
      request: { v: PAIRING_VERSION, nameplate: session.nameplate, share: started.message },
      state: { session, share: started.message, cpace: started.state, secret },
    };
  }
  return {
    request: { v: PAIRING_VERSION, nameplate: session.nameplate, share: null },
    state: { session, share: null, cpace: undefined, secret },
  };
}

/**
 * The joiner checks the inviter's answer: the confirmation to send and the
 * SAS, or `pairing_failed` (the code was wrong, or someone is in between),
 * `invite_closed` (expired, or no attempt left), `inviter_not_found` (no invite of
 * that nameplate there) or `protocol_error` (a malformed answer).
 */
export function checkAnswer(state: JoinState, answer: unknown): { confirmation: WireValue; sas: string } {
  const fields = readMessage(answer, 'answer', ProtocolError);
  if (fields.ok === false) throw refusalError(fields.reason, state.session);
  if (fields.ok !== true) throw new ProtocolError('pairing answer: ok must be true or false');
  const tag = bytesField(fields, 'tag', CPACE_TAG_LENGTH, ProtocolError);
  let isk: Uint8Array;
  let inviterShare: Uint8Array;
  if (state.cpace !== undefined) {
    inviterShare = bytesField(fields, 'share', CPACE_MESSAGE_LENGTH, ProtocolError);
    // An invalid point is the inviter's fault, not a wrong code: protocol_error from cpaceFinish.
    isk = cpaceFinish(state.cpace, { peerMessage: inviterShare, peerAd: INVITER_AD });
  } else {
    if (fields.share !== null) throw new ProtocolError('pairing answer: share must be null for a URI secret');
    inviterShare = EMPTY;
    isk = uriKey(state.session, state.secret);
  }
  const confirmation = cpaceKeyConfirmation({ sid: state.session.sid, isk });
  if (!confirmation.verify(tag, inviterShare, INVITER_AD)) {
    throw new PairingFailedError('pairing failed: the inviter\'s proof does not match the code (a wrong code, or someone in between); the attempt counts against the invite');
  }
  return {
    confirmation: { v: PAIRING_VERSION, tag: confirmation.tag(state.share ?? EMPTY, JOINER_AD) },
    sas: shortAuthenticationString(state.session.sid, isk),
  };
}

/**
 * The joiner reads the inviter's last word: returns if it accepted the
 * confirmation; else `invite_closed` (it expired or was cancelled meanwhile)
 * or `pairing_failed`.
 */
export function checkConfirmed(value: unknown): void {
  const fields = readMessage(value, 'result', ProtocolError);
  if (fields.ok === true) return;
  if (fields.ok === false && fields.reason === 'closed') throw new InviteClosedError('expired', 'the invite closed while we confirmed (it expired, was cancelled, or another device used it): ask for a new code');
  if (fields.ok === false) throw new PairingFailedError('pairing failed: the inviter did not accept our proof');
  throw new ProtocolError('pairing result: ok must be true or false');
}

/** The inviter reads a join request; `bad_request` for anything malformed. */
export function readJoinRequest(value: unknown): JoinRequest {
  const fields = readMessage(value, 'request', BadRequestError);
  const nameplate = fields.nameplate;
  if (typeof nameplate !== 'number' || !Number.isInteger(nameplate) || nameplate < 0 || nameplate > 999) {
    throw new BadRequestError('pairing request: nameplate must be an integer from 0 to 999');
  }
  const share = fields.share === null ? null : bytesField(fields, 'share', CPACE_MESSAGE_LENGTH, BadRequestError);
  return { nameplate, share };
}

/**
 * The inviter answers a request with its share and tag. With a password,
 * an invalid share is `protocol_error`; the caller counts the attempt
 * before calling, so a malformed share costs the attacker its guess too.
 */
export function answerJoin(options: {
  session: PairingSession;
  request: JoinRequest;
  secret: PairingSecret;
  random?: (length: number) => Uint8Array;
}): JoinAnswer {
  const { session, request, secret } = options;
  let isk: Uint8Array;
  let share: Uint8Array | null = null;
  if (request.share !== null) {
    if (!('password' in secret)) throw new BadRequestError('pairing request: a share for an invite without a code');
    const response = cpaceRespond({
      prs: secret.password, ci: channelId(session), sid: session.sid, ad: INVITER_AD,
      peerMessage: request.share, peerAd: JOINER_AD, random: options.random,
    });
    isk = response.isk;
    share = response.message;
  } else {
    if (!('secret' in secret)) throw new BadRequestError('pairing request: no share, and this invite has no URI secret');
    isk = uriKey(session, secret);
  }
  const confirmation: CpaceConfirmation = cpaceKeyConfirmation({ sid: session.sid, isk });
  const joinerShare = request.share ?? EMPTY;
  return {
    reply: { v: PAIRING_VERSION, ok: true, share, tag: confirmation.tag(share ?? EMPTY, INVITER_AD) },
    sas: shortAuthenticationString(session.sid, isk),
    verifyConfirmation(value: unknown): boolean {
      let tag: Uint8Array;
      try {
        tag = bytesField(readMessage(value, 'confirmation', BadRequestError), 'tag', CPACE_TAG_LENGTH, BadRequestError);
      } catch {
        return false;
      }
      return confirmation.verify(tag, joinerShare, JOINER_AD);
    },
  };
}

/** The inviter's answer that turns a request away before any proof. */
export function refuseJoin(reason: JoinRefusal): WireValue {
  return { v: PAIRING_VERSION, ok: false, reason };
}

/** The inviter's last word: the joiner's confirmation was right, wrong, or came after the invite closed. */
export function confirmationResult(outcome: 'ok' | 'mismatch' | 'closed'): WireValue {
  return outcome === 'ok' ? { v: PAIRING_VERSION, ok: true } : { v: PAIRING_VERSION, ok: false, reason: outcome };
}

/** The ids and the nameplate, in a fixed order and fixed-length text: CPace's `ci`, never sent. */
function channelId(session: PairingSession): Uint8Array {
  return utf8(`peernet-pair/1|${session.inviter.toString()}|${session.joiner.toString()}|${session.nameplate}`);
}

/** With a URI's secret there is no PAKE: the key is a hash of the secret, the session and the ids. */
function uriKey(session: PairingSession, secret: PairingSecret): Uint8Array {
  if (!('secret' in secret)) throw new BadRequestError('pairing: no URI secret');
  const parts = [URI_KEY_LABEL, channelId(session), session.sid, secret.secret];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length + 2, 0));
  let at = 0;
  for (const part of parts) {
    out[at++] = part.length >> 8;
    out[at++] = part.length & 0xff;
    out.set(part, at);
    at += part.length;
  }
  return sha512(out);
}

type ErrorClass = new (message: string) => Error;

function readMessage(value: unknown, what: string, Err: ErrorClass): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new Err(`pairing ${what} must be a map`);
  }
  const fields = value as Record<string, unknown>;
  if (fields.v !== PAIRING_VERSION) throw new Err(`pairing ${what}: unsupported version ${String(fields.v)}`);
  return fields;
}

function bytesField(fields: Record<string, unknown>, name: string, length: number, Err: ErrorClass): Uint8Array {
  const value = fields[name];
  if (!(value instanceof Uint8Array) || value.length !== length) throw new Err(`pairing message: ${name} must be ${length} bytes`);
  return value;
}

function refusalError(reason: unknown, session: PairingSession): Error {
  switch (reason) {
    case 'no_such_invite':
      return new InviterNotFoundError(`${session.inviter.toString()} has no open invite numbered ${session.nameplate}`);
    case 'expired':
      return new InviteClosedError('expired', 'the invite has expired: ask for a new code');
    case 'burned':
      return new InviteClosedError('burned', 'the invite has no attempt left (a wrong code was tried, or another device is using it): ask for a new code');
    default:
      throw new ProtocolError(`pairing answer: unknown refusal ${JSON.stringify(String(reason)).slice(0, 40)}`);
  }
}
