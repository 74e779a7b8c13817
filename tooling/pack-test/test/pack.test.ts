import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { extractBlocks } from '../../doc-examples/test/blocks.js';
import {
  type Manifest,
  type Run,
  cleanEnv,
  installTarballs,
  installedWorkspacePackages,
  outcome,
  packAll,
  publishable,
  root,
  run,
  tarballsIn,
} from './helpers.js';

// Packs every package under packages/ with `pnpm pack-all` (as a user of a
// clone does; the script runs `pnpm pack`, which rewrites workspace: ranges as
// `changeset publish` would), checks what each tarball holds, then installs
// the tarballs with npm into fresh projects outside the repository and runs
// small ESM programs there (scenarios/), as getting-started tells users to.
// The @peernet packages are not on any registry: every one of them must come
// from a local tarball. Their third-party dependencies come from npm's
// configured registry (or its cache).

const scenarios = join(__dirname, '..', 'scenarios');
const hasLicense = existsSync(join(root, 'LICENSE'));

interface Packed {
  name: string;
  dir: string;
  manifest: Manifest;
  tarball: string;
  /** Paths inside the tarball, without the leading `package/`. */
  files: string[];
  /** Where the tarball was extracted (its `package/` directory). */
  extracted: string;
  packedManifest: Manifest;
}

/** getting-started's two Install blocks: the one run in the clone, and the one that makes a project. */
const gettingStarted = (() => {
  const blocks = extractBlocks(readFileSync(join(root, 'docs', 'getting-started.md'), 'utf8'), 'docs/getting-started.md');
  const clone = blocks.find((b) => b.lang === 'sh' && b.code.includes('pnpm pack-all'));
  const project = blocks.find((b) => b.lang === 'sh' && b.code.includes('npm init'));
  const first = blocks.find((b) => b.lang === 'ts' && !b.notRun && !b.excerptOf);
  if (!clone || !project || !first) throw new Error('docs/getting-started.md: Install blocks or a first example not found');
  return { clone, project, first };
})();

/**
 * Runs a documented shell block as its reader would, in `cwd`, with this
 * test's directory standing in for the documentation's ~/peernet-packages.
 * npm is kept quiet and uses its cache where it can.
 */
function runAsUser(script: string, cwd: string): Promise<Run> {
  const env = cleanEnv({ npm_config_audit: 'false', npm_config_fund: 'false', npm_config_loglevel: 'error', npm_config_prefer_offline: 'true' });
  return run('bash', ['-euo', 'pipefail', '-c', script.replaceAll('~/peernet-packages', tarballs)], { cwd, ms: 240_000, env });
}

const packed = new Map<string, Packed>();
let work = '';
let tarballs = '';

/** The last line of a scenario's output, which is its JSON report. */
function report(output: Run): Record<string, unknown> {
  const lines = output.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] as string) as Record<string, unknown>;
}

/** Every `@peernet/*` and `peernet` package that `names` need at run time, `names` included. */
function closure(names: readonly string[]): Set<string> {
  const found = new Set<string>();
  const visit = (name: string): void => {
    if (found.has(name)) return;
    const p = packed.get(name);
    if (p === undefined) throw new Error(`${name} is not a publishable workspace package`);
    found.add(name);
    for (const dep of Object.keys(p.packedManifest.dependencies ?? {})) {
      if (packed.has(dep)) visit(dep);
    }
  };
  names.forEach(visit);
  return found;
}

/**
 * Type-checks `file` (copied from scenarios/) in `dir` with the repository's
 * tsc against the installed declarations, together with a module that
 * re-exports every installed workspace package, so each package's whole
 * declared surface must resolve from the install alone.
 */
async function typecheck(dir: string, file: string): Promise<void> {
  await copyFile(join(scenarios, file), join(dir, file));
  const names = [...installedWorkspacePackages(dir).keys()].map((path) => path.slice('node_modules/'.length)).sort();
  await writeFile(
    join(dir, 'entry-points.ts'),
    names.map((name, i) => `export * as package${i} from '${name}';\n`).join(''),
  );
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      lib: ['ES2022'],
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noEmit: true,
      // The packages' own .d.ts files are checked too, not only their use.
      skipLibCheck: false,
      types: ['node'],
      // A user brings their own @types/node; the repository's stands in for it.
      typeRoots: [dirname(dirname(require.resolve('@types/node/package.json')))],
    },
    files: [file, 'entry-points.ts'],
  };
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
  const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
  await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir, ms: 120_000 });
}

/** Copies a scenario into `dir` and runs it with node; returns its JSON report. */
async function scenario(dir: string, file: string): Promise<Record<string, unknown>> {
  await copyFile(join(scenarios, file), join(dir, file));
  return report(await run(process.execPath, [file], { cwd: dir, ms: 60_000 }));
}

/** The module specifiers a built .js or .d.ts file imports or re-exports (comments are skipped). */
function specifiers(code: string): string[] {
  const text = code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm)) {
    found.push((m[1] ?? m[2] ?? m[3]) as string);
  }
  return found;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'peernet-pack-'));
  // The documentation's ~/peernet-packages, with this directory as ~.
  tarballs = join(work, 'peernet-packages');
  // The documented command itself: it builds what is not built, then packs.
  const written = await packAll(tarballs, [], { viaPnpm: true });
  for (const p of publishable) {
    const entry = written.find((w) => w.name === p.name);
    if (entry === undefined) throw new Error(`pnpm pack-all wrote no tarball of ${p.name}`);
    const tarball = entry.tarball;
    const listing = await run('tar', ['-tzf', tarball], { cwd: work, ms: 30_000 });
    const files = listing.stdout
      .split('\n')
      .filter((line) => line !== '' && !line.endsWith('/'))
      .map((line) => line.replace(/^package\//, ''))
      .sort();
    const into = join(work, 'extracted', p.name);
    await mkdir(into, { recursive: true });
    await run('tar', ['-xzf', tarball, '-C', into], { cwd: work, ms: 30_000 });
    const extracted = join(into, 'package');
    const packedManifest = JSON.parse(await readFile(join(extracted, 'package.json'), 'utf8')) as Manifest;
    packed.set(p.name, { ...p, tarball, files, extracted, packedManifest });
  }
}, 300_000);

afterAll(async () => {
  if (work !== '') await rm(work, { recursive: true, force: true });
});

it('finds the publishable packages, and turbo builds them all before this test', () => {
  expect(publishable.map((p) => p.name)).toEqual(expect.arrayContaining(['peernet', '@peernet/identity', '@peernet/noise']));
  const own = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as Manifest;
  expect(Object.keys(own.devDependencies ?? {}).sort()).toEqual(publishable.map((p) => p.name).sort());
});

it('getting-started and the README give the commands this test runs: pnpm pack-all ~/peernet-packages, then npm install ~/peernet-packages/*.tgz', () => {
  expect(gettingStarted.clone.code).toMatch(/^pnpm pack-all ~\/peernet-packages(\s|$)/m);
  expect(gettingStarted.project.code).toMatch(/^npm init -y$/m);
  expect(gettingStarted.project.code).toMatch(/^npm pkg set type=module(\s|$)/m);
  expect(gettingStarted.project.code).toMatch(/^npm install ~\/peernet-packages\/\*\.tgz$/m);
  const readme = extractBlocks(readFileSync(join(root, 'README.md'), 'utf8'), 'README.md').find((b) => b.code.includes('pnpm pack-all'));
  expect(readme?.code).toMatch(/^pnpm pack-all ~\/peernet-packages\s.*\nnpm install ~\/peernet-packages\/\*\.tgz\s/m);
});

it('pnpm pack-all DIR writes one tarball per publishable package into DIR, and nothing else', () => {
  expect(tarballsIn(tarballs)).toEqual([...packed.values()].map((p) => p.tarball).sort());
  expect(tarballsIn(tarballs)).toHaveLength(publishable.length);
  for (const p of packed.values()) expect(dirname(p.tarball)).toBe(tarballs);
});

it('reads imports the way the checks below need: peernet’s build imports its layers and its own modules', () => {
  const peernet = packed.get('peernet') as Packed;
  const seen = peernet.files
    .filter((f) => /^dist\/.*\.(js|d\.ts)$/.test(f))
    .flatMap((f) => specifiers(readFileSync(join(peernet.extracted, f), 'utf8')));
  expect(seen).toEqual(expect.arrayContaining(['@peernet/interface', '@peernet/rpc', '@peernet/identity', './node.js']));
  expect(specifiers('/* import x from "a" */\n// import y from "b"\nexport { z } from \'c\';\nconst m = import(\'d\');')).toEqual(['c', 'd']);
});

describe.each(publishable.map((p) => [p.name]))('tarball of %s', (name) => {
  const get = (): Packed => packed.get(name) as Packed;

  it('holds the build, the sources its maps point at, README, changelog and manifest, and nothing else', () => {
    const { files } = get();
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts']));
    if (hasLicense) expect(files).toContain('LICENSE');
    const unexpected = files.filter(
      (f) => !/^(dist|src)\//.test(f) && !['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE'].includes(f),
    );
    expect(unexpected).toEqual([]);
    const junk = files.filter(
      (f) => /\.tsbuildinfo$|(^|\/)\.tsbuildinfo$|\.test\.|(^|\/)test\/|jest\.config|tsconfig|test-results/.test(f),
    );
    expect(junk).toEqual([]);
  });

  it('has no stale build output: every module has its declarations and its source', () => {
    const { files } = get();
    const stale = files
      .filter((f) => f.startsWith('dist/') && f.endsWith('.js'))
      .flatMap((f) => {
        const base = f.slice('dist/'.length, -'.js'.length);
        return [`dist/${base}.d.ts`, `src/${base}.ts`].filter((needed) => !files.includes(needed)).map((m) => `${f} without ${m}`);
      });
    expect(stale).toEqual([]);
  });

  it('is self-contained: relative imports, source maps and declaration maps resolve inside it', () => {
    const { files, extracted } = get();
    const dangling: string[] = [];
    for (const f of files) {
      const text = (): string => readFileSync(join(extracted, f), 'utf8');
      if (f.endsWith('.map')) {
        const map = JSON.parse(text()) as { sources: string[] };
        for (const source of map.sources) {
          const target = posix.normalize(posix.join(posix.dirname(f), source));
          if (!files.includes(target)) dangling.push(`${f} → ${source}`);
        }
      } else if (/^dist\/.*\.(js|d\.ts)$/.test(f)) {
        for (const spec of specifiers(text()).filter((s) => s.startsWith('.'))) {
          let target = posix.normalize(posix.join(posix.dirname(f), spec));
          if (f.endsWith('.d.ts')) target = target.replace(/\.js$/, '.d.ts');
          if (!files.includes(target)) dangling.push(`${f} → ${spec}`);
        }
      }
    }
    expect(dangling).toEqual([]);
  });

  it('declares every package its build imports, as a dependency', () => {
    const { files, extracted, packedManifest } = get();
    const declared = new Set([
      ...Object.keys(packedManifest.dependencies ?? {}),
      ...Object.keys(packedManifest.peerDependencies ?? {}),
    ]);
    const undeclared = new Set<string>();
    for (const f of files.filter((x) => /^dist\/.*\.(js|d\.ts)$/.test(x))) {
      const text = readFileSync(join(extracted, f), 'utf8');
      for (const spec of specifiers(text)) {
        if (spec.startsWith('.') || spec.startsWith('node:')) continue;
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string);
        if (pkg !== name && !declared.has(pkg)) undeclared.add(`${f}: ${pkg}`);
      }
    }
    expect([...undeclared]).toEqual([]);
  });

  it('has a manifest with real version ranges and entry points that exist', () => {
    const { manifest, packedManifest, files } = get();
    expect(JSON.stringify(packedManifest)).not.toContain('workspace:');
    for (const [dep, range] of Object.entries(packedManifest.dependencies ?? {})) {
      const internal = packed.get(dep);
      if (internal) expect({ dep, range }).toEqual({ dep, range: `^${internal.manifest.version}` });
      else expect({ dep, range }).toEqual({ dep, range: manifest.dependencies?.[dep] });
    }
    expect(packedManifest.name).toBe(manifest.name);
    expect(packedManifest.version).toBe(manifest.version);
    const entries = [packedManifest.types, packedManifest.main, ...Object.values(packedManifest.exports ?? {}).flatMap((e) => [e.types, e.default])]
      .filter((e): e is string => e !== undefined)
      .map((e) => posix.normalize(e));
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.filter((e) => !files.includes(e))).toEqual([]);
  });
});

describe('installed with npm into a fresh project', () => {
  let noiseOnly = '';
  let app = '';

  beforeAll(async () => {
    noiseOnly = join(work, 'noise-only');
    // getting-started's project block makes `my-app` in the working directory.
    app = join(work, 'my-app');
    // identity + noise: `pnpm pack-all DIR @peernet/identity @peernet/noise`, as the package READMEs say.
    const some = join(work, 'identity-noise-tarballs');
    await packAll(some, ['@peernet/identity', '@peernet/noise']);
    // Independent projects: install both at once (npm's cache handles concurrent use).
    await Promise.all([installTarballs(noiseOnly, tarballsIn(some)), runAsUser(gettingStarted.project.code, work)]);
  }, 300_000);

  it.each([
    ['identity + noise', (): string => noiseOnly, ['@peernet/identity', '@peernet/noise']],
    ['getting-started (npm install ~/peernet-packages/*.tgz)', (): string => app, publishable.map((p) => p.name)],
  ])('%s: each workspace package comes from its tarball, once, at the top level', (_, dir, direct) => {
    const expected = [...closure(direct)].sort();
    const installed = installedWorkspacePackages(dir());
    expect([...installed.keys()].sort()).toEqual(expected.map((name) => `node_modules/${name}`));
    for (const [path, resolved] of installed) {
      const name = path.slice('node_modules/'.length);
      const p = packed.get(name) as Packed;
      expect({ name, resolved }).toEqual({ name, resolved: expect.stringMatching(/^file:.*\.tgz$/) });
      expect(readFileSync(join(dir(), path, 'package.json'), 'utf8')).toBe(readFileSync(join(p.extracted, 'package.json'), 'utf8'));
      expect(readFileSync(join(dir(), path, 'dist', 'index.js'), 'utf8')).toBe(readFileSync(join(p.dir, 'dist', 'index.js'), 'utf8'));
    }
  });

  it('identity + noise alone do not pull in the rest of PeerNet', () => {
    expect([...installedWorkspacePackages(noiseOnly).keys()].sort()).toEqual([
      'node_modules/@peernet/atomic-file',
      'node_modules/@peernet/identity',
      'node_modules/@peernet/interface',
      'node_modules/@peernet/noise',
    ]);
  });

  it('(a) identity + noise alone: a Noise XX handshake between two identities, then transport messages', async () => {
    const result = await scenario(noiseOnly, 'noise-only.mjs');
    expect(result).toEqual({
      protocol: 'Noise_XX_25519_ChaChaPoly_SHA256',
      alice: expect.stringMatching(/^[a-z2-7]{52}$/),
      bob: expect.stringMatching(/^[a-z2-7]{52}$/),
      hello: 'bob here',
      reply: 'alice here',
      received: 'first transport message',
      back: 'and back',
      ciphertextBytes: 'first transport message'.length + 16,
    });
    expect(result.alice).not.toBe(result.bob);
  }, 90_000);

  it('(a) identity + noise alone: the declarations type-check a TypeScript use of them', async () => {
    await typecheck(noiseOnly, 'noise-usage.ts');
  }, 150_000);

  it('(b) peernet: two nodes on 127.0.0.1 pair, connect, expose and call, refuse a stranger, and stop', async () => {
    const result = await scenario(app, 'two-nodes.mjs');
    expect(result).toEqual({
      greeting: 'hello alice from alice',
      sum: 42,
      unknownCode: 'no_such_handle',
      strangerCode: expect.any(String),
      peers: [{ label: 'bob', status: 'online' }],
    });
  }, 90_000);

  it('(b) peernet: the declarations type-check a TypeScript application', async () => {
    await typecheck(app, 'peernet-usage.ts');
  }, 150_000);

  it('(c) peernet over a custom transport written by the application (Unix domain sockets)', async () => {
    const result = await scenario(app, 'custom-transport.mjs');
    expect(result).toEqual({
      transport: 'unix',
      over: 'unix',
      n: 7,
      bytes: [1, 2, 3],
      fromAlice: true,
      dials: 1,
      accepted: 1,
    });
  }, 90_000);

  describe('TypeScript, run as getting-started says', () => {
    const troubleshooting = readFileSync(join(root, 'docs', 'troubleshooting.md'), 'utf8');
    const guide = readFileSync(join(root, 'docs', 'getting-started.md'), 'utf8');
    let commonjs = '';

    beforeAll(async () => {
      // tsx comes from the npm registry, as for any reader of the guide.
      await runAsUser('npm install -D tsx', app);
      await writeFile(join(app, 'first.ts'), gettingStarted.first.code);
      // The same program in a package without "type": "module".
      commonjs = join(app, 'commonjs');
      await mkdir(commonjs);
      await writeFile(join(commonjs, 'package.json'), '{ "name": "commonjs", "private": true }\n');
      await writeFile(join(commonjs, 'first.ts'), gettingStarted.first.code);
    }, 240_000);

    it('Node.js 20: npx tsx first.ts runs the guide’s first program in the project', async () => {
      const result = await run('npx', ['tsx', 'first.ts'], { cwd: app, ms: 60_000 });
      expect(result.stdout).toMatch(/^my id: [a-z2-7]{52}\nlistening on 127\.0\.0\.1:\d+\ntrue\n$/);
      expect(guide).toContain('`npx tsx first.ts`');
    }, 90_000);

    it('without "type": "module", tsx fails on the top-level await with the message the guide and troubleshooting quote', async () => {
      const message = 'Top-level await is currently not supported with the "cjs" output format';
      const result = await outcome(join(app, 'node_modules', '.bin', 'tsx'), ['first.ts'], { cwd: commonjs, ms: 60_000 });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(message);
      expect(guide.replace(/\s+/g, ' ')).toContain(message);
      expect(troubleshooting.replace(/\s+/g, ' ')).toContain(message);
    }, 90_000);

    (Number(process.versions.node.split('.')[0]) < 22 ? it : it.skip)(
      'Node.js 20: plain node refuses a .ts file with ERR_UNKNOWN_FILE_EXTENSION, as the guide and troubleshooting say',
      async () => {
        const result = await outcome(process.execPath, ['first.ts'], { cwd: app, ms: 60_000 });
        expect(result.code).not.toBe(0);
        expect(result.stderr).toContain('TypeError [ERR_UNKNOWN_FILE_EXTENSION]: Unknown file extension ".ts"');
        expect(guide).toContain('`ERR_UNKNOWN_FILE_EXTENSION`');
        expect(troubleshooting).toContain('Unknown file extension ".ts"');
      },
      90_000,
    );
  });
});
