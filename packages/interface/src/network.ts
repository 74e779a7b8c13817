import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

/** What `os.networkInterfaces()` returns. */
export type InterfaceTable = NodeJS.Dict<NetworkInterfaceInfo[]>;

/** A source of interface data: `os.networkInterfaces` by default, injectable so tests describe any machine. */
export type ReadInterfaces = () => InterfaceTable;

/** The machine's interfaces, read now. */
export const readSystemInterfaces: ReadInterfaces = () => networkInterfaces();

/** One IPv4 address of a local interface. */
export interface Ipv4InterfaceAddress {
  /** Interface name (`'lo'`, `'eth0'`). */
  readonly name: string;
  /** The interface's IPv4 address, dotted. */
  readonly address: string;
  /** Its netmask, dotted. */
  readonly netmask: string;
  /** True for loopback. */
  readonly internal: boolean;
  /** The network address as an unsigned 32-bit number. */
  readonly network: number;
  /** The netmask as an unsigned 32-bit number. */
  readonly mask: number;
  /** Directed broadcast address, or undefined for /0 (it would leave by the default route), /31 and /32. */
  readonly broadcast: string | undefined;
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

function isIpv4Family(info: NetworkInterfaceInfo): boolean {
  // Node 18.0-18.3 reported the family as the number 4.
  return info.family === 'IPv4' || (info.family as unknown) === 4;
}

/**
 * Every usable IPv4 address in `table`, loopback included, in the system's
 * order. The unspecified address and entries that do not parse are left out.
 */
export function ipv4Addresses(table: InterfaceTable): Ipv4InterfaceAddress[] {
  const out: Ipv4InterfaceAddress[] = [];
  for (const [name, infos] of Object.entries(table)) {
    for (const info of infos ?? []) {
      if (!isIpv4Family(info)) continue;
      const address = parseIpv4(info.address);
      const mask = parseIpv4(info.netmask);
      if (address === undefined || mask === undefined || address === 0) continue;
      const network = (address & mask) >>> 0;
      const hostBits = ~mask >>> 0;
      const broadcast = mask === 0 || hostBits <= 1 ? undefined : formatIpv4((network | hostBits) >>> 0);
      out.push({ name, address: info.address, netmask: info.netmask, internal: info.internal, network, mask, broadcast });
    }
  }
  return out;
}

/** True if `host` (an IPv4 literal) lies in the subnet of `iface` (only on-link sources count on a LAN). */
export function inSubnet(host: string, iface: Pick<Ipv4InterfaceAddress, 'network' | 'mask'>): boolean {
  const ip = parseIpv4(host);
  return ip !== undefined && ((ip & iface.mask) >>> 0) === iface.network;
}

/**
 * The machine's non-internal addresses of every family, one
 * `name/family/address/netmask` string each, sorted: equal lists mean
 * nothing a peer could dial has changed.
 */
export function networkAddresses(table: InterfaceTable): string[] {
  const entries: string[] = [];
  for (const [name, infos] of Object.entries(table)) {
    for (const info of infos ?? []) {
      if (!info.internal) entries.push(`${name}/${info.family}/${info.address}/${info.netmask}`);
    }
  }
  return entries.sort();
}

/** What changed in the machine's addresses. */
export interface NetworkChange {
  /** Addresses that appeared (`name/family/address/netmask`). */
  readonly added: readonly string[];
  /** Addresses that disappeared: sessions bound to them are dead. */
  readonly removed: readonly string[];
}

/**
 * Tells a node when the machine's network changed, so it re-announces
 * itself and redials. The default polls the interfaces; a platform with
 * change notifications (netlink, a mobile OS) can plug in its own.
 */
export interface NetworkMonitor {
  /** Starts watching; `onChange` runs after every change. Returns how to stop (idempotent). */
  watch(onChange: (change: NetworkChange) => void): { stop(): void };
}
