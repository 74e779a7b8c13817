import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The default data directory: the user's configuration directory plus `peernet`
 * (`%APPDATA%\peernet` on Windows, `~/Library/Application Support/peernet` on
 * macOS, `$XDG_CONFIG_HOME/peernet` or `~/.config/peernet` elsewhere).
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') {
    return join(env['APPDATA'] || join(homedir(), 'AppData', 'Roaming'), 'peernet');
  }
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'peernet');
  const xdg = env['XDG_CONFIG_HOME'];
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.config'), 'peernet');
}
