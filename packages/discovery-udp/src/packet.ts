import { InvalidArgumentError, PeerId, bytesEqual, type PeerIdLike } from '@peernet/interface';
import { verify } from '@peernet/identity';
import type { ReplayTable } from './replay-table.js';

/** Size of every announcement datagram, in bytes. */
export const PACKET_BYTES = 112;
/** The only packet version this package sends and accepts. */
export const PROTOCOL_VERSION = 2;
/** Flag bit 0: the sender is leaving (sent by `stop()`). */
export const FLAG_GOODBYE = 0x01;
/** Default tolerance, in ms, between an announcement's timestamp and the receiver's clock. */
export const DEFAULT_WINDOW_MS = 30_000;

// "PNET"
const MAGIC = [0x50, 0x4e, 0x45, 0x54] as const;
const KNOWN_FLAGS = FLAG_GOODBYE;
const OFFSET_VERSION = 4;
const OFFSET_FLAGS = 5;
const OFFSET_PORT = 6;
const OFFSET_KEY = 8;
const OFFSET_TIME = 40;
/** The signature covers everything before it. */
const SIGNED_BYTES = 48;
const KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;
const TWO_POW_32 = 2 ** 32;
// The high 32 bits of a timestamp above 2^53 - 1: such a time cannot be a safe JS number.
const MAX_SAFE_HIGH_WORD = Math.floor(Number.MAX_SAFE_INTEGER / TWO_POW_32);

/** What signs announcements: an `Identity` from `@peernet/identity` is one. */
export interface AnnouncementSigner {
  /** The 32-byte Ed25519 public key (the sender's peer id). */
  readonly publicKey: Uint8Array;
  /** A 64-byte Ed25519 signature of `message`. */
  sign(message: Uint8Array): Uint8Array;
}

/** Input of `encodeAnnouncement`. */
export interface EncodeAnnouncementOptions {
  /** The sender's identity; its public key goes in the packet and its key signs it. */
  identity: AnnouncementSigner;
  /** The port the sender's transport listens on (1-65535). */
  port: number;
  /** True for the goodbye sent when leaving. Default false. */
  goodbye?: boolean;
  /** Unix time in ms to put in the packet (a non-negative safe integer). */
  now: number;
}

/** A decoded announcement whose signature has been checked. */
export interface Announcement {
  /** The sender: the Ed25519 key that signed the packet. */
  readonly id: PeerId;
  /** The port the sender's transport listens on. */
  readonly port: number;
  /** True if the sender is leaving. */
  readonly goodbye: boolean;
  /** The sender's clock when it sent the packet (unix ms). */
  readonly timestamp: number;
}

/**
 * Why a packet was dropped, in the order the checks run. The names equal the
 * counters of `UdpDiscoveryStats`.
 */
export type DropReason =
  | 'malformed'
  | 'badMagic'
  | 'badVersion'
  | 'badFlags'
  | 'badPort'
  | 'stale'
  | 'own'
  | 'replayed'
  | 'rateLimited'
  | 'badSignature';

/** Result of `decodeAnnouncement`: the announcement, or why it was dropped. */
export type DecodeResult = { ok: true; announcement: Announcement } | { ok: false; reason: DropReason };

/** Options of `decodeAnnouncement`. */
export interface DecodeAnnouncementOptions {
  /** The receiver's clock (unix ms). */
  now: number;
  /** Largest accepted difference, either way, between the packet's timestamp and `now`. Default 30 000. */
  windowMs?: number;
  /** The receiver's own id: its own announcements (looped back by broadcast) are dropped. */
  ownId?: PeerIdLike;
  /**
   * Replay protection. Consulted before the signature check; a packet is
   * recorded only once its signature verified, so a forgery cannot poison the
   * table against the real sender.
   */
  replays?: ReplayTable;
  /**
   * Asked, after every cheap check passed, whether the signature may be
   * checked now (the CPU-costly step). `false` drops the packet as
   * `'rateLimited'`. Default: always.
   */
  mayVerify?: (id: PeerId) => boolean;
}

/** Builds and signs one 112-byte announcement. Throws `InvalidArgumentError` on bad input. */
export function encodeAnnouncement(options: EncodeAnnouncementOptions): Uint8Array {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('encodeAnnouncement options must be an object');
  }
  const { identity, port, goodbye = false, now } = options;
  if (typeof identity !== 'object' || identity === null || typeof identity.sign !== 'function') {
    throw new InvalidArgumentError('encodeAnnouncement identity must have a publicKey and a sign() method');
  }
  const publicKey = identity.publicKey;
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== KEY_BYTES) {
    throw new InvalidArgumentError(`encodeAnnouncement identity.publicKey must be ${KEY_BYTES} bytes`);
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidArgumentError(`announced port must be an integer from 1 to 65535, got ${String(port)}`);
  }
  if (typeof goodbye !== 'boolean') {
    throw new InvalidArgumentError(`encodeAnnouncement goodbye must be a boolean, got ${typeof goodbye}`);
  }
  if (typeof now !== 'number' || !Number.isSafeInteger(now) || now < 0) {
    throw new InvalidArgumentError(
      `announcement time must be a non-negative safe integer (unix ms), got ${String(now)}`,
    );
  }
  const packet = new Uint8Array(PACKET_BYTES);
  const view = new DataView(packet.buffer);
  packet.set(MAGIC, 0);
  packet[OFFSET_VERSION] = PROTOCOL_VERSION;
  packet[OFFSET_FLAGS] = goodbye ? FLAG_GOODBYE : 0;
  view.setUint16(OFFSET_PORT, port);
  packet.set(publicKey, OFFSET_KEY);
  view.setUint32(OFFSET_TIME, Math.floor(now / TWO_POW_32));
  view.setUint32(OFFSET_TIME + 4, now % TWO_POW_32);
  const signature = identity.sign(packet.subarray(0, SIGNED_BYTES));
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) {
    throw new InvalidArgumentError(`identity.sign must return a ${SIGNATURE_BYTES}-byte signature`);
  }
  packet.set(signature, SIGNED_BYTES);
  return packet;
}

/**
 * Checks one received datagram and returns the announcement or the reason it
 * was dropped. Never throws on packet bytes. The cheap checks (size, magic,
 * version, flags, port, time window, own key, replay) all run before the
 * signature, which is verified only if `mayVerify` allows it.
 */
export function decodeAnnouncement(bytes: Uint8Array, options: DecodeAnnouncementOptions): DecodeResult {
  const { now, windowMs = DEFAULT_WINDOW_MS, replays, mayVerify } = checkDecodeOptions(options);
  if (!(bytes instanceof Uint8Array) || bytes.length !== PACKET_BYTES) return drop('malformed');
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return drop('badMagic');
  if (bytes[OFFSET_VERSION] !== PROTOCOL_VERSION) return drop('badVersion');
  const flags = bytes[OFFSET_FLAGS] as number;
  if ((flags & ~KNOWN_FLAGS) !== 0) return drop('badFlags');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const port = view.getUint16(OFFSET_PORT);
  if (port === 0) return drop('badPort');
  const high = view.getUint32(OFFSET_TIME);
  if (high > MAX_SAFE_HIGH_WORD) return drop('stale');
  const timestamp = high * TWO_POW_32 + view.getUint32(OFFSET_TIME + 4);
  if (Math.abs(timestamp - now) > windowMs) return drop('stale');
  const key = bytes.subarray(OFFSET_KEY, OFFSET_KEY + KEY_BYTES);
  const ownKey = options.ownId === undefined ? undefined : PeerId.from(options.ownId).unsafeBytes;
  if (ownKey !== undefined && bytesEqual(key, ownKey)) return drop('own');
  if (replays?.isReplay(key, timestamp) === true) return drop('replayed');
  const id = PeerId.fromBytes(key);
  if (mayVerify !== undefined && !mayVerify(id)) return drop('rateLimited');
  const signed = verify({
    message: bytes.subarray(0, SIGNED_BYTES),
    signature: bytes.subarray(SIGNED_BYTES, PACKET_BYTES),
    publicKey: id.unsafeBytes,
  });
  if (!signed) return drop('badSignature');
  replays?.record(key, timestamp, now);
  return { ok: true, announcement: { id, port, goodbye: (flags & FLAG_GOODBYE) !== 0, timestamp } };
}

function drop(reason: DropReason): DecodeResult {
  return { ok: false, reason };
}

function checkDecodeOptions(options: DecodeAnnouncementOptions): DecodeAnnouncementOptions {
  // The options come from the caller, not the network: mistakes there are programming errors.
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('decodeAnnouncement options must be an object with `now`');
  }
  if (typeof options.now !== 'number' || !Number.isFinite(options.now)) {
    throw new InvalidArgumentError(
      `decodeAnnouncement now must be a finite number (unix ms), got ${String(options.now)}`,
    );
  }
  const { windowMs } = options;
  if (windowMs !== undefined && (typeof windowMs !== 'number' || !(windowMs >= 0) || !Number.isFinite(windowMs))) {
    throw new InvalidArgumentError(`decodeAnnouncement windowMs must be a finite number >= 0, got ${String(windowMs)}`);
  }
  return options;
}
