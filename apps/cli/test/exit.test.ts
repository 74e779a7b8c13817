import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOCAL_ERROR_CODES, WIRE_ERROR_CODES } from 'peernet';
import { EXIT, EXIT_MEANINGS, exitCodeOf } from '../src/exit.js';

// The README's exit-code table is the contract scripts rely on: every code it
// lists must map to its row's exit code, and every PeerNet code must be listed.
const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
const section = /## Exit codes\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
const rows = [...section.matchAll(/^\| (\d) \| [^|]* \|(.*)\|$/gm)].map((m) => ({
  exit: Number(m[1]),
  codes: [...(m[2] as string).matchAll(/`([a-z_]+|E[A-Z]+)`/g)].map((c) => c[1] as string),
}));

describe('exit codes', () => {
  it('the README lists one row per exit code, 0 to 8, as the help texts do', () => {
    expect(rows.map((r) => r.exit)).toEqual(Object.values(EXIT));
    expect(Object.keys(EXIT_MEANINGS).map(Number)).toEqual(Object.values(EXIT));
  });

  it('every code the README lists maps to the exit code of its row', () => {
    const listed = rows.flatMap((r) => r.codes.map((code) => [code, r.exit] as const));
    expect(listed.length).toBeGreaterThan(25);
    for (const [code, exit] of listed) expect({ code, exit: exitCodeOf(code) }).toEqual({ code, exit });
  });

  it('every PeerNet error code is in the table, none falls through to "unexpected"', () => {
    const listed = new Set(rows.flatMap((r) => r.codes));
    for (const code of [...WIRE_ERROR_CODES, ...LOCAL_ERROR_CODES]) {
      expect({ code, listed: listed.has(code) }).toEqual({ code, listed: true });
      expect(exitCodeOf(code)).not.toBe(EXIT.failure);
    }
  });
});
