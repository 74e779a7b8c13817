// A scanner for the declaration files tsc emits: just enough structure
// (statements, their doc comments, class and interface members) to document
// them. Declaration files hold no expressions, so brackets, strings, template
// literal types and comments are all that can hide a `;` or a `}`.

/** One top-level statement of a declaration file, or one member of a class body. */
export interface Statement {
  /** The `/** *\/` comment right before it, verbatim, if any. */
  doc: string | undefined;
  /** The statement's text, from its first token to its terminator. */
  text: string;
  /** Offset of `text` in the scanned source. */
  start: number;
  /** Offset of the doc comment (or of `text` without one). */
  docStart: number;
}

/** If `source[i]` opens a string, template, or comment, the offset after it; otherwise -1. */
function skipOpaque(source: string, i: number): number {
  const c = source[i];
  const next = source[i + 1];
  if (c === '/' && next === '/') {
    const end = source.indexOf('\n', i);
    return end === -1 ? source.length : end;
  }
  if (c === '/' && next === '*') {
    const end = source.indexOf('*/', i + 2);
    return end === -1 ? source.length : end + 2;
  }
  if (c === '"' || c === "'") {
    let j = i + 1;
    while (j < source.length && source[j] !== c) j += source[j] === '\\' ? 2 : 1;
    return j + 1;
  }
  if (c === '`') {
    let j = i + 1;
    while (j < source.length && source[j] !== '`') {
      if (source[j] === '\\') j += 2;
      else if (source[j] === '$' && source[j + 1] === '{') j = skipBalanced(source, j + 1);
      else j++;
    }
    return j + 1;
  }
  return -1;
}

const OPEN = '{([';
const CLOSE = '})]';

/** `source[i]` is an opening bracket: the offset after its matching close. */
export function skipBalanced(source: string, i: number): number {
  let depth = 0;
  let j = i;
  while (j < source.length) {
    const skipped = skipOpaque(source, j);
    if (skipped !== -1) {
      j = skipped;
      continue;
    }
    const c = source[j] as string;
    if (OPEN.includes(c)) depth++;
    else if (CLOSE.includes(c)) {
      depth--;
      if (depth === 0) return j + 1;
    }
    j++;
  }
  return source.length;
}

const MODIFIERS = new Set(['export', 'default', 'declare', 'abstract', 'async', 'readonly', 'static', 'public', 'protected', 'private', 'override', 'accessor']);

/** The words of a statement's head that precede its name: modifiers, then the keyword. */
export function headWords(text: string): { modifiers: string[]; keyword: string; rest: string } {
  const modifiers: string[] = [];
  let rest = text;
  for (;;) {
    const match = /^([A-Za-z_$][\w$]*)\s*/.exec(rest);
    if (match === null) return { modifiers, keyword: '', rest };
    const word = match[1] as string;
    const after = rest.slice(match[0].length);
    // `const enum` is one keyword; a modifier followed by `(`, `:`, `?` or `<` is a member's name.
    if (word === 'const' && after.startsWith('enum')) {
      modifiers.push('const');
      rest = after;
      continue;
    }
    if (MODIFIERS.has(word) && /^[A-Za-z_$#[{*"']/.test(after)) {
      modifiers.push(word);
      rest = after;
      continue;
    }
    return { modifiers, keyword: word, rest: after };
  }
}

const BLOCK_KEYWORDS = new Set(['class', 'interface', 'enum', 'namespace', 'module', 'global']);

/**
 * Splits `source` (a whole file, or the inside of a class or interface body)
 * into statements, each with the doc comment right before it. A statement
 * ends at a `;` outside brackets, or at the `}` that closes a class,
 * interface, enum or namespace body (found past any type parameters and
 * heritage clauses); `separator` adds `,` (enum members).
 */
export function splitStatements(source: string, options: { separator?: ',' } = {}): Statement[] {
  const statements: Statement[] = [];
  let doc: { text: string; start: number } | undefined;
  let i = 0;
  while (i < source.length) {
    const c = source[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '/' && (source[i + 1] === '/' || source[i + 1] === '*')) {
      const end = skipOpaque(source, i);
      const comment = source.slice(i, end);
      if (comment.startsWith('/**') && comment !== '/**/') doc = { text: comment, start: i };
      else if (comment.startsWith('/*')) doc = undefined;
      i = end;
      continue;
    }
    if (c === ';' || c === ',') {
      i++;
      continue;
    }
    const start = i;
    let j = i;
    let end = source.length;
    const block = BLOCK_KEYWORDS.has(headWords(source.slice(start, start + 200)).keyword) ? bodyRange(source.slice(start)) : undefined;
    if (block !== undefined) j = end = start + block.close + 1;
    while (j < end) {
      const skipped = skipOpaque(source, j);
      if (skipped !== -1) {
        j = skipped;
        continue;
      }
      const ch = source[j] as string;
      if (ch === ';' || (ch === ',' && options.separator === ',')) {
        end = j + 1;
        break;
      }
      if (OPEN.includes(ch)) {
        j = skipBalanced(source, j);
        continue;
      }
      j++;
    }
    const text = source.slice(start, Math.min(end, source.length)).trim();
    statements.push({ doc: doc?.text, text, start, docStart: doc?.start ?? start });
    doc = undefined;
    i = end;
  }
  return statements;
}

/** What a top-level statement declares or does. */
export type Parsed =
  | { type: 'declaration'; keyword: string; name: string; exported: boolean; modifiers: string[] }
  | { type: 'export-from'; specifiers: Specifier[]; from: string; typeOnly: boolean }
  | { type: 'export-local'; specifiers: Specifier[]; typeOnly: boolean }
  | { type: 'export-star'; from: string; as: string | undefined }
  | { type: 'import'; specifiers: Specifier[]; from: string; namespace: string | undefined; defaultName: string | undefined }
  | { type: 'other' };

/** `name as alias` in an import or export list. */
export interface Specifier {
  name: string;
  alias: string;
}

function parseSpecifiers(list: string): Specifier[] {
  return list
    .split(',')
    .map((part) => part.trim().replace(/^type\s+/, ''))
    .filter((part) => part !== '')
    .map((part) => {
      const match = /^(\S+)(?:\s+as\s+(\S+))?$/.exec(part);
      const name = match?.[1] ?? part;
      return { name, alias: match?.[2] ?? name };
    });
}

const DECLARATION_KEYWORDS = new Set(['class', 'interface', 'type', 'function', 'const', 'let', 'var', 'enum', 'namespace', 'module']);

/** Classifies a top-level statement of a declaration file. */
export function parseStatement(text: string): Parsed {
  const exportFrom = /^export\s+(type\s+)?\{([^}]*)\}\s*from\s*['"]([^'"]+)['"]/.exec(text);
  if (exportFrom !== null) {
    return { type: 'export-from', specifiers: parseSpecifiers(exportFrom[2] as string), from: exportFrom[3] as string, typeOnly: exportFrom[1] !== undefined };
  }
  const exportLocal = /^export\s+(type\s+)?\{([^}]*)\}\s*;?$/.exec(text);
  if (exportLocal !== null) {
    return { type: 'export-local', specifiers: parseSpecifiers(exportLocal[2] as string), typeOnly: exportLocal[1] !== undefined };
  }
  const star = /^export\s+(?:type\s+)?\*\s*(?:as\s+([\w$]+)\s*)?from\s*['"]([^'"]+)['"]/.exec(text);
  if (star !== null) return { type: 'export-star', from: star[2] as string, as: star[1] };
  const imported = /^import\s+(?:type\s+)?(.*?)\s*from\s*['"]([^'"]+)['"]/s.exec(text);
  if (imported !== null) {
    const clause = imported[1] as string;
    const braces = /\{([^}]*)\}/.exec(clause);
    const namespace = /\*\s*as\s+([\w$]+)/.exec(clause)?.[1];
    const defaultName = /^([\w$]+)\s*(?:,|$)/.exec(clause)?.[1];
    return { type: 'import', specifiers: braces ? parseSpecifiers(braces[1] as string) : [], from: imported[2] as string, namespace, defaultName };
  }
  const { modifiers, keyword, rest } = headWords(text);
  if (DECLARATION_KEYWORDS.has(keyword)) {
    const name = /^([A-Za-z_$][\w$]*)/.exec(rest)?.[1];
    if (name !== undefined) return { type: 'declaration', keyword, name, exported: modifiers.includes('export'), modifiers };
  }
  return { type: 'other' };
}

/** The body of a class, interface or enum statement: offsets of its braces' inside. */
export function bodyRange(text: string): { open: number; close: number } | undefined {
  let j = 0;
  let angle = 0;
  while (j < text.length) {
    const skipped = skipOpaque(text, j);
    if (skipped !== -1) {
      j = skipped;
      continue;
    }
    const ch = text[j] as string;
    if (ch === '=' && text[j + 1] === '>') j += 2;
    else if (ch === '<') angle++, j++;
    else if (ch === '>') angle--, j++;
    else if (ch === '(' || ch === '[' || (ch === '{' && angle > 0)) j = skipBalanced(text, j);
    else if (ch === '{') return { open: j + 1, close: skipBalanced(text, j) - 1 };
    else if (ch === ';' && angle <= 0) return undefined;
    else j++;
  }
  return undefined;
}

/** The members of a class or interface (or enum) statement, with their doc comments. */
export function members(text: string, keyword: string): Statement[] {
  const range = bodyRange(text);
  if (range === undefined) return [];
  const body = text.slice(range.open, range.close);
  return splitStatements(body, keyword === 'enum' ? { separator: ',' } : {}).map((member) => ({
    ...member,
    start: member.start + range.open,
    docStart: member.docStart + range.open,
  }));
}

/** Is this member part of the public surface? Private and protected members and `#private` are not. */
export function isPublicMember(member: Statement): boolean {
  if (member.text.startsWith('#')) return false;
  const { modifiers } = headWords(member.text);
  return !modifiers.includes('private') && !modifiers.includes('protected');
}

/**
 * The statement as a reader should see it: without `export`/`declare`, and
 * for classes and interfaces without the members that are not public.
 */
export function displayText(statement: Statement, keyword: string): string {
  let text = statement.text;
  if (keyword === 'class' || keyword === 'interface') {
    const hidden = members(text, keyword).filter((member) => !isPublicMember(member));
    for (const member of hidden.reverse()) {
      // Remove the member's line(s) along with the indentation and newline before them.
      let from = member.docStart;
      while (from > 0 && (text[from - 1] === ' ' || text[from - 1] === '\t')) from--;
      if (from > 0 && text[from - 1] === '\n') from--;
      text = text.slice(0, from) + text.slice(member.start + member.text.length);
    }
  }
  return text.replace(/^export\s+/, '').replace(/^(default\s+)?declare\s+/, '$1');
}
