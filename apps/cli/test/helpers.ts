// The CLI in real child processes, for the tests of apps/cli: every child and
// temp dir a test makes is removed after it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** The built CLI. */
export const main = join(__dirname, '..', 'dist', 'main.js');

/** Children to kill after each test (a test may add its own). */
export const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(
    children.splice(0).map(async (child) => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    }),
  );
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fresh temp directory, removed after the test. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'peernet-cli-'));
  dirs.push(dir);
  return dir;
}

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion; fails if it has not exited on its own within `ms`. */
export async function cli(args: readonly string[], ms = 30_000): Promise<Result> {
  const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`peernet ${args.join(' ')} did not exit within ${ms} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, ms);
  });
  try {
    const [code] = (await Promise.race([once(child, 'close'), timeout])) as [number | null];
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `peernet id` in `dir` and returns the id. */
export async function idOf(dir: string): Promise<string> {
  const r = await cli(['id', '--data-dir', dir, '--json']);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { id: string }).id;
}

/** Two data dirs whose identities are paired both ways with the CLI (labels `a` and `b`). */
export async function pairedDirs(): Promise<{ a: string; b: string; idA: string; idB: string }> {
  const a = await tempDir();
  const b = await tempDir();
  const [idA, idB] = await Promise.all([idOf(a), idOf(b)]);
  expect((await cli(['pair', idB, '--label', 'b', '--data-dir', a])).code).toBe(0);
  expect((await cli(['pair', idA, '--label', 'a', '--data-dir', b])).code).toBe(0);
  return { a, b, idA, idB };
}

export interface Server {
  child: ChildProcess;
  id: string;
  port: number;
  /** Resolves with the next stdout line matching `pattern`, or rejects after `ms`. */
  line(pattern: RegExp, ms?: number): Promise<string>;
}

/** Starts `peernet serve`; resolves once it prints its `listening` line. */
export async function serve(args: readonly string[]): Promise<Server> {
  const child = spawn(process.execPath, [main, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const seen: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) => {
    const i = waiters.findIndex((w) => w.pattern.test(l));
    if (i >= 0) waiters.splice(i, 1)[0]?.resolve(l);
    else seen.push(l);
  });
  const line = (pattern: RegExp, ms = 15_000): Promise<string> => {
    const j = seen.findIndex((l) => pattern.test(l));
    if (j >= 0) return Promise.resolve(seen.splice(j, 1)[0] as string);
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => {
        clearTimeout(timer);
        reject(new Error(`serve exited with ${String(code)}; stderr: ${stderr}`));
      };
      const waiter = {
        pattern,
        resolve: (l: string) => {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        child.off('exit', onExit);
        reject(new Error(`serve printed no line matching ${String(pattern)} within ${ms} ms; seen: ${seen.join(' | ')}; stderr: ${stderr}`));
      }, ms);
      waiters.push(waiter);
      child.once('exit', onExit);
    });
  };
  const first = await line(/^listening /);
  const match = /^listening ([a-z2-7]{52}) (.+):(\d+)$/.exec(first);
  if (!match) throw new Error(`unexpected first line ${JSON.stringify(first)}`);
  return { child, id: match[1] as string, port: Number(match[3]), line };
}
