// The root scripts a user of a clone runs, run as they run them: `pnpm
// peernet …` (the CLI without installing anything), `npm link` of the CLI
// (peernet on the PATH; here into a throwaway prefix, so nothing global
// changes), `pnpm pack-all` (its checks; what it writes is pack.test.ts's
// subject) and `pnpm demo` (what it builds).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Manifest, cleanEnv, outcome, root, run } from './helpers.js';

const ID = /^[a-z2-7]{52}$/;
const cliManifest = JSON.parse(readFileSync(join(root, 'apps', 'cli', 'package.json'), 'utf8')) as Manifest & {
  bin: Record<string, string>;
};
const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
// Made in beforeAll, not when jest loads the file: a run that filters these tests out then leaves nothing behind.
let work = '';

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'peernet-clone-'));
});

afterAll(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

/** `pnpm <args>` from `cwd` (the clone's root unless said otherwise). */
const pnpm = (args: readonly string[], cwd = root, ms = 180_000): ReturnType<typeof outcome> => outcome('pnpm', args, { cwd, ms });

describe('pnpm peernet', () => {
  let id = '';

  beforeAll(async () => {
    // The first run may build the CLI and what it imports.
    const first = await pnpm(['peernet', 'id', '--data-dir', join(work, 'first'), '--no-qr']);
    if (first.code !== 0) throw new Error(`pnpm peernet id failed (exit ${String(first.code)}):\n${first.stdout}\n${first.stderr}`);
    id = first.stdout;
  }, 240_000);

  it('runs the CLI from the clone root: stdout is only what the command prints, nothing from the build or pnpm', async () => {
    expect(id).toMatch(/^[a-z2-7]{52}\n$/);
    const direct = await run(process.execPath, [join(root, 'apps', 'cli', 'dist', 'main.js'), 'id', '--data-dir', join(work, 'first'), '--no-qr'], {
      cwd: root,
      ms: 30_000,
    });
    expect(direct.stdout).toBe(id);
  });

  it('passes the command’s exit code through (exit 3: unpair of a peer that is not paired)', async () => {
    const cli = join(root, 'apps', 'cli', 'dist', 'main.js');
    const stranger = await run(process.execPath, [cli, 'id', '--data-dir', join(work, 'stranger'), '--no-qr'], { cwd: root, ms: 30_000 });
    const result = await pnpm(['peernet', 'unpair', stranger.stdout.trim(), '--data-dir', join(work, 'first')]);
    expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 3, stdout: '' });
    expect(result.stderr).toMatch(/peernet: not_paired: /);
  });

  it('reads relative paths from where pnpm was invoked, not from the clone root', async () => {
    const cwd = useTempDirIn(work, 'elsewhere');
    const result = await pnpm(['--dir', root, 'peernet', 'id', '--data-dir', 'relative-node', '--no-qr'], cwd);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toMatch(ID);
    expect(existsSync(join(cwd, 'relative-node', 'identity.key'))).toBe(true);
    expect(existsSync(join(root, 'relative-node'))).toBe(false);
  });

  it('--version prints the CLI’s version', async () => {
    const result = await pnpm(['peernet', '--version']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(cliManifest.version);
  });

  it('call --help prints the help of call, not the global help', async () => {
    const [global, call] = await Promise.all([pnpm(['peernet', '--help']), pnpm(['peernet', 'call', '--help'])]);
    expect(call.code).toBe(0);
    expect(call.stdout).toMatch(/peernet call/);
    expect(call.stdout).not.toBe(global.stdout);
  });
});

describe('npm link in apps/cli (the README’s way to put peernet on the PATH)', () => {
  let prefix = '';
  let linked = '';

  beforeAll(async () => {
    prefix = join(work, 'prefix');
    // The link points at the build: make sure there is one (the root script builds quietly).
    await run(process.execPath, [join(root, 'tooling', 'scripts', 'peernet.mjs'), '--version'], { cwd: root, ms: 180_000 });
    // npm links into its global prefix; this one is a temp dir, so nothing outside it changes.
    await run('npm', ['link', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: join(root, 'apps', 'cli'),
      ms: 120_000,
      env: cleanEnv({ npm_config_prefix: prefix }),
    });
    linked = join(prefix, 'bin', 'peernet');
  }, 300_000);

  it('puts a peernet command in the prefix’s bin, pointing at the clone’s build', () => {
    expect(existsSync(linked)).toBe(true);
    expect(readlinkSync(linked)).toMatch(/cli\/dist\/main\.js$/);
    expect(cliManifest.bin.peernet).toBe('./dist/main.js');
    // Nothing was written into the clone (no lock file, no node_modules change).
    expect(existsSync(join(root, 'apps', 'cli', 'package-lock.json'))).toBe(false);
  });

  it('the linked peernet runs from any directory with that bin on the PATH', async () => {
    const cwd = useTempDirIn(work, 'linked-cwd');
    const env = cleanEnv({ PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}` });
    const result = await outcome('peernet', ['id', '--data-dir', 'node', '--no-qr'], { cwd, ms: 30_000, env });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout.trim()).toMatch(ID);
    const version = await outcome('peernet', ['--version'], { cwd, ms: 30_000, env });
    expect(version.code).toBe(0);
    expect(version.stdout).toContain(cliManifest.version);
  });
});

describe('pnpm pack-all', () => {
  it('without DIR: exit 2 and its usage', async () => {
    const result = await pnpm(['pack-all']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/pack-all: missing DIR\nusage: pnpm pack-all DIR \[PACKAGE\.\.\.\]/);
  });

  it('an unknown package: exit 2, naming the ones there are', async () => {
    const result = await pnpm(['pack-all', join(work, 'unknown'), '@peernet/nope']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/@peernet\/nope is not a publishable package; these are: .*@peernet\/identity.*peernet/);
  });

  it('a DIR holding other tarballs: exit 2 (npm install DIR/*.tgz would install them too)', async () => {
    const dir = useTempDirIn(work, 'occupied');
    writeFileSync(join(dir, 'something-1.0.0.tgz'), '');
    const result = await pnpm(['pack-all', dir, '@peernet/interface']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${dir} already holds other tarballs (something-1.0.0.tgz)`);
  });

  it('a relative DIR is relative to where pnpm was invoked', async () => {
    const cwd = useTempDirIn(work, 'relative');
    const result = await pnpm(['--dir', root, 'pack-all', 'out', '@peernet/interface'], cwd);
    expect(result.code).toBe(0);
    const tarball = join('out', `peernet-interface-${rootVersion()}.tgz`);
    expect(result.stdout).toBe(`${tarball}\n`);
    expect(existsSync(join(cwd, tarball))).toBe(true);
  });
});

describe('pnpm demo', () => {
  it('builds only the demo and the packages it imports', async () => {
    const script = rootManifest.scripts.demo as string;
    const build = /^turbo (run build [^&]*?)\s*&&/.exec(script)?.[1];
    expect(build).toBeDefined();
    const dry = await run(join(root, 'node_modules', '.bin', 'turbo'), [...(build as string).split(/\s+/), '--dry=json'], { cwd: root, ms: 60_000 });
    const packages = (JSON.parse(dry.stdout) as { packages: string[] }).packages.sort();
    expect(packages).toContain('@peernet/demo');
    expect(packages).toContain('peernet');
    for (const unrelated of ['@peernet/cli', '@peernet/bench', '@peernet/adversary', '@peernet/api-docs', '@peernet/doc-examples']) {
      expect(packages).not.toContain(unrelated);
    }
  });
});

/** The version every publishable package has (one fixed group). */
function rootVersion(): string {
  return (JSON.parse(readFileSync(join(root, 'packages', 'interface', 'package.json'), 'utf8')) as Manifest).version;
}

/** A new empty directory `name` under `base`. */
function useTempDirIn(base: string, name: string): string {
  const dir = join(base, name);
  mkdirSync(dir);
  return dir;
}
