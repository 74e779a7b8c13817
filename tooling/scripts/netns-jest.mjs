// Runs the package's jest inside a network namespace of its own that holds
// only a loopback interface, so that nothing its tests start (a DHT node
// above all) can send a packet anywhere but 127.0.0.0/8. Without root or
// iproute2 the tests run in place and skip themselves: PEERNET_NETNS tells
// them whether they are inside ('1') or why not (any other text).
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const require = createRequire(`${process.cwd()}/package.json`);
const jest = require.resolve('jest/bin/jest');

// The package's own devDependency decides, so the rule is the one every namespace test uses.
const { netnsUnavailableReason } = await import(pathToFileURL(require.resolve('@peernet/compliance')).href);
const reason = netnsUnavailableReason();
const namespace = `pnjest-${process.pid.toString(36)}`;
let command = [process.execPath, jest, ...args];
if (reason === undefined) {
  execFileSync('ip', ['netns', 'add', namespace]);
  execFileSync('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
  // nsenter, not `ip netns exec`: only the network namespace changes. `ip netns exec` also gives the
  // process a mount namespace of its own, in which the namespaces a test makes (the NAT lab's) would be
  // mounted out of the machine's sight: a test killed midway would leave them behind unreachable.
  command = ['nsenter', `--net=/run/netns/${namespace}`, ...command];
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
