import { InvalidArgumentError } from '@peernet/interface';

/**
 * Checks a bootstrap list (`'host:port'` each, IPv4 or a name; HyperDHT's
 * `suggested-ip@host:port` too) and returns a copy. An empty list is refused:
 * it would make a node that can reach nobody.
 */
export function parseBootstrap(value: unknown, owner: string): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidArgumentError(`${owner} must be a non-empty array of 'host:port' strings`);
  }
  return value.map((entry: unknown, i) => {
    const text = typeof entry === 'string' ? entry.trim() : '';
    const match = /^(?:[^@\s]+@)?([^:@\s]+):(\d{1,5})$/.exec(text);
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65_535) {
      throw new InvalidArgumentError(`${owner}[${i}] must be 'host:port' (got ${JSON.stringify(entry)})`);
    }
    return text;
  });
}
