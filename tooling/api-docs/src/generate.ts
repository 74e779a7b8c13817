// The API reference as a pure function of the packages' declaration files:
// no file system here, so the tests feed it small fixtures and the
// up-to-date check compares its output with what is committed.

import { commentText, renderComment, type LinkResolver } from './comment.js';
import { bodyRange, displayText, parseStatement, splitStatements, type Parsed, type Statement } from './scan.js';

/** One publishable package, as the generator sees it. */
export interface PackageInput {
  /** Directory under `packages/`, e.g. `noise`; also the page's file name. */
  dir: string;
  /** The package's name, e.g. `@peernet/noise`. */
  name: string;
  /** The package.json description. */
  description: string;
  /** Declaration files by path relative to the package, e.g. `dist/index.d.ts`. */
  files: Record<string, string>;
}

/** The generated reference and what is wrong with the input. */
export interface ApiDocs {
  /** Markdown files by name relative to `docs/api`: `README.md` and `<dir>.md`. */
  files: Record<string, string>;
  /** Exported names without a doc comment, as `package: name (path of the source)`. */
  undocumented: string[];
  /** Exports the generator could not follow (unknown modules, unsupported forms). */
  problems: string[];
}

/** The package entry point every page starts from. */
export const ENTRY = 'dist/index.d.ts';

interface ParsedStatement {
  statement: Statement;
  parsed: Parsed;
}

/** Where an exported name is declared. */
type Target =
  | { kind: 'local'; pkg: PackageInput; module: string; name: string; declarations: ParsedStatement[] }
  | { kind: 'external'; pkg: PackageInput; name: string };

/** One item of a package page, in the order of the package's exports. */
type Entry = { kind: 'name'; name: string; target: Target } | { kind: 'star'; pkg: PackageInput };

class Resolver {
  readonly problems: string[] = [];
  readonly #modules = new Map<string, ParsedStatement[]>();
  readonly #byName: Map<string, PackageInput>;
  readonly #exports = new Map<PackageInput, Entry[]>();

  constructor(packages: readonly PackageInput[]) {
    this.#byName = new Map(packages.map((pkg) => [pkg.name, pkg]));
  }

  module(pkg: PackageInput, path: string): ParsedStatement[] | undefined {
    const key = `${pkg.dir}/${path}`;
    let statements = this.#modules.get(key);
    if (statements === undefined) {
      const source = pkg.files[path];
      if (source === undefined) return undefined;
      statements = splitStatements(source).map((statement) => ({ statement, parsed: parseStatement(statement.text) }));
      this.#modules.set(key, statements);
    }
    return statements;
  }

  /** The declaration file a module specifier of `from` names, or the workspace package of a bare one. */
  #locate(pkg: PackageInput, from: string, specifier: string): { pkg: PackageInput; module: string } | undefined {
    if (!specifier.startsWith('.')) {
      const other = this.#byName.get(specifier);
      if (other === undefined) this.problems.push(`${pkg.name}: ${from} re-exports from '${specifier}', which is not a package of this workspace`);
      return other === undefined ? undefined : { pkg: other, module: ENTRY };
    }
    const parts = from.split('/').slice(0, -1);
    for (const segment of specifier.split('/')) {
      if (segment === '..') parts.pop();
      else if (segment !== '.') parts.push(segment);
    }
    const base = parts.join('/').replace(/\.(m|c)?js$/, '');
    for (const candidate of [`${base}.d.ts`, `${base}.d.mts`, `${base}/index.d.ts`]) {
      if (pkg.files[candidate] !== undefined) return { pkg, module: candidate };
    }
    this.problems.push(`${pkg.name}: ${from} imports '${specifier}', which has no declaration file`);
    return undefined;
  }

  #target(pkg: PackageInput, from: string, specifier: string, name: string, seen: Set<string>): Target | undefined {
    const located = this.#locate(pkg, from, specifier);
    if (located === undefined) return undefined;
    if (located.pkg !== pkg) return { kind: 'external', pkg: located.pkg, name };
    return this.resolveExport(pkg, located.module, name, seen);
  }

  /** What `name` means inside `module`: a declaration there, or an import. */
  resolveBinding(pkg: PackageInput, module: string, name: string, seen = new Set<string>()): Target | undefined {
    const statements = this.module(pkg, module) ?? [];
    const declarations = statements.filter((s) => s.parsed.type === 'declaration' && s.parsed.name === name);
    if (declarations.length > 0) return { kind: 'local', pkg, module, name, declarations };
    for (const { parsed } of statements) {
      if (parsed.type !== 'import') continue;
      const specifier = parsed.specifiers.find((s) => s.alias === name);
      if (specifier !== undefined) return this.#target(pkg, module, parsed.from, specifier.name, seen);
    }
    return undefined;
  }

  /** What `module` exports as `name`, following re-exports. */
  resolveExport(pkg: PackageInput, module: string, name: string, seen = new Set<string>()): Target | undefined {
    const key = `${pkg.dir}/${module}#${name}`;
    if (seen.has(key)) return undefined;
    seen.add(key);
    const statements = this.module(pkg, module) ?? [];
    const declarations = statements.filter((s) => s.parsed.type === 'declaration' && s.parsed.name === name);
    if (declarations.some((s) => s.parsed.type === 'declaration' && s.parsed.exported)) {
      return { kind: 'local', pkg, module, name, declarations };
    }
    for (const { parsed } of statements) {
      if (parsed.type === 'export-local') {
        const specifier = parsed.specifiers.find((s) => s.alias === name);
        if (specifier !== undefined) return this.resolveBinding(pkg, module, specifier.name, seen);
      } else if (parsed.type === 'export-from') {
        const specifier = parsed.specifiers.find((s) => s.alias === name);
        if (specifier !== undefined) return this.#target(pkg, module, parsed.from, specifier.name, seen);
      }
    }
    for (const { parsed } of statements) {
      if (parsed.type !== 'export-star' || parsed.as !== undefined) continue;
      if (!parsed.from.startsWith('.')) {
        const other = this.#byName.get(parsed.from);
        if (other !== undefined && this.exportNames(other).includes(name)) return { kind: 'external', pkg: other, name };
        continue;
      }
      const located = this.#locate(pkg, module, parsed.from);
      const found = located && this.resolveExport(pkg, located.module, name, seen);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /** The entries of a module's exports, in the order its statements give them. */
  entries(pkg: PackageInput, module: string, seen = new Set<string>()): Entry[] {
    if (seen.has(module)) return [];
    seen.add(module);
    const statements = this.module(pkg, module);
    if (statements === undefined) {
      this.problems.push(`${pkg.name}: ${module} is missing (is the package built?)`);
      return [];
    }
    const entries: Entry[] = [];
    const names = new Set<string>();
    const add = (name: string, target: Target | undefined): void => {
      if (names.has(name)) return;
      names.add(name);
      if (target === undefined) this.problems.push(`${pkg.name}: cannot find the declaration of '${name}' exported by ${module}`);
      else entries.push({ kind: 'name', name, target });
    };
    for (const { statement, parsed } of statements) {
      if (parsed.type === 'declaration' && parsed.exported) {
        add(parsed.name, this.resolveExport(pkg, module, parsed.name));
      } else if (parsed.type === 'export-local') {
        for (const s of parsed.specifiers) add(s.alias, this.resolveBinding(pkg, module, s.name));
      } else if (parsed.type === 'export-from') {
        for (const s of parsed.specifiers) add(s.alias, this.#target(pkg, module, parsed.from, s.name, new Set()));
      } else if (parsed.type === 'export-star') {
        if (parsed.as !== undefined) {
          this.problems.push(`${pkg.name}: ${module}: \`export * as ${parsed.as}\` is not supported`);
          continue;
        }
        const located = this.#locate(pkg, module, parsed.from);
        if (located === undefined) continue;
        if (located.pkg !== pkg) entries.push({ kind: 'star', pkg: located.pkg });
        else for (const entry of this.entries(pkg, located.module, seen)) if (entry.kind === 'star') entries.push(entry);
          else add(entry.name, entry.target);
      } else if (parsed.type === 'other' && /^export\s+(default\b|=)/.test(statement.text)) {
        this.problems.push(`${pkg.name}: ${module}: default exports are not supported`);
      }
    }
    return entries;
  }

  /** A package's entries, computed once. */
  exportsOf(pkg: PackageInput): Entry[] {
    let entries = this.#exports.get(pkg);
    if (entries === undefined) {
      this.#exports.set(pkg, []);
      entries = this.entries(pkg, ENTRY);
      this.#exports.set(pkg, entries);
    }
    return entries;
  }

  /** Every name a package exports, including those of packages it re-exports wholesale. */
  exportNames(pkg: PackageInput, seen = new Set<PackageInput>()): string[] {
    if (seen.has(pkg)) return [];
    seen.add(pkg);
    return this.exportsOf(pkg).flatMap((entry) => (entry.kind === 'name' ? [entry.name] : this.exportNames(entry.pkg, seen)));
  }

  /** Follows re-exports across packages to the package and name that declare them. */
  origin(target: Target, hops = 0): { pkg: PackageInput; name: string } | undefined {
    if (target.kind === 'local') return { pkg: target.pkg, name: target.name };
    const next = hops < 16 ? this.resolveExport(target.pkg, ENTRY, target.name) : undefined;
    return next === undefined ? undefined : this.origin(next, hops + 1);
  }
}

/** GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens, repeats numbered. */
export class Slugger {
  readonly #seen = new Map<string, number>();

  /** The anchor of the next heading with this text (markdown code spans count as their text). */
  slug(heading: string): string {
    const base = heading
      .replace(/`/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const count = this.#seen.get(base) ?? 0;
    this.#seen.set(base, count + 1);
    return count === 0 ? base : `${base}-${count}`;
  }
}

function pageTitle(pkg: PackageInput): string {
  return `\`${pkg.name}\``;
}

function starHeading(pkg: PackageInput): string {
  return `Everything from \`${pkg.name}\``;
}

/** Anchors of a page's headings, in page order: the title, Contents, then one per entry. */
function anchorsOf(pkg: PackageInput, entries: readonly Entry[]): Map<string, string> {
  const slugger = new Slugger();
  slugger.slug(pageTitle(pkg));
  slugger.slug('Contents');
  const anchors = new Map<string, string>();
  for (const entry of entries) {
    if (entry.kind === 'name') anchors.set(entry.name, slugger.slug(`\`${entry.name}\``));
    else anchors.set(`*${entry.pkg.name}`, slugger.slug(starHeading(entry.pkg)));
  }
  return anchors;
}

function sourcePath(module: string): string {
  return module.replace(/^dist\//, 'src/').replace(/\.d\.(m?)ts$/, '.$1ts');
}

function kindOf(declarations: readonly ParsedStatement[]): string {
  const kinds: string[] = [];
  for (const { parsed } of declarations) {
    if (parsed.type !== 'declaration') continue;
    const kind = [parsed.modifiers.includes('abstract') ? 'abstract' : '', parsed.modifiers.includes('const') ? 'const' : '', parsed.keyword]
      .filter((word) => word !== '')
      .join(' ');
    if (!kinds.includes(kind)) kinds.push(kind);
  }
  return kinds.join(' + ');
}

function codeBlock(text: string): string {
  return `\`\`\`ts\n${text}\n\`\`\``;
}

function hasDoc(declarations: readonly ParsedStatement[]): boolean {
  return declarations.some(({ statement }) => statement.doc !== undefined && commentText(statement.doc).trim() !== '');
}

/** Generates the reference: an index and one page per package, with what is undocumented or unresolvable. */
export function generateApiDocs(input: readonly PackageInput[]): ApiDocs {
  const packages = [...input].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const resolver = new Resolver(packages);
  const anchors = new Map(packages.map((pkg) => [pkg, anchorsOf(pkg, resolver.exportsOf(pkg))]));
  const undocumented: string[] = [];
  const files: Record<string, string> = {};

  const linkTo = (from: PackageInput, to: PackageInput, name?: string): string => {
    const page = from === to ? '' : `${to.dir}.md`;
    if (name === undefined) return page;
    const anchor = anchors.get(to)?.get(name);
    return anchor === undefined ? page : `${page}#${anchor}`;
  };

  for (const pkg of packages) {
    const entries = resolver.exportsOf(pkg);
    const here = anchors.get(pkg) as Map<string, string>;
    const link: LinkResolver = (name) => (here.has(name) ? `#${here.get(name)}` : undefined);
    const exported = new Set(entries.flatMap((entry) => (entry.kind === 'name' && entry.target.kind === 'local' ? [`${entry.target.module}#${entry.target.name}`] : [])));
    const repo = `../../packages/${pkg.dir}`;

    const contents: string[] = [];
    const sections: string[] = [];
    for (const entry of entries) {
      if (entry.kind === 'star') {
        const names = resolver.exportNames(entry.pkg);
        contents.push(`- [${starHeading(entry.pkg)}](#${here.get(`*${entry.pkg.name}`)})`);
        sections.push(
          `## ${starHeading(entry.pkg)}\n\n` +
            `Every export of [\`${entry.pkg.name}\`](${linkTo(pkg, entry.pkg)}) is exported here too` +
            (names.length === 0 ? '.' : `: ${names.map((name) => `[\`${name}\`](${linkTo(pkg, entry.pkg, name)})`).join(', ')}.`),
        );
        continue;
      }
      const { name, target } = entry;
      const anchor = `#${here.get(name)}`;
      if (target.kind === 'external') {
        const origin = resolver.origin(target);
        if (origin === undefined) {
          resolver.problems.push(`${pkg.name}: '${name}' is re-exported from ${target.pkg.name}, which does not export '${target.name}'`);
          continue;
        }
        contents.push(`- [\`${name}\`](${anchor}) — from \`${origin.pkg.name}\``);
        const shown = origin.name === name ? '' : ` (as \`${origin.name}\`)`;
        sections.push(`## \`${name}\`\n\nRe-exported from [\`${origin.pkg.name}\`](${linkTo(pkg, origin.pkg, origin.name)})${shown}.`);
        continue;
      }
      const kind = kindOf(target.declarations);
      contents.push(`- [\`${name}\`](${anchor}) — ${kind}`);
      if (!hasDoc(target.declarations)) undocumented.push(`${pkg.name}: ${name} (packages/${pkg.dir}/${sourcePath(target.module)})`);
      const parts = [`## \`${name}\``, `*${kind}* · [${sourcePath(target.module)}](${repo}/${sourcePath(target.module)})`];
      const docs = new Set<string>();
      for (const { statement } of target.declarations) {
        if (statement.doc !== undefined) docs.add(renderComment(statement.doc, link));
      }
      for (const doc of docs) if (doc !== '') parts.push(doc);
      parts.push(codeBlock(declarationsText(target.declarations)));
      parts.push(...inherited(resolver, target, exported));
      sections.push(parts.join('\n\n'));
    }

    const header = [
      `# ${pageTitle(pkg)}`,
      pkg.description,
      `[README](${repo}/README.md) · [src/index.ts](${repo}/src/index.ts) · [all packages](README.md)`,
      GENERATED_NOTE,
      `## Contents\n\n${contents.join('\n')}`,
    ];
    files[`${pkg.dir}.md`] = `${[...header, ...sections].join('\n\n')}\n`;
  }

  files['README.md'] =
    `${[
      '# API reference',
      'One page per package: every name its `src/index.ts` exports, with its doc comment and declaration.',
      GENERATED_NOTE,
      packages.map((pkg) => `- [\`${pkg.name}\`](${pkg.dir}.md) — ${pkg.description}`).join('\n'),
    ].join('\n\n')}\n`;

  return { files, undocumented, problems: [...new Set(resolver.problems)] };
}

const GENERATED_NOTE =
  '<!-- Generated by `pnpm docs:api` from the declaration files in packages/*/dist; edit the doc comments in the sources, not this file. -->';

function declarationsText(declarations: readonly ParsedStatement[]): string {
  return declarations
    .map(({ statement, parsed }) => displayText(statement, parsed.type === 'declaration' ? parsed.keyword : ''))
    .join('\n');
}

/**
 * A class whose base the package does not export would otherwise hide the
 * members it inherits: show the base's public members after it.
 */
function inherited(resolver: Resolver, target: Extract<Target, { kind: 'local' }>, exported: Set<string>, depth = 0): string[] {
  const parts: string[] = [];
  for (const { statement, parsed } of target.declarations) {
    if (parsed.type !== 'declaration' || parsed.keyword !== 'class' || depth > 8) continue;
    const head = statement.text.slice(0, bodyRange(statement.text)?.open ?? 0);
    const base = /\bextends\s+([A-Za-z_$][\w$]*)/.exec(head)?.[1];
    if (base === undefined) continue;
    const found = resolver.resolveBinding(target.pkg, target.module, base);
    if (found === undefined || found.kind !== 'local' || exported.has(`${found.module}#${found.name}`)) continue;
    if (!found.declarations.some((d) => d.parsed.type === 'declaration' && d.parsed.keyword === 'class')) continue;
    parts.push(`Inherits from \`${base}\`, which the package does not export:`, codeBlock(declarationsText(found.declarations)));
    parts.push(...inherited(resolver, found, exported, depth + 1));
  }
  return parts;
}

