import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const root = join(__dirname, '..', '..', '..');

/** DESIGN.md's layering, lowest first: a package may depend only on lower layers. */
const layers: string[][] = [
  ['@peernet/interface', '@peernet/atomic-file'],
  ['@peernet/identity', '@peernet/noise', '@peernet/frame', '@peernet/trust'],
  ['@peernet/connection'],
  ['@peernet/transport-tcp', '@peernet/discovery-mdns', '@peernet/discovery-udp', '@peernet/liveness'],
  ['@peernet/registry'],
  ['@peernet/rpc'],
  ['peernet'],
];
const layerOf = new Map(layers.flatMap((names, i) => names.map((name) => [name, i] as const)));

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
      else if (entry.name.endsWith('.ts')) {
        const source = readFileSync(path, 'utf8');
        for (const match of source.matchAll(/(?:from|import)\s*\(?\s*['"]((?:@peernet\/[a-z0-9-]+)|peernet)['"]/g)) {
          found.add(match[1] as string);
        }
      }
    }
  };
  walk(join(dir, 'src'));
  return found;
}

describe('layering (DESIGN.md)', () => {
  it.each(packages.filter((p) => p.manifest.name !== '@peernet/compliance').map((p) => [p.manifest.name, p]))(
    '%s imports only lower layers',
    (name, { dir, manifest }) => {
      const own = layerOf.get(name);
      expect(own).toBeDefined();
      for (const imported of importedWorkspaceModules(dir)) {
        if (imported === name) continue;
        const layer = layerOf.get(imported);
        expect({ imported, layer }).toEqual({ imported, layer: expect.any(Number) });
        expect({ imported, below: (layer as number) < (own as number) }).toEqual({ imported, below: true });
        expect(Object.keys(manifest.dependencies ?? {})).toContain(imported);
      }
    },
  );
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
