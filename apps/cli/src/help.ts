// The help texts: an overview, and per command its usage, options, an
// example and the exit codes it can end with.
import { readFileSync } from 'node:fs';
import { COMMANDS, OPTIONS, synopsis, type CommandSpec, type OptionName } from './args.js';
import { defaultDataDir } from './data-dir.js';
import { EXIT, EXIT_MEANINGS } from './exit.js';

function optionLines(names: readonly OptionName[], overrides: CommandSpec['optionHelp'] = {}): string[] {
  const left = (name: OptionName): string => {
    const value = OPTIONS[name].value;
    return `${name === 'help' ? '-h, ' : ''}--${name}${value ? ` ${value}` : ''}`;
  };
  const width = Math.max(...names.map((n) => left(n).length)) + 2;
  return names.map((n) => `  ${left(n).padEnd(width)}${(overrides[n] ?? OPTIONS[n].help).replace('%DATA_DIR%', defaultDataDir())}`);
}

/** The text of `peernet --help`. */
export function overviewText(): string {
  const width = Math.max(...COMMANDS.map((c) => synopsis(c).length)) + 2;
  return [
    'usage: peernet <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${synopsis(c).padEnd(width)}${c.summary}`),
    '',
    'common options:',
    ...optionLines(['data-dir', 'json', 'verbose', 'help', 'version']),
    '',
    'peernet <command> --help (or peernet help <command>) shows the options, an example and the exit codes of a command.',
    '',
    'exit codes:',
    ...Object.entries(EXIT_MEANINGS).map(([code, meaning]) => `  ${code}  ${meaning}`),
    '',
  ].join('\n');
}

/** The text of `peernet <command> --help`. */
export function commandHelp(command: CommandSpec): string {
  const exits = [...new Set([...command.exits, EXIT.failure])].sort((a, b) => a - b);
  return [
    `usage: peernet ${synopsis(command)} [options]`,
    '',
    command.description,
    '',
    'options:',
    ...optionLines(command.options, command.optionHelp),
    '',
    'example:',
    `  ${command.example}`,
    ...(command.dhtExample ? [`  ${command.dhtExample}    # across networks, over the DHT`] : []),
    '',
    'exit codes:',
    ...exits.map((code) => `  ${code}  ${EXIT_MEANINGS[code]}`),
    '',
  ].join('\n');
}

/** The version of this CLI, from its package.json. */
export function cliVersion(): string {
  // dist/help.js and src/help.ts both sit one level below the package root.
  const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}
