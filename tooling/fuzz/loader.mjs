// Module hooks for the campaign runner: load the packages' TypeScript sources
// and test-side targets directly, resolved the way the jest preset resolves
// them, so a campaign fuzzes the code in the working tree without a build.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { transformSync } from '@swc/core';

const root = new URL('../../', import.meta.url);

/** Maps `@peernet/x` and `peernet` to sources, and NodeNext `./x.js` imports of a .ts file to `./x.ts`. */
export async function resolve(specifier, context, next) {
  const workspace = /^@peernet\/([a-z0-9-]+)$/.exec(specifier);
  const source =
    workspace !== null
      ? new URL(`packages/${workspace[1]}/src/index.ts`, root)
      : specifier === 'peernet'
        ? new URL('packages/peernet/src/index.ts', root)
        : undefined;
  if (source !== undefined && existsSync(source)) return { url: source.href, shortCircuit: true };
  if (/^\.{1,2}\//.test(specifier) && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
    const ts = new URL(`${specifier.slice(0, -3)}.ts`, context.parentURL);
    if (existsSync(ts)) return { url: ts.href, shortCircuit: true };
  }
  return next(specifier, context);
}

/** Strips the types of .ts files with swc (the compiler the jest preset uses too). */
export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context);
  const filename = fileURLToPath(url);
  const { code } = transformSync(readFileSync(filename, 'utf8'), {
    filename,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  });
  return { format: 'module', source: code, shortCircuit: true };
}
