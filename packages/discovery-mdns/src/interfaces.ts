import { isIPv6 } from 'node:net';
import { type Ipv4InterfaceAddress, type ReadInterfaces, ipv4Addresses, parseIpv4 } from '@peernet/interface';

/**
 * What `os.networkInterfaces()` returns; injectable for tests.
 * @deprecated Use `ReadInterfaces` from `@peernet/interface`, which this now is.
 */
export type NetworkInterfacesFn = ReadInterfaces;

/** The outcome of matching a restriction against the current interfaces. */
export interface ResolvedInterfaces {
  /** One address per interface, in the order asked (or the system's order by default). */
  readonly found: Ipv4InterfaceAddress[];
  /** Restriction entries that match no IPv4 interface now. */
  readonly missing: string[];
}

/**
 * Matches an interface restriction (IPv4 addresses or interface names)
 * against the system's interfaces. The policy of this discovery: one address
 * per interface (one group membership each; more would only duplicate every
 * packet), so a name stands for the interface's first IPv4 address; without
 * a restriction, every non-internal interface.
 */
export function resolveInterfaces(restriction: readonly string[] | undefined, read: ReadInterfaces): ResolvedInterfaces {
  const all = ipv4Addresses(read());
  const found: Ipv4InterfaceAddress[] = [];
  const missing: string[] = [];
  const take = (candidate: Ipv4InterfaceAddress | undefined, entry: string): void => {
    if (candidate === undefined) missing.push(entry);
    else if (!found.some((f) => f.address === candidate.address || f.name === candidate.name)) found.push(candidate);
  };
  if (restriction === undefined) {
    for (const candidate of all) if (!candidate.internal) take(candidate, candidate.name);
    return { found, missing };
  }
  for (const entry of restriction) {
    const byAddress = parseIpv4(entry) !== undefined;
    take(all.find((a) => (byAddress ? a.address === entry : a.name === entry)), entry);
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
