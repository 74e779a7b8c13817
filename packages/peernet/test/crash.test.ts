import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readLines } from '@peernet/compliance';
import { PeerId } from 'peernet';
import { cleanup, nextEvent, startNode, tempDir } from './helpers.js';

const script = join(__dirname, 'fixtures', 'crash-node.mjs');
// PEERNET_CRASH_RESTARTS=500 for a long run.
const RESTARTS = Number(process.env.PEERNET_CRASH_RESTARTS ?? 25);
const MAX_KILL_DELAY_MS = 60;

// The child opens no TLS connection; without this variable its start skips parsing a CA bundle.
const { NODE_EXTRA_CA_CERTS: _unused, ...childEnv } = process.env;
const children: ChildProcess[] = [];

beforeAll(() => {
  if (!existsSync(join(__dirname, '..', 'dist', 'index.js'))) {
    throw new Error('packages/peernet/dist is missing: build first (pnpm build)');
  }
});
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await cleanup();
});

interface Life {
  id: string;
  port: number;
  /** Paired peers as the node found them in its data dir at start. */
  peers: string[];
  /** Pairings that completed before the kill, and the one in progress, if any. */
  done: string[];
  inFlight: string | undefined;
}

/**
 * Starts the node, lets it pair peers, and SIGKILLs it a random moment after
 * `startedUp` (which runs once it listens) has resolved.
 */
function liveAndDie(dataDir: string, port: number, parent: string, startedUp: (life: Life) => Promise<void>): Promise<Life> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, dataDir, String(port), parent], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv });
    children.push(child);
    let life: Life | undefined;
    let stderr = '';
    let pending: { k: string; id: string } | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    readLines(child.stdout, (line) => {
      const words = line.split(' ');
      if (life === undefined) {
        life = { ...(JSON.parse(line) as { id: string; port: number; peers: string[] }), done: [], inFlight: undefined };
        startedUp(life).then(
          () => (killTimer = setTimeout(() => child.kill('SIGKILL'), Math.random() * MAX_KILL_DELAY_MS)),
          (error: unknown) => {
            child.kill('SIGKILL');
            reject(error);
          },
        );
      } else if (words[0] === 'begin') {
        pending = { k: words[1] as string, id: PeerId.parse(words[2] as string).toString() };
        life.inFlight = pending.id;
      } else if (words[0] === 'done' && pending !== undefined && pending.k === words[1]) {
        life.done.push(pending.id);
        life.inFlight = pending = undefined;
      } else {
        reject(new Error(`unexpected line from child: ${line}`));
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(killTimer);
      if (signal !== 'SIGKILL' || life === undefined) reject(new Error(`node exited by itself (code ${code}): ${stderr}`));
      else resolve(life);
    });
  });
}

describe('a node killed with SIGKILL while it writes its trust list', () => {
  it(`comes back with the same id and every durable pairing, and its peer reconnects by itself (${RESTARTS} kills)`, async () => {
    const parent = await startNode({ reconnect: { initialMs: 50, maxMs: 500 }, networkMonitor: false });
    const dataDir = await tempDir();
    let expected = new Set<string>([parent.id.toString()]);
    let id: string | undefined;
    let port = 0;
    let interrupted = 0;
    let pairings = 0;
    for (let life = 0; life < RESTARTS; life++) {
      const result = await liveAndDie(dataDir, port, parent.id.toString(), async (started) => {
        if (id === undefined) {
          id = started.id;
          port = started.port;
          const online = nextEvent(parent, 'peer:online', 20_000);
          await parent.pair(id, { label: 'crashing' });
          await parent.connect(id, { host: '127.0.0.1', port });
          await online;
        } else {
          // Same identity, same port; every pairing that completed before the kill is there.
          expect(started.id).toBe(id);
          expect(started.port).toBe(port);
          const found = new Set(started.peers);
          for (const peer of expected) expect({ peer, found: found.has(peer) }).toEqual({ peer, found: true });
          expect(found.size - expected.size).toBeLessThanOrEqual(1); // plus, at most, the one in flight
          expected = found;
          // The parent was not told anything: its registry re-dials the known address.
          if (!parent.isConnected(id)) await nextEvent(parent, 'peer:online', 20_000);
        }
        await expect(parent.call(id, 'echo', life, { timeout: 10_000 })).resolves.toMatchObject({ args: life });
      });
      for (const peer of result.done) expected.add(peer);
      pairings += result.done.length;
      if (result.inFlight !== undefined) interrupted++;
      if (parent.isConnected(id as string)) await nextEvent(parent, 'peer:offline', 20_000);
    }
    expect(pairings).toBeGreaterThan(0);
    expect(interrupted).toBeGreaterThan(RESTARTS / 4);
    console.log(`${RESTARTS} kills, ${pairings} pairings completed, ${interrupted} kills during a pairing; same id and pairings after each restart`);
  }, Math.max(180_000, RESTARTS * 3_000));
});
