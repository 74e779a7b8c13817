import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readLines, useTempDir } from '@peernet/compliance';
import { KEYFILE_NAME, loadIdentity, loadOrCreateIdentity } from '../src/index.js';

const builtIndex = path.resolve(__dirname, '..', 'dist', 'index.js');
const childScript = path.join(__dirname, 'fixtures', 'crash-keyfile.mjs');

// PEERNET_CRASH_KILLS=2000 for a long run.
const KILLS = Number(process.env.PEERNET_CRASH_KILLS ?? 200);
// An operation (temp file, fsync, rename or link, directory fsync) takes a few ms here.
const MAX_KILL_DELAY_MS = 8;
const PARALLEL = 4;

// The writers open no TLS connection; without this variable each Node start skips parsing a CA bundle.
const { NODE_EXTRA_CA_CERTS: _unused, ...childEnv } = process.env;

const root = useTempDir('peernet-identity-crash-');
beforeAll(() => {
  if (!fs.existsSync(builtIndex)) {
    throw new Error(
      `${builtIndex} is missing: the crash test runs the built package in child processes. ` +
        'Build it first: cd packages/identity && npx tsc -b',
    );
  }
});

interface Op {
  kind: 'create' | 'replace';
  dir: string;
  /** The id the operation writes: known in advance for a replace, printed at the end for a create. */
  id: string | undefined;
}

interface RunResult {
  done: Op[];
  inFlight: Op | undefined;
}

/** Starts a writer, kills it with SIGKILL at a random moment after it is running, and reports what it said. */
function runAndKill(run: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childScript, root, String(run)], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv });
    let stderr = '';
    const done: Op[] = [];
    let inFlight: (Op & { k: string }) | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    // Kill a random moment into one of the first operations (a create or a replace), which may or may not finish by then.
    const killDuring = Math.floor(Math.random() * 4);
    const stdout = readLines(child.stdout, (line) => {
      const words = line.split(' ');
      if (words[0] === 'ready') {
        // Nothing to do: the kill is timed from the start of a chosen operation.
      } else if (words[0] === 'begin') {
        if (inFlight !== undefined) reject(new Error(`operation ${inFlight.k} never finished`));
        inFlight = { k: words[1] as string, kind: words[2] as Op['kind'], dir: words[3] as string, id: words[4] };
        if (Number(inFlight.k) === killDuring) {
          killTimer = setTimeout(() => child.kill('SIGKILL'), Math.random() * MAX_KILL_DELAY_MS);
        }
      } else if (words[0] === 'done' && inFlight !== undefined && inFlight.k === words[1]) {
        done.push({ kind: inFlight.kind, dir: inFlight.dir, id: words[2] });
        inFlight = undefined;
      } else {
        reject(new Error(`unexpected line from child: ${words.join(' ')}`));
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(killTimer);
      if (signal !== 'SIGKILL') reject(new Error(`writer exited by itself (code ${code}): ${stderr}`));
      else if (stdout.partial() !== '') reject(new Error(`partial line from child: ${stdout.partial()}`));
      else resolve({ done, inFlight: inFlight === undefined ? undefined : { kind: inFlight.kind, dir: inFlight.dir, id: inFlight.id } });
    });
  });
}

interface Tally {
  operations: number;
  interruptedCreates: number;
  createdAnyway: number;
  interruptedReplaces: number;
  replacedAlready: number;
}

/** One writer's life: run it, kill it, and check every keyfile it touched. Runs touch disjoint directories. */
async function checkOneRun(run: number, tally: Tally): Promise<void> {
  const { done, inFlight } = await runAndKill(run);
  tally.operations += done.length;
  const expected = new Map<string, string>(); // dir -> id it must hold
  for (const op of done) expected.set(op.dir, op.id as string);
  for (const [dir, id] of expected) {
    if (dir === inFlight?.dir) continue;
    expect({ dir, id: (await loadIdentity(path.join(dir, KEYFILE_NAME))).id.toString() }).toEqual({ dir, id });
    expect(fs.readdirSync(dir)).toEqual([KEYFILE_NAME]);
  }
  if (inFlight === undefined) return;
  const file = path.join(inFlight.dir, KEYFILE_NAME);
  if (inFlight.kind === 'create') {
    tally.interruptedCreates++;
    // Either no keyfile yet (a new identity is made now) or a complete one; never an error.
    const onDisk = fs.existsSync(file) ? (await loadIdentity(file)).id.toString() : undefined;
    const loaded = await loadOrCreateIdentity({ dataDir: inFlight.dir });
    if (onDisk !== undefined) {
      tally.createdAnyway++;
      expect(loaded.id.toString()).toBe(onDisk);
    }
  } else {
    tally.interruptedReplaces++;
    const loaded = (await loadOrCreateIdentity({ dataDir: inFlight.dir })).id.toString();
    expect([expected.get(inFlight.dir), inFlight.id]).toContain(loaded);
    if (loaded === inFlight.id) tally.replacedAlready++;
  }
  // loadOrCreateIdentity removed the dead writer's temp files; the key stays private.
  expect(fs.readdirSync(inFlight.dir)).toEqual([KEYFILE_NAME]);
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
}

describe('keyfiles under SIGKILL', () => {
  it(`hold the identity before or after the interrupted write, never a damaged one (${KILLS} kills)`, async () => {
    const tally: Tally = { operations: 0, interruptedCreates: 0, createdAnyway: 0, interruptedReplaces: 0, replacedAlready: 0 };
    let next = 0;
    // A few writers at a time: each run has its own directories, and process start-up dominates.
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < KILLS) await checkOneRun(next++, tally);
      }),
    );
    expect(tally.operations).toBeGreaterThan(0);
    // The kills must really have hit writes in progress, or the test proves nothing.
    expect(tally.interruptedCreates + tally.interruptedReplaces).toBeGreaterThan(KILLS / 2);
    expect(tally.interruptedCreates).toBeGreaterThan(KILLS / 10);
    expect(tally.interruptedReplaces).toBeGreaterThan(KILLS / 10);
    console.log(
      `${KILLS} kills, ${tally.operations} completed operations, interrupted: ${tally.interruptedCreates} creates ` +
        `(${tally.createdAnyway} already complete on disk) and ${tally.interruptedReplaces} replaces ` +
        `(${tally.replacedAlready} already on disk); every keyfile loaded to the identity before or after`,
    );
  }, Math.max(180_000, KILLS * 1_000));
});
