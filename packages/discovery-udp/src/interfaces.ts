import {
  InvalidArgumentError,
  type InterfaceTable,
  type Ipv4InterfaceAddress,
  inSubnet,
  ipv4Addresses,
  parseIpv4,
} from '@peernet/interface';

/** Checks an `interfaces` option: IPv4 literals or interface names. Throws `InvalidArgumentError`. */
export function checkRestriction(interfaces: unknown): readonly string[] | undefined {
  if (interfaces === undefined) return undefined;
  const refuse = (problem: string): InvalidArgumentError =>
    new InvalidArgumentError(`udpDiscovery option interfaces ${problem}`);
  if (!Array.isArray(interfaces) || interfaces.length === 0) {
    throw refuse('must be a non-empty array of IPv4 addresses or interface names');
  }
  for (const entry of interfaces) {
    if (typeof entry !== 'string' || entry.length === 0 || /\s/.test(entry)) {
      throw refuse(`entries must be IPv4 addresses or interface names, got ${JSON.stringify(entry)}`);
    }
    if (entry.includes(':')) {
      throw refuse(`cannot hold ${JSON.stringify(entry)}: UDP broadcast is IPv4 only`);
    }
    const ip = parseIpv4(entry);
    if (ip === 0 || ip === 0xffffffff) {
      throw refuse(`cannot hold ${entry}: it is not an interface address; name an interface or one of its IPv4 addresses`);
    }
  }
  return [...interfaces] as string[];
}

/**
 * The IPv4 interface addresses to use. The policy of this discovery: an
 * address selects that address; a name selects every IPv4 address of the
 * interface (broadcast goes out on each subnet it is on), internal ones
 * included when asked for; no restriction means every non-internal address.
 */
export function resolveInterfaces(
  restriction: readonly string[] | undefined,
  table: InterfaceTable,
): Ipv4InterfaceAddress[] {
  const found = new Map<string, Ipv4InterfaceAddress>();
  for (const entry of ipv4Addresses(table)) {
    const selected =
      restriction === undefined
        ? !entry.internal
        : restriction.includes(entry.name) || restriction.includes(entry.address);
    if (selected) found.set(`${entry.name}/${entry.address}`, entry);
  }
  return [...found.values()];
}

/** The distinct broadcast addresses of `interfaces`. */
export function broadcastAddressesOf(interfaces: readonly Ipv4InterfaceAddress[]): string[] {
  const out: string[] = [];
  for (const { broadcast } of interfaces) if (broadcast !== undefined && !out.includes(broadcast)) out.push(broadcast);
  return out;
}

/** True if `host` (an IPv4 literal) lies in the subnet of one of `interfaces`. */
export function inSubnetOf(host: string, interfaces: readonly Ipv4InterfaceAddress[]): boolean {
  return interfaces.some((iface) => inSubnet(host, iface));
}
