import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PeerId } from 'peernet';
import { cleanup, nextEvent, startNode, tempDir } from './helpers.js';

const script = join(__dirname, 'fixtures', 'child-node.mjs');
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await cleanup();
});

beforeAll(() => {
  if (!existsSync(join(__dirname, '..', 'dist', 'index.js'))) {
    throw new Error('packages/peernet/dist is missing: build first (pnpm build)');
  }
});

/** Starts a node in a child process; resolves with its id and port once it listens. */
async function spawnNode(dataDir: string, pair: string): Promise<{ child: ChildProcess; id: PeerId; port: number }> {
  const child = spawn(process.execPath, [script, dataDir, pair], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`child exited with ${String(code)} before it was ready`);
  });
  const [line] = (await Promise.race([once(lines, 'line'), exited])) as [string];
  const { id, port } = JSON.parse(line) as { id: string; port: number };
  return { child, id: PeerId.parse(id), port };
}

describe('two processes', () => {
  it('call, call back, kill -9, restart with the same data dir, reconnect', async () => {
    const parent = await startNode();
    parent.expose('whoami', (args, { peer }) => ({ args, caller: peer.toString() }));
    const childDir = await tempDir();

    const first = await spawnNode(childDir, parent.id.toString());
    await parent.pair(first.id, { label: 'child' });
    await parent.connect(first.id, { host: '127.0.0.1', port: first.port });
    const reply = (await parent.call(first.id, 'echo', { n: 1 })) as { from: string; pid: number };
    expect(reply).toMatchObject({ args: { n: 1 }, from: parent.id.toString(), pid: first.child.pid });
    await expect(parent.call(first.id, 'callBack', 'x')).resolves.toEqual({ args: 'x', caller: first.id.toString() });

    const offline = nextEvent(parent, 'peer:offline');
    first.child.kill('SIGKILL');
    await offline;
    await expect(parent.call(first.id, 'echo', 1)).rejects.toMatchObject({ code: 'not_connected' });

    const second = await spawnNode(childDir, '');
    expect(second.id.equals(first.id)).toBe(true); // same identity from the same data dir
    await parent.connect(second.id, { host: '127.0.0.1', port: second.port }); // pairing survived the crash too
    await expect(parent.call(second.id, 'echo', 2)).resolves.toMatchObject({ pid: second.child.pid });
  });
});
