import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { netnsUnavailableReason } from '@peernet/compliance';

// The demo as a user runs it (`node apps/demo/dist/main.js`, built by `pnpm test`'s build step).
const main = join(__dirname, '..', 'dist', 'main.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Checks the transcript tells the whole story, and that no node process outlived the demo. */
function expectWholeStory({ code, stdout, stderr }: Run): void {
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  const pids = [...stdout.matchAll(/up in process (\d+)/g)].map((m) => Number(m[1]));
  expect(pids).toHaveLength(4); // alice, bob, mallory, and bob again
  for (const expected of [
    /bob +opens an invite: \d{1,3}-[a-z]+-[a-z]+-[a-z]+ /,
    /alice +joins with the code: both are paired, .*\(confirmation \d{3} \d{3}\)/,
    /alice +session with bob is up/,
    /bob +chat from alice: "hi bob/,
    /alice +chat from bob: /,
    /alice +device\.rename\("kitchen-pi"\) on bob → "kitchen-pi"/,
    /alice +device\.status\(\) on bob → \{"name":"kitchen-pi"/,
    /alice +device\.rename\("Not A Name!"\) on bob → handler_error/,
    /bob +device\.status\(\) on alice → no_such_handle/,
    /bob +discovered mallory via \w+: not paired, so never dialled/,
    /bob +refused an inbound handshake: untrusted_peer/,
    /mallory +connect to bob → refused_by_peer/,
    /mallory +send chat to bob → refused_by_peer/,
    /alice +lost bob/,
    /bob +up in process \d+: id \w+, .*paired with alice/,
    /bob +chat from alice: "welcome back"/,
    /demo +done in [\d.]+ s: every node stopped cleanly/,
  ]) {
    expect(stdout).toMatch(expected);
  }
  // The restarted bob kept his id.
  const bobIds = [...stdout.matchAll(/bob +up in process \d+: id (\w+)/g)].map((m) => m[1]);
  expect(bobIds).toHaveLength(2);
  expect(bobIds[0]).toBe(bobIds[1]);
  expect(stdout).not.toMatch(/chat from mallory/);
  expect(pids.filter(alive)).toEqual([]);
}

it('runs the whole story on loopback and exits 0', async () => {
  expectWholeStory(await run(process.execPath, [main]));
}, 90_000);

const noNetns = netnsUnavailableReason();
(noNetns ? it.skip : it)(`runs unchanged in a network namespace with nothing but lo${noNetns ? ` (skipped: ${noNetns})` : ''}`, async () => {
  const ns = `pndemo-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const links = execFileSync('ip', ['-n', ns, '-o', 'link'], { encoding: 'utf8' }).trim().split('\n');
    expect(links.map((line) => line.split(':')[1]?.trim())).toEqual(['lo']);
    expectWholeStory(await run('ip', ['netns', 'exec', ns, process.execPath, main]));
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
}, 90_000);
