import { renderComment } from '../src/comment.js';
import { generateApiDocs, Slugger, type PackageInput } from '../src/generate.js';
import { displayText, members, parseStatement, splitStatements } from '../src/scan.js';
import { staleFiles } from '../src/workspace.js';

function pkg(dir: string, files: Record<string, string>, name = `@peernet/${dir}`): PackageInput {
  return { dir, name, description: `The ${dir} package.`, files };
}

/** The markdown section of `name` on a page: from its heading to the next one. */
function section(page: string, heading: string): string {
  const start = page.indexOf(`\n## ${heading}\n`);
  if (start === -1) throw new Error(`no section ${heading} in:\n${page}`);
  const end = page.indexOf('\n## ', start + 1);
  return page.slice(start + 1, end === -1 ? undefined : end);
}

const noLinks = (): undefined => undefined;

describe('scanning declaration files', () => {
  it('splits statements at top-level semicolons and block ends, keeping each doc comment', () => {
    const source = [
      "import { type X } from './x.js';",
      '/** A. */',
      'export declare const a = "x;y";',
      '/** Not attached: a plain comment follows. */',
      '/* plain */',
      'export declare const b: `${string};${number}`;',
      '/** I. */',
      'export interface I {',
      '    /** m. */',
      '    m(o: { a: string; b: number }): void;',
      '}',
      'export type T = {',
      '    a: string;',
      '};',
      'export {};',
      '//# sourceMappingURL=index.d.ts.map',
    ].join('\n');
    const statements = splitStatements(source);
    expect(statements.map((s) => [s.doc, s.text.split('\n')[0]])).toEqual([
      [undefined, "import { type X } from './x.js';"],
      ['/** A. */', 'export declare const a = "x;y";'],
      [undefined, 'export declare const b: `${string};${number}`;'],
      ['/** I. */', 'export interface I {'],
      [undefined, 'export type T = {'],
      [undefined, 'export {};'],
    ]);
    expect(statements.map((s) => parseStatement(s.text))).toEqual([
      { type: 'import', specifiers: [{ name: 'X', alias: 'X' }], from: './x.js', namespace: undefined, defaultName: undefined },
      { type: 'declaration', keyword: 'const', name: 'a', exported: true, modifiers: ['export', 'declare'] },
      { type: 'declaration', keyword: 'const', name: 'b', exported: true, modifiers: ['export', 'declare'] },
      { type: 'declaration', keyword: 'interface', name: 'I', exported: true, modifiers: ['export'] },
      { type: 'declaration', keyword: 'type', name: 'T', exported: true, modifiers: ['export'] },
      { type: 'export-local', specifiers: [], typeOnly: false },
    ]);
  });

  it('lists class members and hides private, protected and #private ones from the display', () => {
    const text = [
      'export declare class C<T extends { k: 1 }> extends Base<{ b: 2 }> {',
      '    #private;',
      '    private constructor();',
      '    /** Made by `create`. */',
      '    static create(): C<{ k: 1 }>;',
      '    /** Internal hook. */',
      '    protected hook(): void;',
      '    /** The value. */',
      '    get value(): T;',
      '}',
    ].join('\n');
    const [statement] = splitStatements(text);
    expect(members(text, 'class').map((m) => m.text)).toEqual([
      '#private;',
      'private constructor();',
      'static create(): C<{ k: 1 }>;',
      'protected hook(): void;',
      'get value(): T;',
    ]);
    expect(displayText(statement!, 'class')).toBe(
      [
        'class C<T extends { k: 1 }> extends Base<{ b: 2 }> {',
        '    /** Made by `create`. */',
        '    static create(): C<{ k: 1 }>;',
        '    /** The value. */',
        '    get value(): T;',
        '}',
      ].join('\n'),
    );
  });
});

describe('rendering doc comments', () => {
  it('renders @param, @returns, @throws and @example as labelled sections', () => {
    const comment = [
      '/**',
      ' * Opens `path`; see {@link close} and {@link Other.method | the other one}.',
      ' *',
      ' * @param path - where the file is',
      ' * @param options - how to open it,',
      ' *   spanning two lines',
      ' * @returns the handle',
      ' * @throws {@link NotFoundError} when `path` is missing',
      ' * @throws `EACCES` when it is not readable',
      ' * @example',
      " * const h = open('x');",
      ' * @deprecated use `openFile`',
      ' */',
    ].join('\n');
    const links: Record<string, string> = { close: '#close', NotFoundError: 'errors.md#notfounderror' };
    expect(renderComment(comment, (name) => links[name])).toBe(
      [
        'Opens `path`; see [`close`](#close) and the other one.',
        '',
        '**Parameters**',
        '',
        '- `path` — where the file is',
        '- `options` — how to open it,',
        '    spanning two lines',
        '',
        '**Returns:** the handle',
        '',
        '**Throws:**',
        '',
        '- [`NotFoundError`](errors.md#notfounderror) when `path` is missing',
        '- `EACCES` when it is not readable',
        '',
        '**Deprecated:** use `openFile`',
        '',
        '**Example**',
        '',
        '```ts',
        "const h = open('x');",
        '```',
      ].join('\n'),
    );
  });

  it('takes a package name at the start of a line for text, not a tag', () => {
    expect(renderComment('/**\n * Types shared with\n * @peernet/interface users.\n */', noLinks)).toBe('Types shared with\n@peernet/interface users.');
  });

  it('keeps a one-line comment as it is', () => {
    expect(renderComment('/** The `code` of a Node system error, if any. */', noLinks)).toBe('The `code` of a Node system error, if any.');
  });
});

describe('generating pages', () => {
  const base = pkg('base', {
    'dist/index.d.ts': [
      "export { Thing, type ThingOptions } from './thing.js';",
      "export * from './more.js';",
      '/** Base-level constant. */',
      'export declare const LIMIT = 3;',
    ].join('\n'),
    'dist/thing.d.ts': [
      '/** Options of {@link Thing}. */',
      'export interface ThingOptions {',
      '    /** How many. */',
      '    count: number;',
      '}',
      '/** Shared logic. */',
      'declare abstract class Core {',
      '    #private;',
      '    /** Closes it. */',
      '    close(): void;',
      '}',
      '/** A thing. */',
      'export declare class Thing extends Core {',
      '    /** Makes one. */',
      '    constructor(options: ThingOptions);',
      '}',
      'export {};',
    ].join('\n'),
    'dist/more.d.ts': [
      '/** Parses text. */',
      'export declare function parse(text: string): number;',
      'export declare function parse(bytes: Uint8Array): number;',
      'export declare const undocumented: number;',
    ].join('\n'),
  });
  const top = pkg(
    'top',
    {
      'dist/index.d.ts': [
        "import { helper } from './helper.js';",
        "export type { ThingOptions as Options } from '@peernet/mid';",
        "export * from '@peernet/base';",
        'export { helper };',
      ].join('\n'),
      'dist/helper.d.ts': ['/**', ' * Helps.', ' * @param n - a number', ' */', 'export declare function helper(n: number): void;'].join('\n'),
    },
    'top',
  );
  const mid = pkg('mid', { 'dist/index.d.ts': "export type { ThingOptions } from '@peernet/base';" });
  const docs = generateApiDocs([top, mid, base]);

  it('lists the exports in the order of the entry point, following local re-exports and export *', () => {
    const page = docs.files['base.md'] as string;
    expect(page).toContain(
      [
        '## Contents',
        '',
        '- [`Thing`](#thing) — class',
        '- [`ThingOptions`](#thingoptions) — interface',
        '- [`parse`](#parse) — function',
        '- [`undocumented`](#undocumented) — const',
        '- [`LIMIT`](#limit) — const',
      ].join('\n'),
    );
    expect(section(page, '`ThingOptions`')).toBe(
      [
        '## `ThingOptions`',
        '',
        '*interface* · [src/thing.ts](../../packages/base/src/thing.ts)',
        '',
        'Options of [`Thing`](#thing).',
        '',
        '```ts',
        'interface ThingOptions {',
        '    /** How many. */',
        '    count: number;',
        '}',
        '```',
        '',
      ].join('\n'),
    );
  });

  it('shows overloads together and the members a class inherits from an unexported base', () => {
    const page = docs.files['base.md'] as string;
    expect(section(page, '`parse`')).toContain(
      ['```ts', 'function parse(text: string): number;', 'function parse(bytes: Uint8Array): number;', '```'].join('\n'),
    );
    expect(section(page, '`Thing`')).toContain(
      [
        'A thing.',
        '',
        '```ts',
        'class Thing extends Core {',
        '    /** Makes one. */',
        '    constructor(options: ThingOptions);',
        '}',
        '```',
        '',
        'Inherits from `Core`, which the package does not export:',
        '',
        '```ts',
        'abstract class Core {',
        '    /** Closes it. */',
        '    close(): void;',
        '}',
        '```',
      ].join('\n'),
    );
  });

  it('links names and wholesale re-exports of other packages to their pages instead of repeating them', () => {
    const page = docs.files['top.md'] as string;
    expect(section(page, '`Options`')).toBe(
      '## `Options`\n\nRe-exported from [`@peernet/base`](base.md#thingoptions) (as `ThingOptions`).\n',
    );
    expect(section(page, 'Everything from `@peernet/base`')).toBe(
      '## Everything from `@peernet/base`\n\nEvery export of [`@peernet/base`](base.md) is exported here too: ' +
        '[`Thing`](base.md#thing), [`ThingOptions`](base.md#thingoptions), [`parse`](base.md#parse), ' +
        '[`undocumented`](base.md#undocumented), [`LIMIT`](base.md#limit).\n',
    );
    expect(section(page, '`helper`')).toContain('Helps.\n\n**Parameters**\n\n- `n` — a number\n\n```ts\nfunction helper(n: number): void;\n```');
    expect(docs.files['mid.md']).toContain('Re-exported from [`@peernet/base`](base.md#thingoptions).');
  });

  it('writes an index with one line per package, sorted by name', () => {
    expect(docs.files['README.md']).toContain(
      [
        '- [`@peernet/base`](base.md) — The base package.',
        '- [`@peernet/mid`](mid.md) — The mid package.',
        '- [`top`](top.md) — The top package.',
      ].join('\n'),
    );
    expect(Object.keys(docs.files).sort()).toEqual(['README.md', 'base.md', 'mid.md', 'top.md']);
  });

  it('reports exports without a doc comment and nothing else', () => {
    expect(docs.undocumented).toEqual(['@peernet/base: undocumented (packages/base/src/more.ts)']);
    expect(docs.problems).toEqual([]);
  });

  it('is deterministic: the order of the input does not matter', () => {
    expect(generateApiDocs([base, mid, top])).toEqual(docs);
  });

  it('reports what it cannot follow', () => {
    const broken = pkg('broken', {
      'dist/index.d.ts': ["export { gone } from './missing.js';", "export { x } from 'elsewhere';", "export { y } from './present.js';"].join('\n'),
      'dist/present.d.ts': 'export declare const z = 1;',
    });
    expect(generateApiDocs([broken]).problems).toEqual([
      "@peernet/broken: dist/index.d.ts imports './missing.js', which has no declaration file",
      "@peernet/broken: cannot find the declaration of 'gone' exported by dist/index.d.ts",
      "@peernet/broken: dist/index.d.ts re-exports from 'elsewhere', which is not a package of this workspace",
      "@peernet/broken: cannot find the declaration of 'x' exported by dist/index.d.ts",
      "@peernet/broken: cannot find the declaration of 'y' exported by dist/index.d.ts",
    ]);
  });
});

describe('heading anchors', () => {
  it('follow GitHub: punctuation dropped, underscores kept, repeats numbered', () => {
    const slugger = new Slugger();
    expect(['`@peernet/noise`', '`MAX_MESSAGE_LENGTH`', '`peernet`', '`PeerNet`', 'Everything from `@peernet/interface`'].map((h) => slugger.slug(h))).toEqual([
      'peernetnoise',
      'max_message_length',
      'peernet',
      'peernet-1',
      'everything-from-peernetinterface',
    ]);
  });
});

describe('comparing with the committed files', () => {
  it('names changed, missing and extra files', () => {
    expect(staleFiles({ 'a.md': 'x', 'b.md': 'y', 'old.md': 'z' }, { 'a.md': 'x', 'b.md': 'y2', 'new.md': 'w' })).toEqual(['b.md', 'new.md', 'old.md']);
    expect(staleFiles({ 'a.md': 'x' }, { 'a.md': 'x' })).toEqual([]);
  });
});
