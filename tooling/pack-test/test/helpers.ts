// What the pack tests share: running commands as a user would, the root
// scripts (pack-all, peernet), and empty npm projects installed from tarballs.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The clone's root. */
export const root = join(__dirname, '..', '..', '..');
/** The root script behind `pnpm pack-all`. */
export const packAllScript = join(root, 'tooling', 'scripts', 'pack-all.mjs');

/** A package.json, as far as these tests read it. */
export interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  main?: string;
  types?: string;
  exports?: Record<string, { types?: string; default?: string }>;
  files?: string[];
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** A publishable package of the workspace. */
export interface Publishable {
  name: string;
  dir: string;
  manifest: Manifest;
}

/** Every non-private package under packages/, read when the test file loads (jest needs the list to name tests). */
export const publishable: Publishable[] = readdirSync(join(root, 'packages'))
  .filter((dir) => existsSync(join(root, 'packages', dir, 'package.json')))
  .map((dir) => {
    const manifest = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) as Manifest;
    return { name: manifest.name, dir: join(root, 'packages', dir), manifest };
  })
  .filter((p) => p.manifest.private !== true)
  .sort((a, b) => a.name.localeCompare(b.name));

/** What a finished command printed. */
export interface Run {
  stdout: string;
  stderr: string;
}

/** A finished command that may have failed: its exit code and output. */
export interface Outcome extends Run {
  code: number | null;
}

/** The environment a command sees: this process's, without what would change its configuration. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // npm and pnpm read the npm_* and pnpm_config_* variables set by the
    // package manager that runs this test as their configuration, and the
    // ones turbo sets for a task would make a nested turbo believe it is one.
    if (/^(npm_|pnpm_config_)/.test(key)) continue;
    if (['INIT_CWD', 'PNPM_SCRIPT_SRC_DIR', 'TURBO_HASH', 'TURBO_INVOCATION_DIR'].includes(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/**
 * Runs a command to completion without a shell and resolves with its exit
 * code and output; it is killed if it has not exited on its own within `ms`
 * (a node program that leaves a socket or timer behind never exits).
 */
export function outcome(
  command: string,
  args: readonly string[],
  options: { cwd: string; ms: number; env?: NodeJS.ProcessEnv },
): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, env: options.env ?? cleanEnv(), timeout: options.ms, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error?.killed) stderr += `\n[did not exit within ${options.ms} ms: killed]`;
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Like `outcome`, but rejects with the command's output unless it exits 0. */
export async function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; ms: number; env?: NodeJS.ProcessEnv },
): Promise<Run> {
  const result = await outcome(command, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} in ${options.cwd} failed (exit ${String(result.code)})\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
    );
  }
  return result;
}

/** One tarball written by pack-all. */
export interface Tarball {
  name: string;
  version: string;
  tarball: string;
  /** The workspace packages it depends on. */
  dependencies: string[];
}

/**
 * Runs the pack-all script into `dir`: all publishable packages, or `names`
 * and what they need. `viaPnpm` runs it as users do (`pnpm pack-all`, which
 * builds first); otherwise the script runs directly on what is built.
 */
export async function packAll(dir: string, names: readonly string[] = [], options: { viaPnpm?: boolean } = {}): Promise<Tarball[]> {
  const { stdout } = options.viaPnpm
    ? await run('pnpm', ['pack-all', dir, ...names, '--json'], { cwd: root, ms: 240_000 })
    : await run(process.execPath, [packAllScript, '--no-build', dir, ...names, '--json'], { cwd: root, ms: 120_000 });
  return JSON.parse(stdout) as Tarball[];
}

/** The `.tgz` files in `dir`: what the shell makes of `dir/*.tgz`. */
export function tarballsIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.tgz'))
    .sort()
    .map((f) => join(dir, f));
}

/**
 * An empty ESM project in `dir` (as `npm init -y && npm pkg set type=module`
 * makes it) into which npm installs `tarballs`, the way the documentation
 * says to: `npm install DIR/*.tgz`. Third-party dependencies come from npm's
 * configured registry, or its cache.
 */
export async function installTarballs(dir: string, tarballs: readonly string[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  const manifest = { name: 'pack-test-app', version: '1.0.0', private: true, type: 'module' };
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await npmInstall(dir, tarballs);
}

/** `npm install <tarballs>` in the project `dir`. */
export async function npmInstall(dir: string, tarballs: readonly string[]): Promise<void> {
  await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', '--prefer-offline', ...tarballs], { cwd: dir, ms: 240_000 });
}

/** The workspace packages npm installed in `dir`, each with where package-lock.json says it came from. */
export function installedWorkspacePackages(dir: string): Map<string, string | undefined> {
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { resolved?: string }>;
  };
  const found = new Map<string, string | undefined>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    const match = /(?:^|\/)node_modules\/((?:@peernet\/[^/]+)|peernet)$/.exec(path);
    if (match) found.set(path, entry.resolved);
  }
  return found;
}

/**
 * Runs `tasks` with at most `limit` of them at a time (npm's cache copes with
 * concurrent installs; the machine's two cores do not cope with many).
 */
export async function inParallel<T>(tasks: ReadonlyArray<() => Promise<T>>, limit: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await (tasks[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}
