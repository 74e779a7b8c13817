// "Install only the pieces you need", checked for every publishable package:
// its README's Install section says which tarballs to write
// (`pnpm pack-all DIR <package> [...]`) and to install them
// (`npm install DIR/*.tgz`); this test runs those two commands for each
// package into an empty project of its own, checks that exactly the package
// and the @peernet packages it depends on were installed, each from its
// tarball, and runs the README's example there with plain node.
// Needs the packages built (`pnpm test` builds first).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { transformSync } from '@swc/core';
import { netnsUnavailableReason } from '@peernet/compliance';
import { extractBlocks, type Block } from '../../doc-examples/test/blocks.js';
import {
  type Outcome,
  type Publishable,
  type Tarball,
  inParallel,
  installTarballs,
  installedWorkspacePackages,
  outcome,
  packAll,
  publishable,
  tarballsIn,
} from './helpers.js';

const byName = new Map(publishable.map((p) => [p.name, p]));

/** The workspace packages `names` need at run time, `names` included, from the workspace manifests. */
function closure(names: readonly string[]): string[] {
  const found = new Set<string>();
  const visit = (name: string): void => {
    const p = byName.get(name);
    if (p === undefined || found.has(name)) return;
    found.add(name);
    Object.keys(p.manifest.dependencies ?? {}).forEach(visit);
  };
  names.forEach(visit);
  return [...found].sort();
}

/** The two commands of a README's Install section. */
interface InstallCommands {
  /** The sh block they are in. */
  block: Block;
  /** DIR of `pnpm pack-all DIR ...`. */
  dir: string;
  /** The packages named to `pnpm pack-all`. */
  names: string[];
  /** DIR of `npm install DIR/*.tgz`. */
  installDir: string;
}

/** The sh block of the README's `## Install` section, and its pack-all and npm install commands. */
function installCommands(readme: string, doc: string): InstallCommands {
  const start = readme.search(/^## Install\s*$/m);
  if (start < 0) throw new Error(`${doc} has no "## Install" section`);
  const rest = readme.slice(start + 1);
  const next = rest.search(/^## /m);
  const section = next < 0 ? rest : rest.slice(0, next);
  const block = extractBlocks(section, doc).find((b) => b.lang === 'sh');
  if (block === undefined) throw new Error(`${doc}: its Install section has no sh block`);
  const lines = block.code.split('\n').map((line) => line.replace(/\s+#.*$/, '').trim());
  const pack = lines.map((line) => /^pnpm pack-all (\S+)((?: [@a-z0-9/._-]+)+)$/.exec(line)).find((m) => m !== null);
  const install = lines.map((line) => /^npm install (\S+)\/\*\.tgz$/.exec(line)).find((m) => m !== null);
  if (!pack || !install) throw new Error(`${doc}: the Install block needs a "pnpm pack-all DIR PACKAGE..." line and an "npm install DIR/*.tgz" line`);
  return { block, dir: pack[1] as string, names: (pack[2] as string).trim().split(' '), installDir: install[1] as string };
}

/** The first ts or js block of a README that is run as it is (not an excerpt of a test, not marked as not run). */
function firstExample(readme: string, doc: string): Block | undefined {
  return extractBlocks(readme, doc).find((b) => (b.lang === 'ts' || b.lang === 'js') && !b.notRun && !b.excerptOf);
}

/** The packages a module imports by name (`node:` built-ins and relative paths left out). */
function importedPackages(code: string): string[] {
  const found = new Set<string>();
  for (const m of code.matchAll(/\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm)) {
    const spec = (m[1] ?? m[2] ?? m[3]) as string;
    if (spec.startsWith('.') || spec.startsWith('node:')) continue;
    found.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string));
  }
  return [...found].sort();
}

interface Case {
  pkg: Publishable;
  doc: string;
  readme: string;
}

const cases: Case[] = publishable.map((pkg) => {
  const doc = `packages/${pkg.dir.split(/[\\/]/).pop() as string}/README.md`;
  return { pkg, doc, readme: readFileSync(join(pkg.dir, 'README.md'), 'utf8') };
});

interface Installed {
  written: Tarball[];
  project: string;
}

const installed = new Map<string, Installed>();
const failures = new Map<string, unknown>();
// Made in beforeAll, not when jest loads the file: a run that filters these tests out then leaves nothing behind.
let work = '';
const namespace = netnsUnavailableReason() ? undefined : `pnpack-${process.pid}`;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'peernet-readme-installs-'));
  // Every package's two commands; a failure is kept for that package's tests to report.
  await inParallel(
    cases.map((c) => async () => {
      try {
        const { names } = installCommands(c.readme, c.doc);
        const base = join(work, c.pkg.name.replace(/^@/, '').replace('/', '-'));
        const tarballDir = join(base, 'tarballs');
        const written = await packAll(tarballDir, names);
        const project = join(base, 'app');
        await installTarballs(project, tarballsIn(tarballDir));
        installed.set(c.pkg.name, { written, project });
      } catch (error) {
        failures.set(c.pkg.name, error);
      }
    }),
    3,
  );
  // The examples run where nothing they send can leave the machine: a namespace with only `lo`.
  if (namespace) {
    execFileSync('ip', ['netns', 'add', namespace]);
    execFileSync('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
  }
}, 600_000);

afterAll(() => {
  if (namespace) execFileSync('ip', ['netns', 'del', namespace]);
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

/** The install of `name`'s README commands, or the error it failed with. */
function installOf(name: string): Installed {
  const failure = failures.get(name);
  if (failure !== undefined) throw failure;
  const found = installed.get(name);
  if (found === undefined) throw new Error(`${name} was not installed`);
  return found;
}

it('covers every publishable package, and reads Install sections and examples as the READMEs write them', () => {
  expect(cases.map((c) => c.pkg.name)).toEqual(expect.arrayContaining(['peernet', '@peernet/rpc', '@peernet/identity', '@peernet/atomic-file']));
  const md = ['# x', '## Install', '<!-- not run: two places -->', '```sh', 'pnpm pack-all ~/p/x @peernet/x peernet   # in the clone', 'npm install ~/p/x/*.tgz', '```', '## Example', '```js', "import { a } from '@peernet/x';", "import { b } from 'node:fs';", "const c = await import('peernet');", '```'].join('\n');
  expect(installCommands(md, 'x.md')).toEqual(
    expect.objectContaining({ dir: '~/p/x', names: ['@peernet/x', 'peernet'], installDir: '~/p/x' }),
  );
  expect(importedPackages(firstExample(md, 'x.md')?.code ?? '')).toEqual(['@peernet/x', 'peernet']);
  expect(() => installCommands('# x\n## API\n', 'x.md')).toThrow('x.md has no "## Install" section');
});

describe.each(cases.map((c) => [c.pkg.name, c] as const))('%s, installed alone from its tarballs', (name, c) => {
  it('its README says how: pnpm pack-all DIR <this package>, then npm install DIR/*.tgz (marked not run: it spans two places)', () => {
    const commands = installCommands(c.readme, c.doc);
    expect(commands.names[0]).toBe(name);
    expect(commands.installDir).toBe(commands.dir);
    expect(commands.block.notRun).toEqual(expect.any(String));
  });

  it('pack-all is told exactly the packages its example imports beyond this one and what it depends on', () => {
    const example = firstExample(c.readme, c.doc);
    expect(example).toBeDefined();
    const imports = importedPackages(example?.code ?? '');
    expect(imports).toContain(name);
    const own = closure([name]);
    const beyond = imports.filter((i) => !own.includes(i));
    expect(installCommands(c.readme, c.doc).names.slice(1).sort()).toEqual(beyond);
    // Everything imported is a PeerNet package, so that the test's install is all the example needs.
    expect(imports.filter((i) => !byName.has(i))).toEqual([]);
  });

  it('installs exactly the named packages and the @peernet packages they depend on, each from its own tarball', () => {
    const { written, project } = installOf(name);
    const expected = closure(installCommands(c.readme, c.doc).names);
    expect(written.map((w) => w.name).sort()).toEqual(expected);
    const fromLock = installedWorkspacePackages(project);
    expect([...fromLock.keys()].sort()).toEqual(expected.map((n) => `node_modules/${n}`).sort());
    for (const [path, resolved] of fromLock) {
      expect({ path, resolved }).toEqual({ path, resolved: expect.stringMatching(/^file:.*\.tgz$/) });
    }
    expect(existsSync(join(project, 'node_modules', 'peernet'))).toBe(expected.includes('peernet'));
    // Native modules are optional: only the native provider's install and the DHT's (hyperdht's own) bring one.
    const native = expected.includes('@peernet/crypto-sodium') || expected.includes('@peernet/transport-dht');
    expect(existsSync(join(project, 'node_modules', 'sodium-native'))).toBe(native);
  });

  it('runs the README example with plain node in that project', async () => {
    const { project } = installOf(name);
    const example = firstExample(c.readme, c.doc) as Block;
    // A TypeScript example loses its types first, as tsx or node's type stripping would do.
    const code =
      example.lang === 'ts'
        ? transformSync(example.code, { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' }, isModule: true }).code
        : example.code;
    await writeFile(join(project, 'example.mjs'), code);
    const argv = [process.execPath, 'example.mjs'];
    const result: Outcome = await outcome(namespace ? 'ip' : (argv[0] as string), namespace ? ['netns', 'exec', namespace, ...argv] : argv.slice(1), {
      cwd: project,
      ms: 60_000,
    });
    expect({ example: `${c.doc}:${example.line}`, ...result }).toEqual({
      example: `${c.doc}:${example.line}`,
      code: 0,
      stdout: result.stdout,
      stderr: result.stderr,
    });
  }, 90_000);
});
