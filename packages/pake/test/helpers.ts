import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const json = JSON.parse(readFileSync(join(__dirname, 'vectors', 'cpace-ristretto255-sha512.json'), 'utf8')) as Record<string, unknown>;

/**
 * One section of the vectors of draft-irtf-cfrg-cpace-21 this package replays
 * (see vectors/README.md), as a lookup that fails loudly on a missing name.
 */
export function section(...path: string[]): (name: string) => string {
  let node: unknown = json;
  for (const key of path) node = (node as Record<string, unknown>)[key];
  if (typeof node !== 'object' || node === null) throw new Error(`no vector section ${path.join(' / ')}`);
  const values = node as Record<string, unknown>;
  return (name) => {
    const value = values[name];
    if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`no vector ${path.join(' / ')} / ${name}`);
    return String(value);
  };
}

/** The lexiographically_larger cases of A.3.3, as [a, b, expected]. */
export const lexicographicCases = json['A.3.3 lexiographically_larger text listing'] as [string, string, boolean][];

/** Bytes from the vectors' hex (upper or lower case). */
export function hex(text: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2})*$/.test(text)) throw new Error(`not hex: ${text}`);
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

/** Upper-case hex, as the draft's JSON writes it. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').toUpperCase();
}

/** A `random` that hands out `chunks` in order, then fails the test. */
export function fixedRandom(...chunks: Uint8Array[]): (length: number) => Uint8Array {
  return (length) => {
    const next = chunks.shift();
    if (next === undefined || next.length !== length) throw new Error(`unexpected random(${length})`);
    return next;
  };
}
