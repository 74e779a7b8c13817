// `pnpm pack-all DIR [PACKAGE...]`: writes the npm tarball of every
// publishable package (or of the named ones and the workspace packages they
// need) into DIR, so that `npm install DIR/*.tgz` in any project installs
// them without a registry. `pnpm pack` rewrites `workspace:` ranges into the
// real versions, as a publish would.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { UsageError, buildQuietly, dependencyClosure, publishablePackages } from './workspace.mjs';

const USAGE = `usage: pnpm pack-all DIR [PACKAGE...] [--json] [--no-build]

Builds the packages, then writes one npm tarball per publishable package into
DIR (created if missing). With PACKAGE names (e.g. @peernet/trust), only those
and the @peernet packages they depend on. Then, in any project:

  npm install DIR/*.tgz

  --json      print [{ name, version, tarball, dependencies }] instead of paths
  --no-build  pack what is built now (fails if a package is not built)
`;

const run = promisify(execFile);

/** Packs one package into `into` and returns the tarball's path. */
async function pack(p, into) {
  const { stdout } = await run('pnpm', ['pack', '--pack-destination', into, '--json'], {
    cwd: p.dir,
    shell: process.platform === 'win32',
    maxBuffer: 16 * 1024 * 1024,
  });
  return resolve(p.dir, JSON.parse(stdout).filename);
}

/**
 * Removes the files of `dist/` whose source in `src/` is gone: `tsc -b` never
 * deletes the output of a deleted or renamed module, and `pnpm pack` would
 * ship it. Returns their paths.
 */
function removeStaleOutput(p) {
  const removed = [];
  const dist = join(p.dir, 'dist');
  for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const base = /^(.*)\.(?:js|d\.ts)(?:\.map)?$/.exec(entry.name)?.[1];
    if (base === undefined) continue;
    const inDist = relative(dist, join(entry.parentPath ?? entry.path, base));
    if (!existsSync(join(p.dir, 'src', `${inDist}.ts`))) {
      const file = join(entry.parentPath ?? entry.path, entry.name);
      rmSync(file);
      removed.push(file);
    }
  }
  return removed;
}

/** The name `pnpm pack` gives a package's tarball: `@scope/name` → `scope-name-<version>.tgz`. */
function tarballName(p) {
  return `${p.name.replace(/^@/, '').replace('/', '-')}-${p.version}.tgz`;
}

async function main(argv) {
  const options = { json: { type: 'boolean' }, 'no-build': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } };
  // Checked here, so that the message is ours rather than node's parser's.
  const unknown = argv.find((a) => a.startsWith('-') && !['--json', '--no-build', '--help', '-h'].includes(a));
  if (unknown !== undefined) throw new UsageError(`unknown option ${unknown}`, { showUsage: true });
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [dir, ...names] = positionals;
  if (dir === undefined) throw new UsageError('missing DIR', { showUsage: true });
  // pnpm runs scripts from the clone's root; DIR means what it meant where the user typed it.
  const into = resolve(process.env.INIT_CWD ?? process.cwd(), dir);
  const all = publishablePackages();
  const selected = names.length === 0 ? all : dependencyClosure(all, names);

  // Other tarballs in DIR would be installed too by `npm install DIR/*.tgz`.
  mkdirSync(into, { recursive: true });
  const ours = new Set(selected.map(tarballName));
  const others = readdirSync(into).filter((f) => f.endsWith('.tgz') && !ours.has(f));
  if (others.length > 0) {
    throw new UsageError(
      `${into} already holds other tarballs (${others.join(', ')}), which npm install ${join(dir, '*.tgz')} would install too; use an empty directory`,
    );
  }

  if (!values['no-build']) buildQuietly(selected.map((p) => p.name));
  const unbuilt = selected.filter((p) => !existsSync(join(p.dir, 'dist', 'index.js'))).map((p) => p.name);
  if (unbuilt.length > 0) throw new Error(`not built: ${unbuilt.join(', ')} (run pnpm build, or leave out --no-build)`);
  for (const file of selected.flatMap(removeStaleOutput)) {
    process.stderr.write(`pack-all: removed ${relative(process.cwd(), file)} (its source is gone)\n`);
  }
  const written = [];
  // A few at a time: each pack is a short pnpm process.
  const queue = [...selected];
  const worker = async () => {
    for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
      const tarball = await pack(p, into);
      if (basename(tarball) !== tarballName(p)) throw new Error(`pnpm pack wrote ${tarball}, expected ${tarballName(p)}`);
      written.push({ name: p.name, version: p.version, tarball, dependencies: p.dependencies });
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  written.sort((a, b) => a.name.localeCompare(b.name));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(written, null, 2)}\n`);
  } else {
    const here = process.env.INIT_CWD ?? process.cwd();
    for (const w of written) {
      const shorter = relative(here, w.tarball);
      process.stdout.write(`${shorter.startsWith('..') || isAbsolute(shorter) ? w.tarball : shorter}\n`);
    }
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`pack-all: ${error instanceof Error ? error.message : String(error)}\n`);
    if (error instanceof UsageError && error.showUsage) process.stderr.write(USAGE);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  },
);
