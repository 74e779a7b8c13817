// The one-scan form of an invite, for a QR code or a link:
//   peernet://pair/<inviter id>?n=<nameplate>&s=<secret, base64url without padding>
// It names the inviter outright and carries a 128-bit secret instead of three
// words. Parsing is strict and canonical (one spelling per URI), so a URI that
// round-trips is exactly the one the inviter printed.
import { InvalidArgumentError, PeerId } from '@peernet/interface';
import { checkNameplate, showValue } from './code.js';

/** The content of a pairing URI. */
export interface PairingUri {
  /** The node that issued the invite. */
  readonly inviter: PeerId;
  /** The invite's nameplate, 0..999, as in the invite code; selects the inviter's slot. */
  readonly nameplate: number;
  /** The PAKE secret, `PAIRING_SECRET_LENGTH` bytes. */
  readonly secret: Uint8Array;
}

/** Length in bytes of a pairing URI's secret: 128 bits, so a URI needs no guess limit to be safe. */
export const PAIRING_SECRET_LENGTH = 16;

const PREFIX = 'peernet:';
const HOST = 'pair';
const SHAPE = 'a pairing URI looks like peernet://pair/<inviter id>?n=<number>&s=<secret>';
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const base64urlValues = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE64URL.length; i++) base64urlValues[BASE64URL.charCodeAt(i)] = i;
// 16 bytes are 128 bits: 21 full characters and one that carries 2 bits.
const SECRET_CHARS = Math.ceil((PAIRING_SECRET_LENGTH * 8) / 6);

/** The URI text of an invite, for a QR code or a link. */
export function formatPairingUri(uri: PairingUri): string {
  if (typeof uri !== 'object' || uri === null) throw new InvalidArgumentError('formatPairingUri: expected { inviter, nameplate, secret }');
  const inviter = PeerId.from(uri.inviter);
  checkNameplate(uri.nameplate, 'formatPairingUri: nameplate');
  checkSecret(uri.secret);
  return `${PREFIX}//${HOST}/${inviter.toString()}?n=${uri.nameplate}&s=${encodeBase64url(uri.secret)}`;
}

/** Reads a pairing URI; anything but the exact form `formatPairingUri` writes (scheme and host in any case) is refused. */
export function parsePairingUri(text: string): PairingUri {
  if (typeof text !== 'string') throw new InvalidArgumentError(`pairing URI must be a string, got ${text === null ? 'null' : typeof text}`);
  const trimmed = text.trim();
  if (trimmed.slice(0, PREFIX.length).toLowerCase() !== PREFIX) throw new InvalidArgumentError(`pairing URI must start with "peernet:"; ${SHAPE}`);
  const rest = trimmed.slice(PREFIX.length);
  if (rest.includes('#')) throw new InvalidArgumentError(`pairing URI must not have a fragment ("#..."); ${SHAPE}`);
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  if (!path.startsWith('//')) throw new InvalidArgumentError(`pairing URI: "peernet:" must be followed by "//pair/"; ${SHAPE}`);
  const slash = path.indexOf('/', 2);
  const host = slash < 0 ? path.slice(2) : path.slice(2, slash);
  if (host.toLowerCase() !== HOST) throw new InvalidArgumentError(`pairing URI: expected "pair" after "peernet://", got ${showValue(host)}; ${SHAPE}`);
  const id = slash < 0 ? '' : path.slice(slash + 1);
  if (id === '') throw new InvalidArgumentError(`pairing URI has no inviter id; ${SHAPE}`);
  if (id.includes('/')) throw new InvalidArgumentError(`pairing URI: the path has more than the inviter id; ${SHAPE}`);
  const inviter = parseInviter(id);
  if (q < 0) throw new InvalidArgumentError(`pairing URI has no query (n and s); ${SHAPE}`);
  const { n, s } = parseQuery(rest.slice(q + 1));
  if (!/^(0|[1-9][0-9]{0,2})$/.test(n)) {
    throw new InvalidArgumentError(`pairing URI: n must be a number from 0 to 999 without leading zeros, got ${showValue(n)}`);
  }
  return Object.freeze({ inviter, nameplate: Number(n), secret: parseSecret(s) });
}

/** Tells a pasted URI from an invite code, so one input field can take both. */
export function isPairingUri(text: string): boolean {
  return typeof text === 'string' && /^peernet:\/\//i.test(text.trim());
}

function parseInviter(text: string): PeerId {
  let id: PeerId;
  try {
    id = PeerId.from(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new InvalidArgumentError(`pairing URI: the inviter id is not a peer id (${message})`, { cause: error });
  }
  // The hex form is a valid id too, but a second spelling would break the exact round trip.
  if (id.toString() !== text) throw new InvalidArgumentError('pairing URI: the inviter id must be in its 52-character base32 form');
  return id;
}

function parseQuery(query: string): { n: string; s: string } {
  const found = new Map<string, string>();
  for (const parameter of query.split('&')) {
    if (parameter === '') throw new InvalidArgumentError(`pairing URI has an empty query parameter; ${SHAPE}`);
    const eq = parameter.indexOf('=');
    const name = eq < 0 ? parameter : parameter.slice(0, eq);
    if (name !== 'n' && name !== 's') {
      throw new InvalidArgumentError(`pairing URI: unknown query parameter ${showValue(name)} (it takes n and s only)`);
    }
    if (eq < 0) throw new InvalidArgumentError(`pairing URI: query parameter ${name} has no value`);
    if (found.has(name)) throw new InvalidArgumentError(`pairing URI has query parameter ${name} twice`);
    found.set(name, parameter.slice(eq + 1));
  }
  const n = found.get('n');
  const s = found.get('s');
  if (n === undefined) throw new InvalidArgumentError(`pairing URI has no n (the nameplate); ${SHAPE}`);
  if (s === undefined) throw new InvalidArgumentError(`pairing URI has no s (the secret); ${SHAPE}`);
  return { n, s };
}

// The secret is never quoted in a message: it is what the URI protects.
function parseSecret(text: string): Uint8Array {
  if (text.length !== SECRET_CHARS) {
    throw new InvalidArgumentError(`pairing URI: s must be ${SECRET_CHARS} base64url characters (${PAIRING_SECRET_LENGTH} bytes), got ${text.length}`);
  }
  const bytes = decodeBase64url(text);
  if (bytes === undefined) {
    throw new InvalidArgumentError('pairing URI: s is not canonical base64url (A-Z a-z 0-9 - _, no padding, unused bits zero)');
  }
  return bytes;
}

function checkSecret(secret: unknown): void {
  if (!(secret instanceof Uint8Array) || secret.length !== PAIRING_SECRET_LENGTH) {
    const got = secret instanceof Uint8Array ? `${secret.length} bytes` : showValue(secret);
    throw new InvalidArgumentError(`formatPairingUri: secret must be a Uint8Array of ${PAIRING_SECRET_LENGTH} bytes, got ${got}`);
  }
}

/** RFC 4648 section 5, without padding. */
export function encodeBase64url(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const byte of bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += BASE64URL[(acc >>> bits) & 63];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE64URL[(acc << (6 - bits)) & 63];
  return out;
}

/** The inverse of `encodeBase64url`, or `undefined` for any text it would not have written. */
export function decodeBase64url(text: string): Uint8Array | undefined {
  if (text.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((text.length * 6) / 8));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? (base64urlValues[c] as number) : -1;
    if (v < 0) return undefined;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
  }
  // Leftover bits must be zero: otherwise two texts would decode to one secret.
  return acc === 0 ? out : undefined;
}
