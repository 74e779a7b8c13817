// `pnpm peernet <args>`: the `peernet` command run from a clone. Builds the
// CLI and the packages it imports (quietly: turbo's cache makes this fast
// after the first time), then runs it in this process, so its output, exit
// code and signal handling are exactly those of the command.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildQuietly, root } from './workspace.mjs';

const main = join(root, 'apps', 'cli', 'dist', 'main.js');
try {
  buildQuietly(['@peernet/cli...']);
} catch (error) {
  process.stderr.write(`peernet: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
// pnpm runs scripts from the clone's root; relative paths (--data-dir ./bob)
// mean what they meant where the user typed the command.
if (process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);
// The CLI reads its arguments from process.argv, as when it runs as the installed bin.
process.argv = [process.argv[0], main, ...process.argv.slice(2)];
await import(pathToFileURL(main).href);
