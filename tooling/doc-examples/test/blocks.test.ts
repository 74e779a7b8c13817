import { blockFileName, extractBlocks } from './blocks.js';

describe('extractBlocks', () => {
  it('finds fenced blocks with their language, line, markers', () => {
    const md = [
      '# Title',
      '```ts',
      'const a = 1;',
      '```',
      '<!-- not run: needs a phone -->',
      '```sh',
      'scan',
      '```',
      '```ts',
      '// excerpt of packages/x/test/y.test.ts',
      'it("works")',
      '```',
      '```',
      'plain',
      '```',
    ].join('\n');
    expect(extractBlocks(md, 'docs/x.md')).toEqual([
      { doc: 'docs/x.md', line: 2, lang: 'ts', code: 'const a = 1;\n' },
      { doc: 'docs/x.md', line: 6, lang: 'sh', code: 'scan\n', notRun: 'needs a phone' },
      { doc: 'docs/x.md', line: 9, lang: 'ts', code: 'it("works")\n', excerptOf: 'packages/x/test/y.test.ts' },
      { doc: 'docs/x.md', line: 13, lang: '', code: 'plain\n' },
    ]);
  });

  it('refuses an unclosed block', () => {
    expect(() => extractBlocks('```ts\nx\n', 'README.md')).toThrow('README.md:1: code block is never closed');
  });

  it('names files after the document and line', () => {
    const [block] = extractBlocks('\n```ts\n```\n', 'packages/rpc/README.md');
    expect(blockFileName(block!, 'mjs')).toBe('packages-rpc-README-L2.mjs');
  });
});
