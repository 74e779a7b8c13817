import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readLines, useTempDir } from '@peernet/compliance';
import { PeerId } from '@peernet/interface';
import { openFileTrustStore } from '../src/index.js';
import { serializeTrustFile } from '../src/format.js';

const builtIndex = path.resolve(__dirname, '..', 'dist', 'index.js');
const childScript = path.join(__dirname, 'fixtures', 'crash-writer.mjs');

const KILLS = 200;
const INITIAL_PEERS = 300;
const MAX_KILL_DELAY_MS = 25;

// The writers open no TLS connection; without this variable each Node start skips parsing a CA bundle.
const { NODE_EXTRA_CA_CERTS: _unused, ...childEnv } = process.env;

type Row = { id: string; label: string | undefined; addedAt: number };

const root = useTempDir('peernet-trust-crash-');
beforeAll(() => {
  if (!fs.existsSync(builtIndex)) {
    throw new Error(
      `${builtIndex} is missing: the crash test runs the built package in child processes. ` +
        'Build it first: cd packages/trust && npx tsc -b',
    );
  }
});

/** The state after applying one announced operation ("add <hex> <label> <ms>", "remove <id>", "relabel <id> <label>"). */
function apply(state: readonly Row[], op: string[]): Row[] {
  const [kind, idText, label, at] = op;
  const id = PeerId.parse(idText as string).toString();
  const next = state.map((row) => ({ ...row }));
  const index = next.findIndex((row) => row.id === id);
  switch (kind) {
    case 'add':
      if (index >= 0) throw new Error(`child added an existing id ${id}`);
      next.push({ id, label, addedAt: Number(at) });
      return next;
    case 'remove':
      if (index < 0) throw new Error(`child removed an unknown id ${id}`);
      next.splice(index, 1);
      return next;
    case 'relabel':
      if (index < 0) throw new Error(`child relabelled an unknown id ${id}`);
      next[index] = { ...next[index]!, label };
      return next;
    default:
      throw new Error(`unknown operation ${op.join(' ')}`);
  }
}

interface RunResult {
  /** Operations whose "done" was printed, in order. */
  done: string[][];
  /** The operation announced but not finished when the child died, if any. */
  inFlight: string[] | undefined;
}

/** Starts a writer, kills it with SIGKILL at a random moment after it is running, and reports what it said. */
function runAndKill(file: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childScript, file], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv });
    let stderr = '';
    const done: string[][] = [];
    let inFlight: { k: string; op: string[] } | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const stdout = readLines(child.stdout, (line) => {
      const words = line.split(' ');
      if (words[0] === 'ready') {
        // The child is running: pick the random point to kill it.
        killTimer = setTimeout(() => child.kill('SIGKILL'), Math.random() * MAX_KILL_DELAY_MS);
      } else if (words[0] === 'begin') {
        if (inFlight !== undefined) reject(new Error(`operation ${inFlight.k} never finished`));
        inFlight = { k: words[1] as string, op: words.slice(2) };
      } else if (words[0] === 'done' && inFlight !== undefined && inFlight.k === words[1]) {
        done.push(inFlight.op);
        inFlight = undefined;
      } else {
        reject(new Error(`unexpected line from child: ${words.join(' ')}`));
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    // 'close' comes after stdout has ended: every line the child wrote has been seen.
    child.on('close', (code, signal) => {
      clearTimeout(killTimer);
      if (signal !== 'SIGKILL') reject(new Error(`writer exited by itself (code ${code}): ${stderr}`));
      else if (stdout.partial() !== '') reject(new Error(`partial line from child: ${stdout.partial()}`));
      else resolve({ done, inFlight: inFlight?.op });
    });
  });
}

describe('FileTrustStore under SIGKILL', () => {
  it(`loads exactly the state before or after the interrupted write (${KILLS} kills)`, async () => {
    const dir = path.join(root, 'store');
    fs.mkdirSync(dir, { mode: 0o700 });
    const file = path.join(dir, 'trust.json');
    let state: Row[] = Array.from({ length: INITIAL_PEERS }, (_, i) => {
      const bytes = new Uint8Array(32);
      new DataView(bytes.buffer).setUint32(0, i + 1);
      return { id: PeerId.fromBytes(bytes).toString(), label: `initial-${i} ${'x'.repeat(40)}`, addedAt: i };
    });
    fs.writeFileSync(
      file,
      serializeTrustFile(state.map((row) => ({ ...row, id: PeerId.parse(row.id) }))),
      { mode: 0o600 },
    );

    let interrupted = 0;
    let landedAfter = 0;
    let tempFilesLeft = 0;
    let operations = 0;
    for (let run = 0; run < KILLS; run++) {
      const { done, inFlight } = await runAndKill(file);
      for (const op of done) state = apply(state, op);
      operations += done.length;
      const candidates = inFlight === undefined ? [state] : [state, apply(state, inFlight)];

      tempFilesLeft += fs.readdirSync(dir).filter((name) => name.endsWith('.tmp')).length;
      const store = await openFileTrustStore({ path: file });
      const loaded: Row[] = store.list().map((e) => ({ id: e.id.toString(), label: e.label, addedAt: e.addedAt }));
      await store.close();
      // Opening removed the dead writer's temp file, if it left one.
      expect(fs.readdirSync(dir)).toEqual(['trust.json']);

      const match = candidates.findIndex((candidate) => JSON.stringify(candidate) === JSON.stringify(loaded));
      if (match < 0) {
        throw new Error(
          `run ${run}: the file matches neither the state before nor after the interrupted operation ` +
            `${inFlight?.join(' ') ?? '(none)'} (${loaded.length} entries loaded, expected ${candidates.map((c) => c.length).join(' or ')})`,
        );
      }
      if (inFlight !== undefined) {
        interrupted++;
        if (match === 1) landedAfter++;
      }
      state = candidates[match]!;
    }
    // The kills must really have hit writes in progress, or the test proves nothing.
    expect(operations).toBeGreaterThan(0);
    expect(interrupted).toBeGreaterThan(KILLS / 4);
    console.log(
      `${KILLS} kills, ${operations} completed operations, ${interrupted} interrupted mid-operation ` +
        `(${landedAfter} of them already on disk), ${tempFilesLeft} temp files left behind and cleaned up`,
    );
  }, 120_000);
});
