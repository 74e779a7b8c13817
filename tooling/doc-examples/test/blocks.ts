// Finding the code blocks of a markdown file, and what each one asks of the test.

/** A fenced code block of a markdown file. */
export interface Block {
  /** Repository-relative path of the markdown file. */
  readonly doc: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The fence's info string (`ts`, `js`, `sh`, `json`, or '' for none). */
  readonly lang: string;
  readonly code: string;
  /** Why the block is not run, from a `<!-- not run: reason -->` line right above the fence. */
  readonly notRun?: string;
  /** A repository file the block is an excerpt of, from a first line `// excerpt of <path>`. */
  readonly excerptOf?: string;
}

const NOT_RUN = /^<!--\s*not run:\s*(.+?)\s*-->$/;
const EXCERPT = /^\/\/ excerpt of (\S+)\s*$/;

/** Every fenced block of `markdown` (fences of three backticks, not indented). */
export function extractBlocks(markdown: string, doc: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i] as string);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i] as string);
    if (i === lines.length) throw new Error(`${doc}:${start + 1}: code block is never closed`);
    const notRun = NOT_RUN.exec((lines[start - 1] ?? '').trim())?.[1];
    const excerptOf = EXCERPT.exec(body[0] ?? '')?.[1];
    blocks.push({
      doc,
      line: start + 1,
      lang: open[1] as string,
      code: `${(excerptOf ? body.slice(1) : body).join('\n')}\n`,
      ...(notRun === undefined ? {} : { notRun }),
      ...(excerptOf === undefined ? {} : { excerptOf }),
    });
  }
  return blocks;
}

/** A file name for a block: its document's path and line, flattened. */
export function blockFileName(block: Block, extension: string): string {
  return `${block.doc.replace(/\.md$/, '').replace(/[^A-Za-z0-9]+/g, '-')}-L${block.line}.${extension}`;
}
