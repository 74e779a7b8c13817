import { isIPv4 } from 'node:net';
import type { PeerId } from '@peernet/interface';
import { SERVICE_TYPE, instanceNameOf, peerIdOfInstance, sameName } from './names.js';

/** Largest mDNS message we look at (RFC 6762 §17); larger ones are dropped unread. */
export const MAX_PACKET_BYTES = 9000;

/** At most this many records of one response are looked at. */
export const MAX_RECORDS = 256;

/** Received TTLs are capped at this many seconds (the longest RFC 6762 §10 suggests), so a forged record cannot live for years. */
export const MAX_TTL = 4500;

/** A PTR record listing a PeerNet instance (`_peernet._tcp.local PTR <id>._peernet._tcp.local`). */
export interface PtrRecord {
  readonly kind: 'ptr';
  readonly id: PeerId;
  /** The instance name as it was received (case preserved), for known-answer lists. */
  readonly instance: string;
  /** Seconds; 0 is a goodbye. */
  readonly ttl: number;
}

/** The SRV record of an instance: where its transport listens. */
export interface SrvRecord {
  readonly kind: 'srv';
  readonly id: PeerId;
  /** Target host name, lowercased, ending in `.local`. */
  readonly target: string;
  readonly port: number;
  readonly ttl: number;
  readonly flush: boolean;
}

/** A TXT record of an instance that passed validation (`v=1` and an `id=` equal to the label). */
export interface TxtRecord {
  readonly kind: 'txt';
  readonly id: PeerId;
  readonly ttl: number;
  readonly flush: boolean;
}

/** An A record of a `.local` host. */
export interface ARecord {
  readonly kind: 'a';
  /** Host name, lowercased. */
  readonly host: string;
  readonly address: string;
  readonly ttl: number;
  readonly flush: boolean;
}

/** A validated record about some other PeerNet node. */
export type ServiceRecord = PtrRecord | SrvRecord | TxtRecord | ARecord;

/** What `parseResponse` needs to know about us and the link. */
export interface ParseOptions {
  /** Our own id: records about it are ignored. */
  readonly self: PeerId;
  /** Our own host name: A records for it are ignored. */
  readonly selfHost: string;
  /** Extra address check (e.g. "on the receiving interface's subnet"); all usable IPv4 addresses pass by default. */
  readonly acceptAddress?: (address: string) => boolean;
  /**
   * Told when the response is refused as a whole (`'malformed'`: a non-zero
   * opcode or rcode), or holds a record that claims to be about a PeerNet
   * instance and fails validation (`'invalid-record'`, once per response).
   * Records of other services are not PeerNet's to judge and are not reported.
   */
  readonly onInvalid?: (reason: 'malformed' | 'invalid-record') => void;
}

interface LooseRecord {
  name?: unknown;
  type?: unknown;
  class?: unknown;
  ttl?: unknown;
  flush?: unknown;
  data?: unknown;
}

/**
 * Extracts the records about PeerNet instances from a decoded mDNS response,
 * dropping everything that is not exactly what a PeerNet node announces: not
 * a response, a non-zero opcode or rcode (RFC 6762 §18), more than
 * `MAX_PACKET_BYTES`, a label that is not a canonical base32 peer id, a TXT
 * without `v=1` or whose `id=` differs from the label, another service,
 * non-IN classes, bad ports, unusable addresses, and our own records.
 * Only the answer and additional sections count; beyond `MAX_RECORDS` records
 * the rest is ignored.
 */
export function parseResponse(packet: unknown, size: number, options: ParseOptions): ServiceRecord[] {
  if (typeof packet !== 'object' || packet === null) return [];
  const p = packet as { type?: unknown; opcode?: unknown; rcode?: unknown; answers?: unknown; additionals?: unknown };
  if (!(size <= MAX_PACKET_BYTES)) return [];
  if (p.type !== 'response') return [];
  if ((p.opcode !== undefined && p.opcode !== 'QUERY') || (p.rcode !== undefined && p.rcode !== 'NOERROR')) {
    options.onInvalid?.('malformed');
    return [];
  }
  const all = [...(Array.isArray(p.answers) ? p.answers : []), ...(Array.isArray(p.additionals) ? p.additionals : [])];
  const out: ServiceRecord[] = [];
  let invalid = false;
  for (const raw of all.slice(0, MAX_RECORDS)) {
    const record = parseRecord(raw, options);
    if (record !== undefined) out.push(record);
    else if (!invalid && options.onInvalid !== undefined && claimsPeerNet(raw, options.self)) invalid = true;
  }
  if (invalid) options.onInvalid?.('invalid-record');
  return out;
}

/**
 * True for a record that names a PeerNet instance (a PTR of the service
 * type, or an SRV or TXT under it) and is not one of our own, which come
 * back by multicast loopback.
 */
function claimsPeerNet(raw: unknown, self: PeerId): boolean {
  if (typeof raw !== 'object' || raw === null) return false;
  const { name, type, data } = raw as LooseRecord;
  if (typeof name !== 'string') return false;
  const own = instanceNameOf(self);
  if (type === 'PTR') return sameName(name, SERVICE_TYPE) && !(typeof data === 'string' && sameName(data, own));
  if (type === 'SRV' || type === 'TXT') return name.toLowerCase().endsWith(`.${SERVICE_TYPE}`) && !sameName(name, own);
  return false;
}

function parseRecord(raw: unknown, options: ParseOptions): ServiceRecord | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as LooseRecord;
  if (typeof r.name !== 'string' || r.class !== 'IN') return undefined;
  if (typeof r.ttl !== 'number' || !Number.isInteger(r.ttl) || r.ttl < 0) return undefined;
  const ttl = Math.min(r.ttl, MAX_TTL);
  const flush = r.flush === true;
  switch (r.type) {
    case 'PTR': {
      if (!sameName(r.name, SERVICE_TYPE) || typeof r.data !== 'string') return undefined;
      const id = peerIdOfInstance(r.data);
      if (id === undefined || id.equals(options.self)) return undefined;
      return { kind: 'ptr', id, instance: r.data, ttl };
    }
    case 'SRV': {
      const id = peerIdOfInstance(r.name);
      if (id === undefined || id.equals(options.self)) return undefined;
      const data = r.data as { port?: unknown; target?: unknown } | null;
      if (typeof data !== 'object' || data === null) return undefined;
      const { port, target } = data;
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
      if (typeof target !== 'string' || !isLocalHostName(target)) return undefined;
      return { kind: 'srv', id, target: target.toLowerCase(), port, ttl, flush };
    }
    case 'TXT': {
      const id = peerIdOfInstance(r.name);
      if (id === undefined || id.equals(options.self)) return undefined;
      if (!validTxt(r.data, id)) return undefined;
      return { kind: 'txt', id, ttl, flush };
    }
    case 'A': {
      if (!isLocalHostName(r.name) || sameName(r.name, options.selfHost)) return undefined;
      if (typeof r.data !== 'string' || !usableAddress(r.data)) return undefined;
      if (options.acceptAddress !== undefined && !options.acceptAddress(r.data)) return undefined;
      return { kind: 'a', host: r.name.toLowerCase(), address: r.data, ttl, flush };
    }
    default:
      return undefined;
  }
}

/** A name under `.local` of at most 255 characters: the only SRV targets and A names we resolve (by mDNS). */
function isLocalHostName(name: string): boolean {
  return name.length > 6 && name.length <= 255 && name.toLowerCase().endsWith('.local');
}

/**
 * RFC 6763 §6: each string is `key=value` (or a bare `key`), keys compare
 * case-insensitively and only the first occurrence of a key counts. We require
 * `v=1` and `id=<canonical base32 of the instance label>`; other keys are
 * allowed so later versions can add some.
 */
export function validTxt(data: unknown, id: PeerId): boolean {
  const strings = Array.isArray(data) ? data : [data];
  const seen = new Map<string, string | undefined>();
  for (const item of strings) {
    if (!(item instanceof Uint8Array) && typeof item !== 'string') return false;
    const text = typeof item === 'string' ? item : Buffer.from(item.buffer, item.byteOffset, item.byteLength).toString('utf8');
    if (text.length === 0) continue;
    const eq = text.indexOf('=');
    const key = (eq < 0 ? text : text.slice(0, eq)).toLowerCase();
    if (key.length === 0 || seen.has(key)) continue;
    seen.set(key, eq < 0 ? undefined : text.slice(eq + 1));
  }
  return seen.get('v') === '1' && seen.get('id') === id.toString();
}

/** A unicast IPv4 address one could dial: not unspecified (0/8), multicast or reserved (224/3), nor broadcast. */
export function usableAddress(address: string): boolean {
  if (!isIPv4(address)) return false;
  const first = Number(address.slice(0, address.indexOf('.')));
  return first !== 0 && first < 224;
}
