// Every code block of the READMEs, the cookbook and the getting-started guide,
// run as a user would run it (against the built packages, `pnpm test` builds
// first):
// - ts: type-checked against the packages' published types, then run;
// - js: run; sh: run by bash, with `peernet` being the built CLI;
// - json: parsed;
// - a block whose first line is `// excerpt of <path>` must appear verbatim in
//   that file, which the package's own tests run;
// - a block right below `<!-- not run: reason -->` is listed as skipped, with the reason.
// Each block runs in a fresh temp directory as its working directory. With
// root and iproute2 they run inside a network namespace that has only `lo`,
// so no example can send anything off this machine whatever it does.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { transformSync } from '@swc/core';
import { netnsUnavailableReason } from '@peernet/compliance';
import { blockFileName, extractBlocks, type Block } from './blocks.js';

const root = join(__dirname, '..', '..', '..');
const generated = join(__dirname, '..', '.generated');
const cli = join(root, 'apps', 'cli', 'dist', 'main.js');

const docs = [
  'README.md',
  ...['packages', 'apps'].flatMap((dir) =>
    readdirSync(join(root, dir))
      .map((name) => `${dir}/${name}/README.md`)
      .filter((path) => existsSync(join(root, path))),
  ),
  'docs/cookbook.md',
  'docs/getting-started.md',
];
const blocks = docs.flatMap((doc) => extractBlocks(readFileSync(join(root, doc), 'utf8'), doc));
const title = (b: Block): string => `${b.doc}:${b.line} (${b.lang || 'no language'})`;

const namespace = netnsUnavailableReason() ? undefined : `pndoc-${process.pid}`;
let typeErrors = '';

beforeAll(() => {
  rmSync(generated, { recursive: true, force: true });
  mkdirSync(join(generated, 'ts'), { recursive: true });
  mkdirSync(join(generated, 'run'), { recursive: true });
  const ts = blocks.filter((b) => b.lang === 'ts' && !b.notRun && !b.excerptOf);
  for (const b of ts) writeFileSync(join(generated, 'ts', blockFileName(b, 'ts')), b.code);
  writeFileSync(
    join(generated, 'tsconfig.json'),
    JSON.stringify({
      extends: '../../tsconfig/base.json',
      compilerOptions: { composite: false, noEmit: true, rootDir: '.', types: ['node'] },
      include: ['ts'],
    }),
  );
  // One compiler run for every block; each test then looks for its own file's errors.
  try {
    execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', join(generated, 'tsconfig.json')], { encoding: 'utf8' });
  } catch (error) {
    typeErrors = String((error as { stdout?: string }).stdout ?? error);
  }
  if (namespace) {
    execFileSync('ip', ['netns', 'add', namespace]);
    execFileSync('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
  }
}, 120_000);

afterAll(() => {
  if (namespace) execFileSync('ip', ['netns', 'del', namespace]);
});

interface Outcome {
  code: number | null;
  output: string;
}

/** Runs `command` in a fresh temp dir (inside the lo-only namespace when there is one). */
function run(command: string[], ms = 45_000): Promise<Outcome> {
  const cwd = mkdtempSync(join(tmpdir(), 'peernet-doc-'));
  const bin = join(cwd, '.bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'peernet'), `#!/bin/sh\nexec "${process.execPath}" "${cli}" "$@"\n`);
  chmodSync(join(bin, 'peernet'), 0o755);
  const env = { ...process.env, HOME: cwd, XDG_CONFIG_HOME: join(cwd, '.config'), PATH: `${bin}:${process.env.PATH}` };
  const argv = namespace ? ['ip', 'netns', 'exec', namespace, ...command] : command;
  return new Promise((resolve, reject) => {
    // Its own process group, so that whatever a block starts (a background
    // `peernet serve`) can be found and killed with it.
    const child = spawn(argv[0] as string, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const killGroup = (): boolean => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
        return true;
      } catch {
        return false; // nothing left in the group
      }
    };
    const timer = setTimeout(() => {
      killGroup();
      output += `\n[still running after ${ms} ms: killed]`;
    }, ms);
    child.once('error', reject);
    let exitCode: number | null = null;
    child.once('exit', (code) => {
      clearTimeout(timer);
      exitCode = code;
      // A block must clean up after itself: anything of its group still alive is a failure.
      if (killGroup()) {
        output += '\n[left processes running: killed]';
        if (exitCode === 0) exitCode = -1;
      }
    });
    // 'close' comes once the group's last holder of the pipes is gone.
    child.once('close', () => {
      rmSync(cwd, { recursive: true, force: true });
      resolve({ code: exitCode, output });
    });
  });
}

function transpile(b: Block): string {
  return transformSync(b.code, {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'es6' },
    isModule: true,
  }).code;
}

it('finds the blocks of every document', () => {
  expect(docs.filter((doc) => !existsSync(join(root, doc)))).toEqual([]);
  expect(blocks.length).toBeGreaterThan(20);
});

describe.each(blocks.map((b) => [title(b), b] as const))('%s', (_, block) => {
  if (block.notRun) {
    it.skip(`not run: ${block.notRun}`, () => undefined);
    return;
  }
  if (block.excerptOf) {
    it(`is an excerpt of ${block.excerptOf}`, () => {
      expect(readFileSync(join(root, block.excerptOf as string), 'utf8')).toContain(block.code);
    });
    return;
  }
  switch (block.lang) {
    case 'ts':
      it('type-checks', () => {
        const file = blockFileName(block, 'ts');
        const mine = typeErrors.split('\n').filter((line) => line.includes(file));
        expect(mine).toEqual([]);
      });
    // falls through: a ts block also runs
    case 'js':
      it('runs to a clean exit', async () => {
        const file = join(generated, 'run', blockFileName(block, 'mjs'));
        writeFileSync(file, block.lang === 'ts' ? transpile(block) : block.code);
        const outcome = await run([process.execPath, file]);
        expect({ where: relative(root, file), ...outcome }).toEqual({ where: relative(root, file), code: 0, output: outcome.output });
      });
      break;
    case 'sh':
      it('runs to a clean exit in bash', async () => {
        const file = join(generated, 'run', blockFileName(block, 'sh'));
        writeFileSync(file, block.code);
        const outcome = await run(['bash', '-euo', 'pipefail', file]);
        expect({ where: relative(root, file), ...outcome }).toEqual({ where: relative(root, file), code: 0, output: outcome.output });
      });
      break;
    case 'json':
      it('is valid JSON', () => {
        expect(() => JSON.parse(block.code)).not.toThrow();
      });
      break;
    default:
      it('has a language the test knows (ts, js, sh, json) or a not-run marker', () => {
        expect(block.lang).toMatch(/^(ts|js|sh|json)$/);
      });
  }
});
