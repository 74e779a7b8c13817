// Runs the package's jest inside a network namespace of its own that holds
// only a loopback interface, so that nothing its tests start (a DHT node
// above all) can send a packet anywhere but 127.0.0.0/8. Without root or
// iproute2 the tests run in place and skip themselves: PEERNET_NETNS tells
// them whether they are inside ('1') or why not (any other text).
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const args = process.argv.slice(2);
const jest = createRequire(`${process.cwd()}/package.json`).resolve('jest/bin/jest');

function unavailable() {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 (`ip`) is not installed';
  }
  return undefined;
}

const reason = unavailable();
const namespace = `pnjest-${process.pid.toString(36)}`;
let command = [process.execPath, jest, ...args];
if (reason === undefined) {
  execFileSync('ip', ['netns', 'add', namespace]);
  execFileSync('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
  command = ['ip', 'netns', 'exec', namespace, ...command];
}
const removeNamespace = () => {
  if (reason !== undefined) return;
  try {
    execFileSync('ip', ['netns', 'del', namespace], { stdio: 'ignore' });
  } catch {
    // already gone
  }
};
const child = spawn(command[0], command.slice(1), {
  stdio: 'inherit',
  env: { ...process.env, PEERNET_NETNS: reason === undefined ? '1' : reason },
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  removeNamespace();
  process.exit(code ?? (signal ? 1 : 0));
});
