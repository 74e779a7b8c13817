import type { NetworkInterfaceInfo } from 'node:os';
import { InvalidArgumentError } from '@peernet/interface';

/** What `os.networkInterfaces()` returns. */
export type InterfaceTable = NodeJS.Dict<NetworkInterfaceInfo[]>;

/** One IPv4 address of a local interface the discovery uses. */
export interface Ipv4Interface {
  /** Interface name (`'lo'`, `'eth0'`). */
  readonly name: string;
  /** The interface's IPv4 address. */
  readonly address: string;
  /** Its netmask. */
  readonly netmask: string;
  /** Directed broadcast address (`address | ~netmask`), or undefined for /0, /31 and /32 networks. */
  readonly broadcast: string | undefined;
  /** The network address as a 32-bit number, for the source filter. */
  readonly network: number;
  /** The netmask as a 32-bit number. */
  readonly mask: number;
}

/** Parses a dotted-quad IPv4 literal to an unsigned 32-bit number; undefined if it is not one. */
export function parseIpv4(text: string): number | undefined {
  if (typeof text !== 'string') return undefined;
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const byte = Number(part);
    if (byte > 255) return undefined;
    value = value * 256 + byte;
  }
  return value;
}

/** Formats an unsigned 32-bit number as a dotted quad. */
export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** Checks an `interfaces` option: IPv4 literals or interface names. Throws `InvalidArgumentError`. */
export function checkRestriction(interfaces: unknown): readonly string[] | undefined {
  if (interfaces === undefined) return undefined;
  if (!Array.isArray(interfaces) || interfaces.length === 0) {
    throw new InvalidArgumentError('interfaces must be a non-empty array of IPv4 addresses or interface names');
  }
  for (const entry of interfaces) {
    if (typeof entry !== 'string' || entry.length === 0 || /\s/.test(entry)) {
      throw new InvalidArgumentError(
        `interfaces entries must be IPv4 addresses or interface names, got ${JSON.stringify(entry)}`,
      );
    }
    if (entry.includes(':')) {
      throw new InvalidArgumentError(`UDP broadcast is IPv4 only: ${JSON.stringify(entry)} cannot be in interfaces`);
    }
    const ip = parseIpv4(entry);
    if (ip === 0 || ip === 0xffffffff) {
      throw new InvalidArgumentError(
        `${entry} is not an interface address; name an interface or one of its IPv4 addresses`,
      );
    }
  }
  return [...interfaces] as string[];
}

function isIpv4(info: NetworkInterfaceInfo): boolean {
  // Node 18.0-18.3 reported the family as a number.
  return info.family === 'IPv4' || (info.family as unknown) === 4;
}

function toInterface(name: string, info: NetworkInterfaceInfo): Ipv4Interface | undefined {
  const address = parseIpv4(info.address);
  const mask = parseIpv4(info.netmask);
  if (address === undefined || mask === undefined) return undefined;
  const network = (address & mask) >>> 0;
  // /0 would make 255.255.255.255 (leaves through the default route); /31 and /32 have no broadcast address.
  const hostBits = ~mask >>> 0;
  const broadcast = mask === 0 || hostBits <= 1 ? undefined : formatIpv4((network | hostBits) >>> 0);
  return { name, address: info.address, netmask: info.netmask, broadcast, network, mask };
}

/**
 * The IPv4 interface addresses to use: those named by `restriction` (an
 * address selects that address, a name every IPv4 address of the interface,
 * internal ones included when asked for), or every non-internal IPv4 address
 * when there is no restriction.
 */
export function resolveInterfaces(restriction: readonly string[] | undefined, table: InterfaceTable): Ipv4Interface[] {
  const found = new Map<string, Ipv4Interface>();
  const add = (name: string, info: NetworkInterfaceInfo): void => {
    const resolved = toInterface(name, info);
    if (resolved !== undefined) found.set(`${name}/${resolved.address}`, resolved);
  };
  for (const [name, infos] of Object.entries(table)) {
    for (const info of infos ?? []) {
      if (!isIpv4(info)) continue;
      if (restriction === undefined) {
        if (!info.internal) add(name, info);
      } else if (restriction.includes(name) || restriction.includes(info.address)) {
        add(name, info);
      }
    }
  }
  return [...found.values()];
}

/** The distinct broadcast addresses of `interfaces`. */
export function broadcastAddressesOf(interfaces: readonly Ipv4Interface[]): string[] {
  const out: string[] = [];
  for (const { broadcast } of interfaces) if (broadcast !== undefined && !out.includes(broadcast)) out.push(broadcast);
  return out;
}

/** True if `host` (an IPv4 literal) lies in the subnet of one of `interfaces`. */
export function inSubnetOf(host: string, interfaces: readonly Ipv4Interface[]): boolean {
  const ip = parseIpv4(host);
  if (ip === undefined) return false;
  return interfaces.some(({ network, mask }) => ((ip & mask) >>> 0) === network);
}
