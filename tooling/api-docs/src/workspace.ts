// The file-system side of the generator: read the packages' manifests and
// declaration files, write docs/api. Everything else is in generate.ts.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ENTRY, type PackageInput } from './generate.js';

/** Where the reference lives, relative to the repository root. */
export const OUTPUT_DIR = 'docs/api';

function declarationFiles(packageDir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.d\.m?ts$/.test(entry.name)) files[relative(packageDir, path).split('\\').join('/')] = readFileSync(path, 'utf8');
    }
  };
  walk(join(packageDir, 'dist'));
  return files;
}

/**
 * Every publishable package under `packages/` (private ones are skipped),
 * with its built declaration files. Throws when a package is not built.
 */
export function readPackages(root: string): PackageInput[] {
  const packagesDir = join(root, 'packages');
  const packages: PackageInput[] = [];
  for (const dir of readdirSync(packagesDir).sort()) {
    const manifestPath = join(packagesDir, dir, 'package.json');
    if (!existsSync(manifestPath)) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { name: string; description?: string; private?: boolean };
    if (manifest.private === true) continue;
    if (!existsSync(join(packagesDir, dir, ENTRY))) {
      throw new Error(`packages/${dir}/${ENTRY} is missing: build the packages first (pnpm build)`);
    }
    packages.push({ dir, name: manifest.name, description: manifest.description ?? '', files: declarationFiles(join(packagesDir, dir)) });
  }
  return packages;
}

/** The committed reference: every markdown file in docs/api. */
export function readOutput(root: string): Record<string, string> {
  const dir = join(root, OUTPUT_DIR);
  const files: Record<string, string> = {};
  if (!existsSync(dir)) return files;
  for (const name of readdirSync(dir).sort()) {
    if (name.endsWith('.md')) files[name] = readFileSync(join(dir, name), 'utf8');
  }
  return files;
}

/** Writes the reference, removing pages of packages that no longer exist; returns the names that changed. */
export function writeOutput(root: string, files: Record<string, string>): string[] {
  const dir = join(root, OUTPUT_DIR);
  mkdirSync(dir, { recursive: true });
  const before = readOutput(root);
  const changed: string[] = [];
  for (const name of Object.keys(before)) {
    if (!(name in files)) {
      rmSync(join(dir, name));
      changed.push(name);
    }
  }
  for (const [name, text] of Object.entries(files)) {
    if (before[name] === text) continue;
    writeFileSync(join(dir, name), text);
    changed.push(name);
  }
  return changed.sort();
}

/** Names whose committed text differs from `expected` (missing, extra or changed files). */
export function staleFiles(committed: Record<string, string>, expected: Record<string, string>): string[] {
  const names = new Set([...Object.keys(committed), ...Object.keys(expected)]);
  return [...names].filter((name) => committed[name] !== expected[name]).sort();
}
