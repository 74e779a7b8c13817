import { isIP } from 'node:net';
import { InvalidArgumentError, type TransportAddress } from '@peernet/interface';

/** Strips the brackets of a `[v6]` literal so every address is reported the same way. */
export function unbracket(host: string): string {
  return host.length > 2 && host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * A peer reached over a dual-stack socket shows up as `::ffff:a.b.c.d`;
 * reporting the plain IPv4 form lets callers compare it with what discovery announced.
 */
export function normalizeHost(host: string): string {
  const plain = unbracket(host);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(plain);
  return mapped !== null && isIP(mapped[1] as string) === 4 ? (mapped[1] as string) : plain;
}

/** `host:port`, bracketing IPv6 so the port stays readable in messages. */
export function formatAddress(address: { host: string; port: number }): string {
  return isIP(address.host) === 6 ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** Validates a host given by the caller and returns it unbracketed. */
export function checkHost(host: unknown, what: string): string {
  if (typeof host !== 'string' || host.length === 0) {
    throw new InvalidArgumentError(`${what} must be a non-empty string, got ${describe(host)}`);
  }
  const plain = unbracket(host);
  if (plain !== host && isIP(plain) !== 6) {
    throw new InvalidArgumentError(`${what} ${JSON.stringify(host)} has brackets but is not an IPv6 literal`);
  }
  return plain;
}

/** Validates a port; `allowZero` is for listening, where 0 means "any free port". */
export function checkPort(port: unknown, what: string, allowZero: boolean): number {
  const min = allowZero ? 0 : 1;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < min || port > 65535) {
    throw new InvalidArgumentError(`${what} must be an integer from ${min} to 65535, got ${describe(port)}`);
  }
  return port;
}

/** Validates a dial target. */
export function checkDialAddress(address: unknown): TransportAddress {
  if (typeof address !== 'object' || address === null) {
    throw new InvalidArgumentError(`dial address must be an object { host, port }, got ${describe(address)}`);
  }
  const { host, port } = address as Partial<TransportAddress>;
  return { host: checkHost(host, 'dial host'), port: checkPort(port, 'dial port', false) };
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  return typeof value;
}
