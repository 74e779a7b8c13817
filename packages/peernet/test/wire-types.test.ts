import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { useTempDir } from '@peernet/compliance';

// The wire types are checked by the compiler, so they are tested by running
// it: test/types/wire-types.ts must compile as it is (every `@ts-expect-error`
// used), and with those directives taken out, each line they marked, and no
// other, must fail because of the wire types (not for some unrelated reason).

const repo = resolve(__dirname, '../../..');
const fixture = join(__dirname, 'types', 'wire-types.ts');
const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
const work = useTempDir('peernet-wire-types-');
const DIRECTIVE = '// @ts-expect-error';

interface Compiled {
  code: number | null;
  /** Error text by line number (1-based) of the checked file. */
  errors: Map<number, string>;
}

/** Type-checks `source` against the built declarations of the workspace packages. */
function compile(name: string, source: string): Promise<Compiled> {
  // .mts: an ES module, as the fixture is in its package.
  const file = join(work, `${name}.mts`);
  writeFileSync(file, source);
  const config = join(work, `${name}.tsconfig.json`);
  writeFileSync(
    config,
    JSON.stringify({
      extends: join(repo, 'tooling/tsconfig/base.json'),
      compilerOptions: {
        composite: false,
        declaration: false,
        declarationMap: false,
        noEmit: true,
        typeRoots: [dirname(dirname(require.resolve('@types/node/package.json')))],
        // The copy lives outside the repository: point the imports at what `pnpm build` wrote.
        paths: {
          peernet: [join(repo, 'packages/peernet/dist/index.d.ts')],
          '@peernet/*': [join(repo, 'packages/*/dist/index.d.ts')],
        },
      },
      files: [file],
    }),
  );
  return new Promise((done, fail) => {
    // Run in `work`: the compiler prints the file names relative to its working directory.
    execFile(process.execPath, [tsc, '-p', config, '--pretty', 'false'], { cwd: work, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return fail(error);
      const errors = new Map<number, string>();
      let line = 0;
      for (const text of `${stdout}${stderr}`.split('\n')) {
        const at = /^(.*)\((\d+),\d+\): error (.*)$/.exec(text);
        if (at) {
          if (resolve(work, at[1]!) !== file) return fail(new Error(`an error outside the fixture: ${text}`));
          line = Number(at[2]);
          errors.set(line, `${errors.get(line) ?? ''}${at[3]}\n`);
        } else if (line !== 0 && text.startsWith(' ')) {
          errors.set(line, `${errors.get(line)}${text}\n`);
        } else if (text.trim() !== '') {
          return fail(new Error(`unexpected compiler output: ${text}`));
        }
      }
      return done({ code: error ? (error.code as number) : 0, errors });
    });
  });
}

beforeAll(() => {
  for (const name of ['interface', 'connection', 'rpc', 'peernet']) {
    if (!existsSync(join(repo, 'packages', name, 'dist/index.d.ts'))) {
      throw new Error(`packages/${name} is not built: run pnpm build first`);
    }
  }
});

describe('wire types', () => {
  const source = readFileSync(fixture, 'utf8');
  const lines = source.split('\n');
  // The line after each directive is the one that must fail.
  const expected = lines.flatMap((text, i) => (text.trim().startsWith(DIRECTIVE) ? [i + 2] : []));

  it('has cases to check', () => {
    expect(expected.length).toBeGreaterThanOrEqual(20);
  });

  it('accept every wire value, and every refusal is one the fixture expects', async () => {
    const { code, errors } = await compile('as-written', source);
    expect([...errors.entries()]).toEqual([]);
    expect(code).toBe(0);
  });

  it('refuse exactly the lines marked, each because of the wire types', async () => {
    const stripped = lines.map((text) => text.replace(DIRECTIVE, '// (expected error)')).join('\n');
    const { errors } = await compile('stripped', stripped);
    expect([...errors.keys()].sort((a, b) => a - b)).toEqual(expected);
    for (const [line, text] of errors) {
      expect({ line: lines[line - 1]!.trim(), text }).toEqual({
        line: lines[line - 1]!.trim(),
        text: expect.stringMatching(/NotAWireValue|WireApi|WireValue/),
      });
    }
  });
});
