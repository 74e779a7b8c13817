import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const root = join(__dirname, '..', '..', '..');

interface Manifest {
  name: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  exports?: unknown;
  types?: string;
  license?: string;
  sideEffects?: boolean;
  files?: string[];
  version?: string;
  type?: string;
  description?: string;
  engines?: Record<string, string>;
  repository?: { type?: string; url?: string; directory?: string };
}

const packages = readdirSync(join(root, 'packages'))
  .filter((dir) => existsSync(join(root, 'packages', dir, 'package.json')))
  .map((dir) => ({
  dir: join(root, 'packages', dir),
  manifest: JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) as Manifest,
}));

/** Every `@peernet/*` or `peernet` module named in an import/export statement of the package's sources. */
function importedWorkspaceModules(dir: string): Set<string> {
  const found = new Set<string>();
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.[cm]?tsx?$/.test(entry.name)) {
        const source = readFileSync(path, 'utf8');
        // A subpath (`@peernet/x/y`) is still an edge to `@peernet/x`.
        for (const match of source.matchAll(
          /(?:from|import)\s*\(?\s*['"]((?:@peernet\/[a-z0-9-]+)|peernet)(?:\/[^'"]*)?['"]/g,
        )) {
          found.add(match[1] as string);
        }
      }
    }
  };
  walk(join(dir, 'src'));
  return found;
}

/**
 * The allowed edges, read from the table between the `dependency-map` markers
 * of docs/architecture.md, so the map readers see is the rule enforced here.
 * Rows are `| \`package\` | \`import\`, \`import\` | job |` (`—` for no
 * imports), with `@peernet/` left out of the names.
 */
function readDependencyMap(): { edges: Map<string, string[]>; problems: string[] } {
  const doc = readFileSync(join(root, 'docs', 'architecture.md'), 'utf8');
  const begin = doc.indexOf('<!-- dependency-map:begin -->');
  const end = doc.indexOf('<!-- dependency-map:end -->');
  const edges = new Map<string, string[]>();
  const problems: string[] = [];
  if (begin < 0 || end < begin) return { edges, problems: ['no dependency-map markers in docs/architecture.md'] };
  const known = new Map(packages.map((p) => [p.manifest.name.replace(/^@peernet\//, ''), p.manifest.name]));
  const resolve = (short: string): string => {
    const name = known.get(short);
    if (name === undefined) problems.push(`\`${short}\` is not a package`);
    return name ?? short;
  };
  const rows = doc
    .slice(begin, end)
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .slice(2); // header and separator
  for (const row of rows) {
    const cells = row.split('|').slice(1, -1).map((cell) => cell.trim());
    const from = /^`([a-z0-9-]+)`$/.exec(cells[0] ?? '')?.[1];
    const list = cells[1] ?? '';
    // Anything but backticked names, commas and `—` would be an edge the parser silently dropped.
    if (cells.length !== 3 || from === undefined || !/^(—|`[a-z0-9-]+`(\s*,\s*`[a-z0-9-]+`)*)$/.test(list)) {
      problems.push(`unreadable row: ${row}`);
      continue;
    }
    const name = resolve(from);
    if (edges.has(name)) problems.push(`\`${from}\` has two rows`);
    edges.set(name, [...list.matchAll(/`([a-z0-9-]+)`/g)].map((m) => resolve(m[1] as string)));
  }
  return { edges, problems };
}

const map = readDependencyMap();

describe('dependency map (docs/architecture.md)', () => {
  it('has one readable row for every package and nothing else', () => {
    expect(map.problems).toEqual([]);
    expect([...map.edges.keys()].sort()).toEqual(packages.map((p) => p.manifest.name).sort());
  });

  it.each(packages.map((p) => [p.manifest.name, p]))(
    '%s imports exactly what the map lists, each a dependency',
    (name, { dir, manifest }) => {
      const imported = [...importedWorkspaceModules(dir)].filter((m) => m !== name).sort();
      const allowed = [...(map.edges.get(name) ?? [])].sort();
      // Both ways: a new edge needs a reviewed map change, and an edge gone from the code leaves the map.
      expect({
        name,
        importedButNotInMap: imported.filter((m) => !allowed.includes(m)),
        inMapButNotImported: allowed.filter((m) => !imported.includes(m)),
        importedButNotADependency: imported.filter((m) => !Object.keys(manifest.dependencies ?? {}).includes(m)),
      }).toEqual({ name, importedButNotInMap: [], inMapButNotImported: [], importedButNotADependency: [] });
    },
  );

  it('has no cycles', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (name: string, path: string[]): void => {
      if (state.get(name) === 'done') return;
      if (state.get(name) === 'visiting') {
        cycles.push([...path.slice(path.indexOf(name)), name].join(' → '));
        return;
      }
      state.set(name, 'visiting');
      for (const next of map.edges.get(name) ?? []) visit(next, [...path, name]);
      state.set(name, 'done');
    };
    for (const name of map.edges.keys()) visit(name, []);
    expect(cycles).toEqual([]);
  });
});

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
const rootManifest = readJson<Manifest>(join(root, 'package.json'));

describe('package metadata', () => {
  it.each(packages.map((p) => [p.manifest.name, p]))('%s is publishable and documented', (_, { dir, manifest }) => {
    expect(manifest.private).toBeUndefined();
    expect(manifest.version).toMatch(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
    expect(manifest.description).toEqual(expect.any(String));
    expect(manifest.license).toBe('Apache-2.0');
    // npm packs only what is inside the package: each carries the license text.
    expect(readFileSync(join(dir, 'LICENSE'), 'utf8')).toBe(readFileSync(join(root, 'LICENSE'), 'utf8'));
    expect(manifest.type).toBe('module');
    expect(manifest.sideEffects).toBe(false);
    expect(manifest.engines).toEqual(rootManifest.engines);
    const main = (manifest.exports as Record<string, Record<string, string>> | undefined)?.['.'];
    expect(main).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
    // TypeScript reads the first matching condition, so `types` must come first.
    expect(Object.keys(main ?? {})[0]).toBe('types');
    expect(manifest.types).toBe('./dist/index.d.ts');
    expect(manifest.files).toEqual(expect.arrayContaining(['dist', '!dist/.tsbuildinfo', 'src', 'README.md']));
    expect(existsSync(join(dir, 'README.md'))).toBe(true);
    expect(existsSync(join(dir, 'src', 'index.ts'))).toBe(true);
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(readme).toMatch(/```(ts|js|sh)/);
  });

  it('every package names the same repository, with its own directory', () => {
    const urls = new Set(packages.map((p) => p.manifest.repository?.url));
    expect(urls.size).toBe(1);
    expect([...urls][0]).toMatch(/^git\+https:\/\/\S+\.git$/);
    for (const { dir, manifest } of packages) {
      const directory = relative(root, dir).split(sep).join('/');
      expect({ name: manifest.name, repository: manifest.repository }).toEqual({
        name: manifest.name,
        repository: { type: 'git', url: [...urls][0], directory },
      });
    }
  });

  it('apps and tooling are private', () => {
    const others = ['apps', 'tooling'].flatMap((group) =>
      readdirSync(join(root, group))
        .filter((dir) => existsSync(join(root, group, dir, 'package.json')))
        .map((dir) => readJson<Manifest>(join(root, group, dir, 'package.json'))),
    );
    expect(others.length).toBeGreaterThan(0);
    expect(others.filter((m) => m.private !== true).map((m) => m.name)).toEqual([]);
    expect(rootManifest.private).toBe(true);
  });
});

describe('changesets', () => {
  const config = readJson<{
    fixed: string[][];
    access: string;
    baseBranch: string;
    privatePackages: { version: boolean; tag: boolean };
  }>(join(root, '.changeset', 'config.json'));

  it('releases every publishable package in one fixed group, publicly, and never the private ones', () => {
    expect(config.fixed).toHaveLength(1);
    expect([...(config.fixed[0] as string[])].sort()).toEqual(packages.map((p) => p.manifest.name).sort());
    expect(config.access).toBe('public');
    expect(config.baseBranch).toBe('main');
    expect(config.privatePackages).toEqual({ version: false, tag: false });
  });

  it('the fixed group has one version', () => {
    expect(new Set(packages.map((p) => p.manifest.version)).size).toBe(1);
  });
});
