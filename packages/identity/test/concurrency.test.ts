import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readLines, useTempDir } from '@peernet/compliance';
import { KEYFILE_NAME, loadIdentity } from '../src/index.js';

const packageDir = path.resolve(__dirname, '..');
const builtIndex = path.join(packageDir, 'dist', 'index.js');
const childScript = path.join(__dirname, 'fixtures', 'load-or-create.mjs');

const CHILDREN = 6;
const ROUNDS = 5;

// The children open no TLS connection; without this variable each Node start skips parsing a CA bundle.
const { NODE_EXTRA_CA_CERTS: _unused, ...childEnv } = process.env;

const root = useTempDir('peernet-identity-race-');

beforeAll(() => {
  if (!fs.existsSync(builtIndex)) {
    throw new Error(
      `${builtIndex} is missing: this test runs the built package in child processes. ` +
        'Build it first: cd packages/identity && npx tsc -b',
    );
  }
});

/** Feeds each line the child prints to `onLine`; resolves when the child exits cleanly. */
function runChild(child: ChildProcess, onLine: (line: string) => void): Promise<number | null> {
  let stderr = '';
  if (child.stdout !== null) readLines(child.stdout, onLine);
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`child exited with ${code}: ${stderr}`));
      else resolve(code);
    });
  });
}

async function race(dataDir: string): Promise<string[]> {
  const ids: string[] = [];
  const readiness: Promise<void>[] = [];
  const exits: Promise<number | null>[] = [];
  const children: ChildProcess[] = [];
  for (let i = 0; i < CHILDREN; i++) {
    const child = spawn(process.execPath, [childScript, dataDir], { stdio: ['pipe', 'pipe', 'pipe'], env: childEnv });
    children.push(child);
    let markReady!: () => void;
    readiness.push(new Promise<void>((resolve) => (markReady = resolve)));
    exits.push(
      runChild(child, (line) => {
        if (line === 'ready') markReady();
        else if (line.startsWith('id ')) ids.push(line.slice(3));
        else throw new Error(`unexpected output from child: ${line}`);
      }),
    );
  }
  // Every child has imported the package before any of them starts: they really race.
  await Promise.race([Promise.all(readiness), Promise.all(exits)]);
  for (const child of children) child.stdin?.end('go\n');
  await Promise.all(exits);
  return ids;
}

describe('loadOrCreateIdentity across processes', () => {
  it(`gives ${CHILDREN} racing processes one identity (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const dataDir = path.join(root, `round-${round}`);
      const ids = await race(dataDir);
      expect(ids).toHaveLength(CHILDREN);
      expect(new Set(ids).size).toBe(1);
      const stored = await loadIdentity(path.join(dataDir, KEYFILE_NAME));
      expect(stored.id.toString()).toBe(ids[0]);
      expect(fs.readdirSync(dataDir)).toEqual([KEYFILE_NAME]);
    }
  }, 60_000);
});
