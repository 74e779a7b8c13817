import { HandshakeFailedError, PeerId, PeerMismatchError, UntrustedPeerError, bytesEqual } from '@peernet/interface';
import { PAIRING_REQUEST_FLAG, decodeHandshakePayload, encodeHandshakePayload } from '@peernet/frame';
import { x25519PublicKeyOf } from '@peernet/identity';
import { createHandshake, type CipherState, type CryptoProvider, type Handshake, type KeyPair } from '@peernet/noise';
import type { ConnectionOptions, LocalIdentity, PairingAccess, TrustCheck } from './options.js';
import type { Session } from './session.js';

/** The prologue of wire protocol v1, mixed into the handshake hash by both sides. */
export const PROLOGUE = new TextEncoder().encode('peernet/1');

const EMPTY = new Uint8Array(0);
const PAIRING_EXTENSIONS = Uint8Array.of(PAIRING_REQUEST_FLAG);

/**
 * Drives the Noise XX handshake of one connection and checks who is on the
 * other side (docs/protocol.md section 3.2): the identity key against the
 * Noise static key, the dialled peer and the trust list. The initiator
 * checks before it writes message 3, so an untrusted responder never learns
 * who dialled it (unless it dialled to pair: then neither side needs trust,
 * and the session is a pairing session, section 3.5). Dropped by the session
 * once the handshake has split.
 */
export class HandshakeDriver {
  readonly #session: Session;
  readonly #noise: Handshake;
  readonly #identity: LocalIdentity;
  readonly #trust: TrustCheck;
  readonly #expectedPeer: PeerId | undefined;
  readonly #crypto: CryptoProvider;
  readonly #pairing: PairingAccess | undefined;
  #messagesRead = 0;

  constructor(session: Session, options: ConnectionOptions, crypto: CryptoProvider) {
    this.#session = session;
    this.#identity = options.identity;
    this.#trust = options.trust;
    this.#expectedPeer = options.expectedPeer;
    this.#crypto = crypto;
    this.#pairing = options.pairing;
    this.#noise = createHandshake({
      initiator: session.initiator,
      prologue: PROLOGUE,
      staticKeyPair: staticKeyPairOf(options.identity),
      crypto,
    });
  }

  /** The initiator's message 1, `-> e` with an empty payload. */
  firstMessage(): Uint8Array {
    return this.#noise.writeMessage(EMPTY);
  }

  /** Handles one handshake message from the peer and writes our answer. */
  read(message: Uint8Array): void {
    const session = this.#session;
    const noise = this.#noise;
    const payload = noise.readMessage(message);
    if (session.initiator) {
      // Message 2: the responder identified itself. Check it before we say who we are.
      this.#authenticate(payload);
      const m3 = noise.writeMessage(this.#ownPayload());
      this.#finish();
      session.outbox.writeRaw([m3]);
      // Open only once the responder confirms; it closes silently if it does not trust us.
      session.phase = 'confirming';
      return;
    }
    if (++this.#messagesRead === 1) {
      // Message 1: `-> e` with an empty payload.
      if (payload.length !== 0) throw new HandshakeFailedError('first handshake message carries a payload');
      session.outbox.writeRaw([noise.writeMessage(this.#ownPayload())]);
      return;
    }
    // Message 3: the initiator identified itself.
    this.#authenticate(payload);
    this.#finish();
    // An empty transport message tells the initiator it was accepted.
    session.outbox.writeRaw([(session.send as CipherState).encrypt(EMPTY)]);
    session.open();
  }

  #authenticate(payloadBytes: Uint8Array): void {
    const payload = decodeHandshakePayload(payloadBytes);
    const peer = PeerId.fromBytes(payload.identityKey);
    let mapped: Uint8Array;
    try {
      mapped = montgomeryForm(peer, this.#crypto);
    } catch (error) {
      throw new HandshakeFailedError('the identity key in the handshake is not a valid Ed25519 key', { cause: error });
    }
    const staticKey = this.#noise.remoteStaticKey;
    if (!staticKey || !bytesEqual(mapped, staticKey)) {
      throw new HandshakeFailedError('the identity key does not match the Noise static key');
    }
    // Proven by the static key from here on: worth naming if the session is refused.
    this.#session.provenPeer = peer;
    if (this.#expectedPeer && !peer.equals(this.#expectedPeer)) {
      throw new PeerMismatchError(`dialled ${this.#expectedPeer.toString()} but reached ${peer.toString()}`);
    }
    if (this.#session.initiator ? this.#pairing?.request === true : wantsPairing(payload.extensions)) {
      // A pairing session: the peer need not be paired, and it gets only the pairing handlers.
      this.#session.purpose = 'pairing';
      if (!this.#session.initiator && this.#pairing?.admit?.(peer) !== true) {
        const why = 'no invite is open, or too many pairing sessions now';
        throw new UntrustedPeerError(`peer ${peer.toString()} asked to pair and was not admitted (${why})`);
      }
    } else if (!this.#trust.has(peer)) {
      throw new UntrustedPeerError(`peer ${peer.toString()} is not trusted`);
    }
    // The initiator keeps the id it dialled (equal to `peer` by now): one PeerId per session, not two.
    this.#session.peer = this.#expectedPeer ?? peer;
  }

  #ownPayload(): Uint8Array {
    const asks = this.#session.initiator && this.#pairing?.request === true;
    return encodeHandshakePayload({ identityKey: this.#identity.id.unsafeBytes, extensions: asks ? PAIRING_EXTENSIONS : EMPTY });
  }

  #finish(): void {
    const session = this.#session;
    // Before the pairing handlers can run: they bind their proofs to this hash.
    session.handshakeHash = this.#noise.handshakeHash;
    const { send, receive } = this.#noise.split();
    session.send = send;
    session.receive = receive;
    session.handshake = undefined;
    session.inbox.authenticated();
    if (session.purpose === 'pairing') session.restrictToPairing(session.initiator ? undefined : this.#pairing?.handlers);
  }
}

/** True if the initiator's extension bytes ask for a pairing session. */
function wantsPairing(extensions: Uint8Array): boolean {
  return extensions.length > 0 && ((extensions[0] as number) & PAIRING_REQUEST_FLAG) !== 0;
}

// An Identity returns fresh copies of its key pair, and a crypto provider caches
// the prepared (for node: imported) private key by array: one copy per identity
// spares every handshake that import, which costs about as much as a DH.
const staticKeyPairs = new WeakMap<LocalIdentity, KeyPair>();

function staticKeyPairOf(identity: LocalIdentity): KeyPair {
  let pair = staticKeyPairs.get(identity);
  if (pair === undefined) {
    pair = identity.noiseKeyPair();
    staticKeyPairs.set(identity, pair);
  }
  return pair;
}

// X25519 forms of Ed25519 peer ids, by id. Mapping checks the point's order
// (point decoding and a field division in pure JS plus one DH, about 0.35 ms
// with node's DH), and the same peers reconnect again and again. Only valid
// keys are kept; the map is bounded and simply emptied when full.
const MONTGOMERY_CACHE_MAX = 16_384;
const montgomeryCache = new Map<string, Uint8Array>();

function montgomeryForm(peer: PeerId, crypto: CryptoProvider): Uint8Array {
  const key = latin1(peer.unsafeBytes);
  const hit = montgomeryCache.get(key);
  if (hit !== undefined) return hit;
  // The provider's DH checks the key has no small-order component: with node's, about a fifth of the pure-JS check.
  const mapped = x25519PublicKeyOf(peer, { x25519: (scalar, u) => crypto.x25519(scalar).dh(u) });
  if (montgomeryCache.size >= MONTGOMERY_CACHE_MAX) montgomeryCache.clear();
  montgomeryCache.set(key, mapped);
  return mapped;
}

function latin1(bytes: Uint8Array): string {
  // One call, so the key is a flat string rather than a chain of 32 concatenations.
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}
