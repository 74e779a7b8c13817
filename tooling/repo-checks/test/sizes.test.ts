import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');
const MAX_FILE_LINES = 600;
const MAX_PACKAGE_LINES = 1_500;

function lines(path: string): number {
  const text = readFileSync(path, 'utf8');
  return text.length === 0 ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

/** Every `.ts` file under `dir`, recursively. */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(path));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** The allowed ceilings from the table in docs/architecture.md. */
function ceilings(): Map<string, number> {
  const doc = readFileSync(join(root, 'docs', 'architecture.md'), 'utf8');
  const block = /<!-- package-sizes:begin -->([\s\S]*?)<!-- package-sizes:end -->/.exec(doc)?.[1];
  if (block === undefined) throw new Error('docs/architecture.md has no package-sizes table');
  const found = new Map<string, number>();
  for (const match of block.matchAll(/^\| `([a-z0-9-]+)` \| ([\d,]+) \| .+ \|$/gm)) {
    found.set(match[1] as string, Number((match[2] as string).replace(/,/g, '')));
  }
  return found;
}

const packages = readdirSync(join(root, 'packages')).filter((dir) => existsSync(join(root, 'packages', dir, 'src')));

describe('sizes', () => {
  it(`no source file of a package is over ${MAX_FILE_LINES} lines`, () => {
    const over: string[] = [];
    for (const dir of packages) {
      for (const file of sources(join(root, 'packages', dir, 'src'))) {
        const n = lines(file);
        if (n > MAX_FILE_LINES) over.push(`${file.slice(root.length + 1)}: ${n}`);
      }
    }
    expect(over).toEqual([]);
  });

  it(`a package's src is within ${MAX_PACKAGE_LINES} lines, or within the ceiling docs/architecture.md gives it with a reason`, () => {
    const allowed = ceilings();
    expect(allowed.size).toBeGreaterThan(0);
    const over: string[] = [];
    for (const dir of packages) {
      const total = sources(join(root, 'packages', dir, 'src')).reduce((sum, file) => sum + lines(file), 0);
      const ceiling = allowed.get(dir) ?? MAX_PACKAGE_LINES;
      if (total > ceiling) over.push(`${dir}: ${total} > ${ceiling}`);
    }
    expect(over).toEqual([]);
  });

  it('every package the table allows more is a real package that needs it', () => {
    for (const [dir] of ceilings()) {
      expect(packages).toContain(dir);
      const total = sources(join(root, 'packages', dir, 'src')).reduce((sum, file) => sum + lines(file), 0);
      expect(`${dir}: ${total > MAX_PACKAGE_LINES}`).toBe(`${dir}: true`);
    }
  });
});
