import { PeerId } from '@peernet/interface';

/** The DNS-SD service type PeerNet nodes register (RFC 6763 §7), without a trailing dot. */
export const SERVICE_TYPE = '_peernet._tcp.local';

/** The DNS-SD meta-query name that lists every service type on the link (RFC 6763 §9). */
export const SERVICE_ENUMERATION = '_services._dns-sd._udp.local';

/** The IPv4 mDNS group (RFC 6762 §3). */
export const MDNS_GROUP = '224.0.0.251';

/** The mDNS port (RFC 6762 §3). */
export const MDNS_PORT = 5353;

const INSTANCE_SUFFIX = `.${SERVICE_TYPE}`;
const BASE32_LABEL = /^[a-z2-7]{52}$/;
const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** `<base32 id>._peernet._tcp.local`: the instance label is the peer id itself. */
export function instanceNameOf(id: PeerId): string {
  return `${id.toString()}${INSTANCE_SUFFIX}`;
}

/** The default host label `pn-<first 16 characters of the id>`, unique per node on a link. */
export function defaultHostLabel(id: PeerId): string {
  return `pn-${id.toString().slice(0, 16)}`;
}

/** DNS compares names ASCII case-insensitively (RFC 1035 §2.3.3, RFC 6762 §16). */
export function sameName(a: string, b: string): boolean {
  return a.length === b.length && a.toLowerCase() === b.toLowerCase();
}

/**
 * The peer id named by an instance name, or undefined unless the name is
 * exactly `<52 base32 characters>._peernet._tcp.local` with a canonical id.
 */
export function peerIdOfInstance(name: string): PeerId | undefined {
  if (typeof name !== 'string' || name.length !== 52 + INSTANCE_SUFFIX.length) return undefined;
  const lower = name.toLowerCase();
  if (!lower.endsWith(INSTANCE_SUFFIX)) return undefined;
  const label = lower.slice(0, 52);
  if (!BASE32_LABEL.test(label)) return undefined;
  try {
    return PeerId.parse(label);
  } catch {
    // Non-zero padding bits: not the canonical text of any key.
    return undefined;
  }
}

/** True for a host label we are willing to announce: letters, digits and inner hyphens, at most 63. */
export function isHostLabel(label: string): boolean {
  return HOST_LABEL.test(label);
}

/**
 * Why a datagram was dropped, as published on the diagnostics channel:
 * larger than we read, from outside every link's subnet, a response not
 * from port 5353, a query wanting a unicast reply we never send, not a
 * well-formed mDNS message, or a record claiming to be a PeerNet instance
 * that fails validation.
 */
export type MdnsDropReason = 'too-large' | 'off-link' | 'wrong-port' | 'legacy-unicast' | 'malformed' | 'invalid-record';
