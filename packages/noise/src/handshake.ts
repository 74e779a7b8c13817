import { InvalidArgumentError, MessageTooLargeError, isPeerNetError } from '@peernet/interface';
import { assertBytes, bytesEqual, EMPTY } from './bytes.js';
import type { CipherState } from './cipher-state.js';
import { DHLEN, MAX_MESSAGE_LENGTH, TAGLEN } from './constants.js';
import type { CryptoProvider, KeyPair, X25519PrivateKey } from './crypto/provider.js';
import { DecryptError, NoiseError } from './errors.js';
import { SymmetricState } from './symmetric-state.js';

/** Options of `createHandshake`. */
export interface HandshakeOptions {
  /** True for the party that sends the first message. */
  initiator: boolean;
  /** Bytes both parties must agree on (e.g. a protocol version); mixed into the hash even when empty. */
  prologue: Uint8Array;
  /** Our long-term X25519 key pair (raw 32-byte keys). */
  staticKeyPair: KeyPair;
  /** A fixed ephemeral key pair, for test vectors only; a fresh one is generated when omitted. */
  ephemeralKeyPair?: KeyPair;
  /** The crypto provider; `defaultCrypto` when omitted. */
  crypto?: CryptoProvider;
}

/** The two transport cipher states that `split()` returns. */
export interface TransportCiphers {
  /** Encrypts what we send. */
  readonly send: CipherState;
  /** Decrypts what the peer sends. */
  readonly receive: CipherState;
}

/**
 * A Noise XX handshake in progress: a sans-IO state machine. Each
 * `writeMessage`/`readMessage` either succeeds and advances, or throws and
 * leaves the state exactly as it was.
 */
export interface Handshake {
  /** True for the party that writes message 1. */
  readonly initiator: boolean;
  /** True once all three messages have been written or read. */
  readonly isComplete: boolean;
  /** The peer's authenticated static public key; undefined until its `s` token was read. */
  readonly remoteStaticKey: Uint8Array | undefined;
  /** The final handshake hash h (a channel binding); throws before the handshake is complete. */
  readonly handshakeHash: Uint8Array;
  /** Produces our next handshake message carrying `payload`. */
  writeMessage(payload?: Uint8Array): Uint8Array;
  /** Consumes the peer's next handshake message and returns its payload. */
  readMessage(message: Uint8Array): Uint8Array;
  /** Derives the transport cipher states; once only, and only after completion. */
  split(): TransportCiphers;
}

type Token = 'e' | 's' | 'ee' | 'es' | 'se';

// XX (spec section 7.5): -> e; <- e, ee, s, es; -> s, se.
const XX: readonly (readonly Token[])[] = [['e'], ['e', 'ee', 's', 'es'], ['s', 'se']];
const MESSAGE_NAMES = ['message 1 (-> e)', 'message 2 (<- e, ee, s, es)', 'message 3 (-> s, se)'];
// Bytes each message adds around its payload: keys, encrypted-key tags, and the payload tag once keyed.
const OVERHEAD = [DHLEN, DHLEN + DHLEN + TAGLEN + TAGLEN, DHLEN + TAGLEN + TAGLEN];

/** Everything a handshake step changes; a step runs on a copy and replaces the original on success. */
interface StepState {
  readonly symmetric: SymmetricState;
  e: X25519PrivateKey | undefined;
  re: Uint8Array | undefined;
  rs: Uint8Array | undefined;
}

function cloneStep(state: StepState): StepState {
  return { symmetric: state.symmetric.clone(), e: state.e, re: state.re, rs: state.rs };
}

class XXHandshake implements Handshake {
  readonly initiator: boolean;
  readonly #crypto: CryptoProvider;
  readonly #s: X25519PrivateKey;
  readonly #fixedE: X25519PrivateKey | undefined;
  #state: StepState;
  #step = 0;
  #split = false;

  constructor(options: HandshakeOptions, crypto: CryptoProvider) {
    this.initiator = options.initiator;
    this.#crypto = crypto;
    this.#s = prepareKeyPair(crypto, options.staticKeyPair, 'staticKeyPair');
    this.#fixedE =
      options.ephemeralKeyPair === undefined
        ? undefined
        : prepareKeyPair(crypto, options.ephemeralKeyPair, 'ephemeralKeyPair');
    const symmetric = SymmetricState.initialize(crypto);
    symmetric.mixHash(options.prologue);
    this.#state = { symmetric, e: undefined, re: undefined, rs: undefined };
  }

  get isComplete(): boolean {
    return this.#step === XX.length;
  }

  get remoteStaticKey(): Uint8Array | undefined {
    return this.#state.rs?.slice();
  }

  get handshakeHash(): Uint8Array {
    if (!this.isComplete) throw new NoiseError('the handshake hash is final only once the handshake is complete');
    return this.#state.symmetric.h.slice();
  }

  writeMessage(payload: Uint8Array = EMPTY): Uint8Array {
    assertBytes(payload, 'payload');
    const step = this.#checkTurn('writeMessage', true);
    const overhead = OVERHEAD[step] as number;
    if (payload.length + overhead > MAX_MESSAGE_LENGTH) {
      throw new MessageTooLargeError(
        `payload of ${payload.length} bytes makes ${MESSAGE_NAMES[step]} longer than ${MAX_MESSAGE_LENGTH} bytes`,
      );
    }
    const next = cloneStep(this.#state);
    const { symmetric } = next;
    const parts: Uint8Array[] = [];
    for (const token of XX[step] as readonly Token[]) {
      switch (token) {
        case 'e': {
          const e = this.#fixedE ?? ephemeralKey(this.#crypto);
          next.e = e;
          const publicKey = e.publicKey;
          parts.push(publicKey);
          symmetric.mixHash(publicKey);
          break;
        }
        case 's':
          parts.push(symmetric.encryptAndHash(this.#s.publicKey));
          break;
        default:
          this.#mixDh(next, token);
      }
    }
    parts.push(symmetric.encryptAndHash(payload));
    const message = join(parts);
    this.#commit(next);
    return message;
  }

  readMessage(message: Uint8Array): Uint8Array {
    assertBytes(message, 'message');
    const step = this.#checkTurn('readMessage', false);
    const name = MESSAGE_NAMES[step] as string;
    if (message.length > MAX_MESSAGE_LENGTH) {
      throw new MessageTooLargeError(`${name} is ${message.length} bytes, above the limit of ${MAX_MESSAGE_LENGTH}`);
    }
    const next = cloneStep(this.#state);
    const { symmetric } = next;
    let offset = 0;
    const need = (length: number, what: string): void => {
      if (message.length - offset < length) {
        throw new NoiseError(
          `${name} is truncated: ${what} needs ${length} bytes, ${message.length - offset} left of ${message.length}`,
        );
      }
    };
    const take = (length: number, what: string): Uint8Array => {
      need(length, what);
      const bytes = message.subarray(offset, offset + length);
      offset += length;
      return bytes;
    };
    for (const token of XX[step] as readonly Token[]) {
      switch (token) {
        case 'e': {
          const re = take(DHLEN, 'the ephemeral key').slice();
          next.re = re;
          symmetric.mixHash(re);
          break;
        }
        case 's': {
          const sealed = take(DHLEN + (symmetric.hasKey ? TAGLEN : 0), 'the encrypted static key');
          next.rs = authenticated(() => symmetric.decryptAndHash(sealed), `${name}: the static key`).slice();
          break;
        }
        default:
          this.#mixDh(next, token);
      }
    }
    need(symmetric.hasKey ? TAGLEN : 0, 'the payload tag');
    const sealedPayload = message.subarray(offset);
    const payload = authenticated(() => symmetric.decryptAndHash(sealedPayload), `${name}: the payload`);
    this.#commit(next);
    // Unencrypted payloads are views of the caller's buffer; hand back our own copy.
    return payload === sealedPayload ? payload.slice() : payload;
  }

  split(): TransportCiphers {
    if (!this.isComplete) {
      throw new NoiseError(`split() called before the handshake is complete (${this.#step} of 3 messages done)`);
    }
    // A second split would hand out the same keys twice and so reuse nonces.
    if (this.#split) throw new NoiseError('split() was already called for this handshake');
    this.#split = true;
    const [first, second] = this.#state.symmetric.split();
    this.#state.e = undefined;
    return this.initiator ? { send: first, receive: second } : { send: second, receive: first };
  }

  #checkTurn(method: 'writeMessage' | 'readMessage', writing: boolean): number {
    const step = this.#step;
    if (step >= XX.length) {
      throw new NoiseError(`${method}() called after the handshake completed; use split() for transport messages`);
    }
    const ourTurn = (step % 2 === 0) === this.initiator;
    if (ourTurn !== writing) {
      const who = this.initiator ? 'initiator' : 'responder';
      const expected = writing ? 'readMessage' : 'writeMessage';
      throw new NoiseError(
        `${method}() called out of turn: the ${who} must call ${expected}() for ${MESSAGE_NAMES[step]}`,
      );
    }
    return step;
  }

  #mixDh(state: StepState, token: 'ee' | 'es' | 'se'): void {
    // es = DH(initiator e, responder s), se = DH(initiator s, responder e), from either side.
    const local = token === 'ee' ? state.e : (token === 'es') === this.initiator ? state.e : this.#s;
    const remote = token === 'ee' ? state.re : (token === 'es') === this.initiator ? state.rs : state.re;
    if (local === undefined || remote === undefined) throw new NoiseError(`internal: missing key for ${token}`);
    state.symmetric.mixKey(local.dh(remote));
  }

  #commit(next: StepState): void {
    this.#state = next;
    this.#step++;
  }
}

function ephemeralKey(crypto: CryptoProvider): X25519PrivateKey {
  return crypto.generateEphemeralKey ? crypto.generateEphemeralKey() : crypto.x25519(crypto.generateKeyPair().privateKey);
}

function prepareKeyPair(crypto: CryptoProvider, pair: KeyPair, name: string): X25519PrivateKey {
  if (typeof pair !== 'object' || pair === null) {
    throw new InvalidArgumentError(`${name} must be an object { publicKey, privateKey }`);
  }
  assertBytes(pair.publicKey, `${name}.publicKey`, DHLEN);
  assertBytes(pair.privateKey, `${name}.privateKey`, DHLEN);
  const key = crypto.x25519(pair.privateKey, pair.publicKey);
  if (!bytesEqual(key.publicKey, pair.publicKey)) {
    throw new InvalidArgumentError(`${name}.publicKey is not the public key of ${name}.privateKey`);
  }
  return key;
}

function authenticated<T>(run: () => T, what: string): T {
  try {
    return run();
  } catch (error) {
    if (isPeerNetError(error) && error.code === 'decrypt_failed') {
      throw new DecryptError(
        `${what} failed authentication (altered or truncated bytes, a different prologue, or a different protocol)`,
        { cause: error },
      );
    }
    throw error;
  }
}

function join(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Starts a Noise_XX_25519_ChaChaPoly_SHA256 handshake with `crypto` (the caller supplies the default). */
export function createXXHandshake(options: HandshakeOptions, crypto: CryptoProvider): Handshake {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options must be an object');
  if (typeof options.initiator !== 'boolean') throw new InvalidArgumentError('options.initiator must be a boolean');
  assertBytes(options.prologue, 'options.prologue');
  return new XXHandshake(options, crypto);
}
