import { isIPv4, isIPv6 } from 'node:net';
import type { NetworkInterfaceInfo } from 'node:os';

/** What `os.networkInterfaces()` returns; injectable for tests. */
export type NetworkInterfacesFn = () => NodeJS.Dict<NetworkInterfaceInfo[]>;

/** One IPv4 interface address to run mDNS on. */
export interface InterfaceAddress {
  /** Interface name, e.g. `eth0`. */
  readonly name: string;
  /** Its IPv4 address: the multicast interface, the group membership and our A record. */
  readonly address: string;
  /** Its netmask; replies and addresses from outside this subnet are ignored. */
  readonly netmask: string;
  /** Loopback (sent with multicast TTL 1). */
  readonly internal: boolean;
}

/** The outcome of matching a restriction against the current interfaces. */
export interface ResolvedInterfaces {
  /** One address per interface, in the order asked (or the system's order by default). */
  readonly found: InterfaceAddress[];
  /** Restriction entries that match no IPv4 interface now. */
  readonly missing: string[];
}

function isIPv4Info(info: NetworkInterfaceInfo): boolean {
  // Node 18.0-18.3 reported the family as the number 4.
  return info.family === 'IPv4' || (info.family as unknown) === 4;
}

/**
 * Matches an interface restriction (IPv4 addresses or interface names) against
 * the system's interfaces. Without a restriction: every non-internal IPv4
 * interface. An interface name stands for its first IPv4 address (one
 * membership per interface: more would only duplicate every packet).
 */
export function resolveInterfaces(
  restriction: readonly string[] | undefined,
  networkInterfaces: NetworkInterfacesFn,
): ResolvedInterfaces {
  const all: InterfaceAddress[] = [];
  for (const [name, infos] of Object.entries(networkInterfaces())) {
    for (const info of infos ?? []) {
      if (!isIPv4Info(info) || !isIPv4(info.address) || info.address === '0.0.0.0') continue;
      all.push({ name, address: info.address, netmask: info.netmask, internal: info.internal });
    }
  }
  const found: InterfaceAddress[] = [];
  const missing: string[] = [];
  const take = (candidate: InterfaceAddress | undefined, entry: string): void => {
    if (candidate === undefined) missing.push(entry);
    else if (!found.some((f) => f.address === candidate.address || f.name === candidate.name)) found.push(candidate);
  };
  if (restriction === undefined) {
    for (const candidate of all) if (!candidate.internal) take(candidate, candidate.name);
    return { found, missing };
  }
  for (const entry of restriction) {
    if (isIPv4(entry)) take(all.find((a) => a.address === entry), entry);
    else take(all.find((a) => a.name === entry), entry);
  }
  return { found, missing };
}

/** Checks a restriction's shape: non-empty strings, no IPv6 literals (this package speaks mDNS over IPv4 only). */
export function invalidRestrictionEntry(entry: unknown): string | undefined {
  if (typeof entry !== 'string' || entry.length === 0 || entry.length > 64) {
    return 'must be an IPv4 address or an interface name';
  }
  if (isIPv6(entry)) return 'is an IPv6 address; only IPv4 interfaces are supported';
  if (entry === '0.0.0.0') return 'is the unspecified address; name one interface';
  return undefined;
}

function toNumber(address: string): number {
  let value = 0;
  for (const part of address.split('.')) value = value * 256 + Number(part);
  return value;
}

/** True if `address` lies in the subnet of `iface` (RFC 6762 §11: only on-link sources count). */
export function onLink(address: string, iface: InterfaceAddress): boolean {
  if (!isIPv4(address) || !isIPv4(iface.netmask)) return false;
  const mask = toNumber(iface.netmask);
  // Unsigned arithmetic: the bitwise operators work on signed 32-bit integers.
  return (toNumber(address) & mask) >>> 0 === (toNumber(iface.address) & mask) >>> 0;
}
