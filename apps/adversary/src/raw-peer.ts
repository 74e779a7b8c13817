import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { PROLOGUE } from '@peernet/connection';
import {
  MAX_NOISE_MESSAGE_BYTES,
  MAX_PLAINTEXT_PER_MESSAGE,
  NoiseFrameDecoder,
  PAIRING_REQUEST_FLAG,
  decodeEnvelope,
  encodeEnvelope,
  encodeFrame,
  encodeFrames,
  encodeHandshakePayload,
  packEnvelopes,
  type Envelope,
} from '@peernet/frame';
import type { Identity } from '@peernet/identity';
import { createHandshake, type CipherState, type Handshake } from '@peernet/noise';

/** Where a raw peer connects. */
export interface RawAddress {
  host?: string;
  port: number;
}

/** Options of `RawPeer.handshake`. */
export interface RawHandshakeOptions {
  /** Whose Noise static key the handshake proves. */
  identity: Identity;
  /**
   * The Ed25519 key written into the handshake payload (default: `identity`'s
   * own). A different key is an impostor claiming an id it holds no key for.
   */
  claim?: Uint8Array;
  /**
   * Ask for a pairing session (docs/pairing.md): sets `PAIRING_REQUEST_FLAG`
   * in the payload's first extension byte. Default false: a plain session.
   */
  pairing?: boolean;
  /** The payload's extension bytes exactly as given (overrides `pairing`); default none. */
  extensions?: Uint8Array;
  /** Bytes sent in the same write as message 3, before the responder's verdict (pipelined data). */
  pipelined?: (session: RawSession) => Uint8Array;
}

/** The transport phase of a raw connection: whatever the test wants to say, encrypted or not. */
export interface RawSession {
  /** The Noise handshake hash of this session (what pairing binds its proofs to, as `sid`). */
  readonly handshakeHash: Uint8Array;
  /** Encrypts one transport message and returns its frame (not written). */
  seal(plaintext: Uint8Array): Uint8Array;
  /** Encodes envelopes, packs them into as few transport messages as fit, and returns the frames. */
  sealEnvelopes(envelopes: readonly Envelope[]): Uint8Array;
  /** Cuts secure-stream bytes of any length (e.g. hand-made envelopes with their prefixes) into transport messages and returns the frames. */
  sealStream(bytes: Uint8Array): Uint8Array;
  /** Reads and decrypts the next transport message from the node. */
  open(timeoutMs?: number): Promise<Uint8Array>;
  /** The next envelopes from the node (reads messages until at least one envelope is complete). */
  envelopes(timeoutMs?: number): Promise<Envelope[]>;
}

/** `u32 length | body`: one envelope on the secure byte stream. */
export function envelopeBytes(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/**
 * A TCP connection to a node that speaks exactly what the test tells it to:
 * raw bytes, any prefix of a valid handshake, a complete handshake with any
 * identity, then well-formed or malformed transport messages. Everything it
 * writes is recorded, so a session can be replayed byte for byte.
 */
export class RawPeer {
  /** The socket (errors are swallowed: a hostile peer expects to be cut off). */
  readonly socket: Socket;
  /** Every chunk written, in order. */
  readonly written: Uint8Array[] = [];
  /** Resolves when the socket has closed, however. */
  readonly closed: Promise<void>;
  readonly #frames = new NoiseFrameDecoder({ maxBytes: MAX_NOISE_MESSAGE_BYTES });
  readonly #inbox: Uint8Array[] = [];
  #waiter: (() => void) | undefined;
  #ended = false;
  #handshake: Handshake | undefined;
  #send: CipherState | undefined;
  #receive: CipherState | undefined;
  #handshakeHash: Uint8Array | undefined;
  #pending = new Uint8Array(0);

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('error', () => undefined);
    // Not `once(socket, 'close')`: that rejects when an error (EPIPE, a reset) comes first.
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    const wake = (): void => {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter?.();
    };
    socket.on('data', (chunk: Uint8Array) => {
      try {
        for (const frame of this.#frames.push(chunk)) this.#inbox.push(frame);
      } catch {
        socket.destroy();
      }
      wake();
    });
    socket.on('end', () => {
      this.#ended = true;
      // The node hung up: finish our side too, or the half-open socket would never close.
      socket.end();
      wake();
    });
    socket.on('close', () => {
      this.#ended = true;
      wake();
    });
  }

  /** Opens a TCP connection. */
  static async connect(address: RawAddress): Promise<RawPeer> {
    const socket = connect({ host: address.host ?? '127.0.0.1', port: address.port, allowHalfOpen: true });
    socket.setNoDelay(true);
    const peer = new RawPeer(socket);
    await Promise.race([
      once(socket, 'connect'),
      peer.closed.then(() => Promise.reject(new Error('connection closed before it was established'))),
    ]);
    return peer;
  }

  /** True once the node has closed its side (or the socket is gone). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Writes bytes as they are, and records them. */
  write(bytes: Uint8Array): boolean {
    this.written.push(bytes);
    if (this.socket.destroyed) return false;
    return this.socket.write(bytes);
  }

  /** The next frame from the node, or rejects when the connection ends or `timeoutMs` passes. */
  async frame(timeoutMs = 10_000): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    while (this.#inbox.length === 0) {
      if (this.#ended) throw new Error('the node closed the connection');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame from the node within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.#inbox.shift() as Uint8Array;
  }

  /** Writes handshake message 1 (`-> e`) with `payload` (empty is the only valid one). */
  sendMessage1(identity: Identity, payload: Uint8Array = new Uint8Array(0)): void {
    this.#handshake = createHandshake({ initiator: true, prologue: PROLOGUE, staticKeyPair: identity.noiseKeyPair() });
    this.write(encodeFrame(this.#handshake.writeMessage(payload)));
  }

  /**
   * Runs a complete XX handshake as the initiator with `identity` (and the
   * claimed key, and the pairing request or any extension bytes), without
   * checking who answered. Resolves with the session once message 3 is
   * written; whether the node accepted it shows in `accepted()`.
   */
  async handshake(options: RawHandshakeOptions): Promise<RawSession> {
    this.sendMessage1(options.identity);
    const handshake = this.#handshake as Handshake;
    handshake.readMessage(await this.frame());
    const extensions = options.extensions ?? (options.pairing === true ? Uint8Array.of(PAIRING_REQUEST_FLAG) : new Uint8Array(0));
    const m3 = handshake.writeMessage(
      encodeHandshakePayload({ identityKey: options.claim ?? options.identity.id.bytes, extensions }),
    );
    this.#handshakeHash = handshake.handshakeHash;
    const { send, receive } = handshake.split();
    this.#send = send;
    this.#receive = receive;
    const session = this.session();
    const extra = options.pipelined?.(session);
    const frame = encodeFrame(m3);
    if (extra === undefined) this.write(frame);
    else {
      const both = new Uint8Array(frame.length + extra.length);
      both.set(frame);
      both.set(extra, frame.length);
      this.write(both);
    }
    return session;
  }

  /**
   * Resolves true when the node confirmed the session (its first transport
   * message arrived), false when it closed the connection instead.
   */
  async accepted(timeoutMs = 10_000): Promise<boolean> {
    try {
      await this.session().open(timeoutMs);
      return true;
    } catch (error) {
      if (this.#ended) return false;
      throw error;
    }
  }

  /** The transport-phase helpers (after `handshake`). */
  session(): RawSession {
    const send = this.#send;
    const receive = this.#receive;
    const handshakeHash = this.#handshakeHash;
    if (!send || !receive || !handshakeHash) throw new Error('no handshake has completed on this connection');
    const open = async (timeoutMs?: number): Promise<Uint8Array> => receive.decrypt(await this.frame(timeoutMs));
    return {
      handshakeHash: handshakeHash.slice(),
      seal: (plaintext) => encodeFrame(send.encrypt(plaintext)),
      sealStream: (bytes) => {
        const messages: Uint8Array[] = [];
        for (let at = 0; at < bytes.length; at += MAX_PLAINTEXT_PER_MESSAGE) {
          messages.push(send.encrypt(bytes.subarray(at, at + MAX_PLAINTEXT_PER_MESSAGE)));
        }
        return encodeFrames(messages);
      },
      sealEnvelopes: (envelopes) =>
        encodeFrames(
          packEnvelopes(envelopes.map((envelope) => encodeEnvelope(envelope))).map((chunk) => send.encrypt(chunk)),
        ),
      open,
      envelopes: async (timeoutMs) => {
        const out: Envelope[] = [];
        while (out.length === 0) {
          const plaintext = await open(timeoutMs);
          const joined = new Uint8Array(this.#pending.length + plaintext.length);
          joined.set(this.#pending);
          joined.set(plaintext, this.#pending.length);
          let offset = 0;
          while (joined.length - offset >= 4) {
            const length = new DataView(joined.buffer, joined.byteOffset + offset).getUint32(0);
            if (joined.length - offset - 4 < length) break;
            out.push(decodeEnvelope(joined.subarray(offset + 4, offset + 4 + length)));
            offset += 4 + length;
          }
          this.#pending = joined.slice(offset);
        }
        return out;
      },
    };
  }

  /**
   * Stops reading from the socket for good: the kernel buffers fill and the
   * node sees a peer that does not read (backpressure). End of the connection
   * is still noticed.
   */
  stopReading(): void {
    this.socket.pause();
    this.socket.removeAllListeners('data');
    // A paused socket does not report the node's FIN; a closed one still reports 'close'.
  }

  /** Closes our write side only (FIN) and keeps the socket open for reading: a half-open connection. */
  halfClose(): void {
    this.socket.end();
  }

  /** Resets the connection. */
  destroy(): void {
    this.socket.destroy();
  }

  /** Waits until the node has closed the connection, or rejects after `timeoutMs`. */
  async closedByNode(timeoutMs = 15_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const ended = new Promise<void>((resolve) => {
      if (this.#ended) resolve();
      else {
        this.socket.once('end', () => resolve());
        this.socket.once('close', () => resolve());
      }
    });
    try {
      await Promise.race([
        ended,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the node kept the connection open for ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Replays recorded bytes on a fresh connection, chunk by chunk, as they were written. */
export async function replay(address: RawAddress, chunks: readonly Uint8Array[]): Promise<RawPeer> {
  const peer = await RawPeer.connect(address);
  for (const chunk of chunks) peer.write(chunk);
  return peer;
}
