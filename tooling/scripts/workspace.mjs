// What the root scripts (pack-all, peernet) need to know about the
// workspace: its publishable packages, the workspace packages each one needs
// at run time, and a turbo build that stays quiet unless it fails.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The clone's root directory. */
export const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Every package under packages/ that is not private, sorted by name, each with
 * the workspace packages it lists as dependencies (the ones a user must
 * install beside it).
 */
export function publishablePackages() {
  const found = [];
  for (const entry of readdirSync(join(root, 'packages'))) {
    const dir = join(root, 'packages', entry);
    const path = join(dir, 'package.json');
    if (!existsSync(path)) continue;
    const manifest = JSON.parse(readFileSync(path, 'utf8'));
    if (manifest.private === true) continue;
    found.push({ name: manifest.name, version: manifest.version, dir, dependencies: Object.keys(manifest.dependencies ?? {}) });
  }
  const names = new Set(found.map((p) => p.name));
  for (const p of found) p.dependencies = p.dependencies.filter((name) => names.has(name)).sort();
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * `names` and every publishable package they need at run time, transitively.
 * Throws a `UsageError` on a name that is not a publishable package.
 */
export function dependencyClosure(packages, names) {
  const byName = new Map(packages.map((p) => [p.name, p]));
  const found = new Set();
  const visit = (name) => {
    if (found.has(name)) return;
    const p = byName.get(name);
    if (p === undefined) {
      throw new UsageError(`${name} is not a publishable package; these are: ${[...byName.keys()].join(', ')}`);
    }
    found.add(name);
    p.dependencies.forEach(visit);
  };
  names.forEach(visit);
  return packages.filter((p) => found.has(p.name));
}

/** A mistake in how a script was invoked (exit 2), as opposed to a failure while it ran. */
export class UsageError extends Error {
  code = 'usage';

  /** @param {string} message @param {{ showUsage?: boolean }} [options] */
  constructor(message, options = {}) {
    super(message);
    this.name = 'UsageError';
    /** Whether the script's usage text helps (a malformed command line, not a wrong value). */
    this.showUsage = options.showUsage === true;
  }
}

/**
 * Builds the workspace packages matched by `filters` (turbo `--filter`
 * syntax) and their dependencies. Prints nothing when the build succeeds, so
 * that the output of what runs next is all a caller sees; on failure the
 * build's own output goes to stderr and this throws.
 */
export function buildQuietly(filters) {
  const turbo = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'turbo.cmd' : 'turbo');
  const args = ['run', 'build', ...filters.map((f) => `--filter=${f}`), '--output-logs=errors-only'];
  const result = spawnSync(turbo, args, {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, TURBO_NO_UPDATE_NOTIFIER: '1' },
    shell: process.platform === 'win32',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw new Error(`could not run turbo (${result.error.message}); run pnpm install first`);
  if (result.status !== 0) {
    process.stderr.write(result.stdout);
    process.stderr.write(result.stderr);
    throw new Error(`the build failed (turbo ${args.join(' ')} exited ${String(result.status ?? result.signal)})`);
  }
}
