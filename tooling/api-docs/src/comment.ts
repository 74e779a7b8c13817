// TSDoc comments to markdown. The summary is markdown already; block tags
// (@param, @returns, @throws, @example, ...) become labelled sections and
// {@link X} becomes a link when X is documented on the same page.

/** The text of a `/** *\/` comment without its delimiters and leading `*`s. */
export function commentText(comment: string): string {
  const inner = comment.replace(/^\/\*\*/, '').replace(/\*\/$/, '');
  const lines = inner.split('\n').map((line, index) => (index === 0 ? line.trim() : line.replace(/^\s*\* ?/, '').trimEnd()));
  while (lines.length > 0 && lines[0] === '') lines.shift();
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.join('\n');
}

interface Tag {
  name: string;
  text: string;
}

/** Splits comment text into the summary and its block tags (a tag starts a line; fenced code is left alone). */
function splitTags(text: string): { summary: string; tags: Tag[] } {
  const summary: string[] = [];
  const tags: Tag[] = [];
  let fenced = false;
  for (const line of text.split('\n')) {
    if (line.trimStart().startsWith('```')) fenced = !fenced;
    const tag = fenced ? null : /^\s*@([A-Za-z]+)(?:\s+(.*))?$/.exec(line);
    if (tag !== null) tags.push({ name: tag[1] as string, text: tag[2] ?? '' });
    else if (tags.length > 0) (tags[tags.length - 1] as Tag).text += `\n${line}`;
    else summary.push(line);
  }
  return { summary: summary.join('\n').trim(), tags: tags.map((tag) => ({ ...tag, text: tag.text.trim() })) };
}

/** Resolves `{@link X}` targets to page-relative links; undefined when X is not documented here. */
export type LinkResolver = (name: string) => string | undefined;

/** Replaces inline `{@link ...}` tags with markdown links or code spans. */
export function renderInline(text: string, link: LinkResolver): string {
  return text.replace(/\{@link(?:code|plain)?\s+([^}|\s]+)(?:\s*\|\s*([^}]*)|\s+([^}]*))?\}/g, (_, target: string, piped?: string, spaced?: string) => {
    const label = (piped ?? spaced)?.trim();
    const href = link(target.split(/[.#]/)[0] as string);
    const shown = label !== undefined && label !== '' ? label : `\`${target}\``;
    return href === undefined ? shown : `[${shown}](${href})`;
  });
}

function paramLine(text: string, link: LinkResolver): string {
  // "@param name - text", "@param name text", and the JSDoc "@param {type} name text".
  const match = /^(?:\{(?!@)[^}]*\}\s*)?(\[?[\w$.]+(?:=[^\]]*)?\]?)\s*(?:-\s*)?([\s\S]*)$/.exec(text);
  if (match === null) return `- ${renderInline(text, link)}`;
  const name = (match[1] as string).replace(/^\[|\]$/g, '').split('=')[0] as string;
  const description = renderInline((match[2] as string).trim(), link);
  return description === '' ? `- \`${name}\`` : `- \`${name}\` — ${indentContinuation(description)}`;
}

function indentContinuation(text: string): string {
  return text.replace(/\n/g, '\n  ');
}

const LABELS: Record<string, string> = {
  returns: 'Returns',
  return: 'Returns',
  throws: 'Throws',
  deprecated: 'Deprecated',
  see: 'See also',
  defaultValue: 'Default',
  default: 'Default',
  since: 'Since',
};

/** Renders a doc comment as markdown: the summary, then its tags as labelled paragraphs and lists. */
export function renderComment(comment: string, link: LinkResolver): string {
  const { summary, tags } = splitTags(commentText(comment));
  const parts: string[] = [];
  if (summary !== '') parts.push(renderInline(summary, link));
  const params = (name: string, label: string): void => {
    const lines = tags.filter((tag) => tag.name === name).map((tag) => paramLine(tag.text, link));
    if (lines.length > 0) parts.push(`**${label}**\n\n${lines.join('\n')}`);
  };
  params('typeParam', 'Type parameters');
  params('template', 'Type parameters');
  params('param', 'Parameters');
  const grouped = new Map<string, string[]>();
  const order: string[] = [];
  const examples: string[] = [];
  for (const tag of tags) {
    if (tag.name === 'param' || tag.name === 'typeParam' || tag.name === 'template') continue;
    if (tag.name === 'remarks') {
      if (tag.text !== '') parts.push(renderInline(tag.text, link));
      continue;
    }
    if (tag.name === 'example') {
      examples.push(/```/.test(tag.text) ? tag.text : `\`\`\`ts\n${tag.text}\n\`\`\``);
      continue;
    }
    const label = LABELS[tag.name] ?? `@${tag.name}`;
    if (!grouped.has(label)) {
      grouped.set(label, []);
      order.push(label);
    }
    (grouped.get(label) as string[]).push(renderInline(tag.text.replace(/^\{(?!@)[^}]*\}\s*/, ''), link));
  }
  for (const label of order) {
    const texts = (grouped.get(label) as string[]).filter((text) => text !== '');
    if (texts.length === 0) parts.push(`**${label}**`);
    else if (texts.length === 1) parts.push(`**${label}:** ${texts[0]}`);
    else parts.push(`**${label}:**\n\n${texts.map((text) => `- ${indentContinuation(text)}`).join('\n')}`);
  }
  for (const example of examples) parts.push(`**Example**\n\n${example}`);
  return parts.join('\n\n');
}
