import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

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

describe('package metadata', () => {
  it.each(packages.map((p) => [p.manifest.name, p]))('%s is publishable and documented', (_, { dir, manifest }) => {
    expect(manifest.license).toBe('Apache-2.0');
    expect(manifest.exports).toBeDefined();
    expect(manifest.types).toBe('./dist/index.d.ts');
    expect(manifest.files).toContain('dist');
    expect(existsSync(join(dir, 'README.md'))).toBe(true);
    expect(existsSync(join(dir, 'src', 'index.ts'))).toBe(true);
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(readme).toMatch(/```(ts|js|sh)/);
  });
});
