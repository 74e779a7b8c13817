import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

// Every test runs the built CLI in real child processes, on loopback only:
// each network command gets --host 127.0.0.1 and either --no-discovery or
// --interfaces 127.0.0.1 with a private UDP port.
const main = join(__dirname, '..', 'dist', 'main.js');
const LOCAL = ['--host', '127.0.0.1'];
const NO_DISCOVERY = [...LOCAL, '--no-discovery'];

const children: ChildProcess[] = [];
const dirs: string[] = [];

beforeAll(() => {
  if (!existsSync(main)) throw new Error(`${main} is missing: build apps/cli first (pnpm --filter @peernet/cli build)`);
});

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

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'peernet-cli-'));
  dirs.push(dir);
  return dir;
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion; fails if it has not exited on its own within `ms`. */
async function cli(args: readonly string[], ms = 15_000): Promise<Result> {
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
async function idOf(dir: string): Promise<string> {
  const r = await cli(['id', '--data-dir', dir, '--json']);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { id: string }).id;
}

interface Server {
  child: ChildProcess;
  id: string;
  port: number;
  /** Resolves with the next stdout line matching `pattern`, or rejects after `ms`. */
  line(pattern: RegExp, ms?: number): Promise<string>;
}

/** Starts `peernet serve`; resolves once it prints its `listening` line. */
async function serve(args: readonly string[]): Promise<Server> {
  const child = spawn(process.execPath, [main, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const seen: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const i = waiters.findIndex((w) => w.pattern.test(line));
    if (i >= 0) waiters.splice(i, 1)[0]?.resolve(line);
    else seen.push(line);
  });
  const line = (pattern: RegExp, ms = 10_000): Promise<string> => {
    const j = seen.findIndex((l) => pattern.test(l));
    if (j >= 0) return Promise.resolve(seen.splice(j, 1)[0] as string);
    return new Promise((resolve, reject) => {
      const waiter = {
        pattern,
        resolve: (l: string) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`serve printed no line matching ${String(pattern)} within ${ms} ms; stderr: ${stderr}`));
      }, ms);
      waiters.push(waiter);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`serve exited with ${String(code)}; stderr: ${stderr}`));
      });
    });
  };
  const first = await line(/^listening /);
  const match = /^listening ([a-z2-7]{52}) (.+):(\d+)$/.exec(first);
  if (!match) throw new Error(`unexpected first line ${JSON.stringify(first)}`);
  return { child, id: match[1] as string, port: Number(match[3]), line };
}

/** Two data dirs whose identities are paired both ways with the CLI. */
async function pairedDirs(): Promise<{ a: string; b: string; idA: string; idB: string }> {
  const a = await tempDir();
  const b = await tempDir();
  const [idA, idB] = await Promise.all([idOf(a), idOf(b)]);
  expect((await cli(['pair', idB, '--label', 'b', '--data-dir', a])).code).toBe(0);
  expect((await cli(['pair', idA, '--label', 'a', '--data-dir', b])).code).toBe(0);
  return { a, b, idA, idB };
}

/** Starts an interactive `peernet chat` whose stdout lines can be awaited one by one. */
function startChat(args: readonly string[]): { child: ChildProcess; line: (pattern: RegExp, ms?: number) => Promise<string> } {
  const child = spawn(process.execPath, [main, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) => {
    lines.push(l);
    waiters.splice(0).forEach((wake) => wake());
  });
  /** The next unread line, which must match `pattern`. */
  const line = async (pattern: RegExp, ms = 10_000): Promise<string> => {
    const deadline = Date.now() + ms;
    while (lines.length === 0) {
      if (child.exitCode !== null) throw new Error(`chat exited with ${child.exitCode}; stderr: ${stderr}`);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`chat printed nothing within ${ms} ms; stderr: ${stderr}`)), Math.max(0, deadline - Date.now()));
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const next = lines.shift() as string;
    expect(next).toMatch(pattern);
    return next;
  };
  return { child, line };
}

function randomUdpPort(): number {
  return 40_000 + Math.floor(Math.random() * 20_000);
}

describe('identity and trust', () => {
  it('id prints a 52-character base32 id, stable for a data dir', async () => {
    const dir = await tempDir();
    const first = await cli(['id', '--data-dir', dir]);
    expect(first.code).toBe(0);
    const id = first.stdout.trim();
    expect(id).toMatch(/^[a-z2-7]{52}$/);
    expect((await cli(['id', '--data-dir', dir])).stdout.trim()).toBe(id);
    expect(await idOf(dir)).toBe(id);
    expect(await idOf(await tempDir())).not.toBe(id);
  });

  it('pair, peers, unpair round trip', async () => {
    const dir = await tempDir();
    const other = await idOf(await tempDir());
    const paired = await cli(['pair', other, '--label', 'laptop', '--data-dir', dir]);
    expect(paired).toMatchObject({ code: 0, stdout: `paired ${other} (laptop)\n` });

    const table = await cli(['peers', '--data-dir', dir]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^ID +LABEL +STATUS +ADDRESS +ADDED\n${other} +laptop +- +- +\\d{4}-\\d\\d-\\d\\dT`));
    expect(table.stdout).toMatch(/\(status unknown: no peernet serve is running on this data dir\)\n$/);
    const listed = JSON.parse((await cli(['peers', '--json', '--data-dir', dir])).stdout) as unknown[];
    expect(listed).toEqual([{ id: other, label: 'laptop', status: null, address: null, added: expect.any(String) }]);

    expect(await cli(['unpair', other, '--data-dir', dir])).toMatchObject({ code: 0, stdout: `unpaired ${other}\n` });
    expect((await cli(['peers', '--json', '--data-dir', dir])).stdout).toBe('[]\n');
    const again = await cli(['unpair', other, '--data-dir', dir]);
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/not paired/);
  });

  it('a bad id is a usage error (exit 2) with a clear message', async () => {
    const dir = await tempDir();
    const bad = await cli(['pair', 'not-a-peer-id', '--data-dir', dir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^peernet: invalid_peer_id: peer id must be/);
    const json = await cli(['call', 'zzz', 'echo', '--json', '--data-dir', dir, ...NO_DISCOVERY]);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stderr)).toEqual({ error: { code: 'invalid_peer_id', message: expect.any(String) } });
  });

  it('usage errors exit 2', async () => {
    expect((await cli([])).code).toBe(2);
    expect(await cli(['frobnicate'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown command/) });
    expect(await cli(['id', '--bogus'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/bogus/) });
    const dir = await tempDir();
    const other = await idOf(await tempDir());
    await cli(['pair', other, '--data-dir', dir]);
    expect(await cli(['call', other, 'echo', '{nope', '--data-dir', dir, ...NO_DISCOVERY])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/not valid JSON/),
    });
  });

  it('calling a peer that is not paired exits 3 without starting a node', async () => {
    const dir = await tempDir();
    const other = await idOf(await tempDir());
    const r = await cli(['call', other, 'echo', '--data-dir', dir, ...NO_DISCOVERY]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/not paired/);
  });
});

describe('two processes', () => {
  it('call through --connect; unknown handle → 5; serve exits on SIGTERM', async () => {
    const { a, b, idA } = await pairedDirs();
    const server = await serve(['--expose', 'echo', '--data-dir', b, ...NO_DISCOVERY]);
    const connect = ['--connect', `127.0.0.1:${server.port}`];

    const ok = await cli(['call', server.id, 'echo', '{"x":1}', ...connect, '--data-dir', a, ...NO_DISCOVERY]);
    expect(ok).toMatchObject({ code: 0, stdout: '{"x":1}\n', stderr: '' });
    await server.line(new RegExp(`^online ${idA}$`));

    const missing = await cli(['call', server.id, 'nope', ...connect, '--data-dir', a, ...NO_DISCOVERY]);
    expect(missing.code).toBe(5);
    expect(missing.stderr).toMatch(/no_such_handle/);

    const sent = await cli(['send', server.id, 'echo', '[1,2]', ...connect, '--json', '--data-dir', a, ...NO_DISCOVERY]);
    expect(sent).toMatchObject({ code: 0, stdout: '{"sent":true}\n' });

    server.child.kill('SIGTERM');
    const [code] = (await once(server.child, 'exit')) as [number | null];
    expect(code).toBe(0);
  });

  it('a peer that does not trust the caller → handshake_failed, non-zero', async () => {
    const a = await tempDir();
    const b = await tempDir();
    const server = await serve(['--expose', 'echo', '--data-dir', b, ...NO_DISCOVERY]); // b never pairs a
    await cli(['pair', server.id, '--data-dir', a]);
    const r = await cli(['call', server.id, 'echo', '1', '--connect', `127.0.0.1:${server.port}`, '--data-dir', a, ...NO_DISCOVERY]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/handshake_failed/);
  });

  it('a paired peer that never shows up → timeout, exit 4', async () => {
    const { a, idB } = await pairedDirs();
    const started = Date.now();
    const r = await cli(['call', idB, 'echo', '--timeout', '300', '--data-dir', a, ...NO_DISCOVERY]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^peernet: timeout: .*300 ms/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('call through discovery on loopback (no address given)', async () => {
    const { a, b, idA } = await pairedDirs();
    const udpPort = String(randomUdpPort());
    const discovery = [...LOCAL, '--interfaces', '127.0.0.1', '--udp-port', udpPort];
    const server = await serve(['--expose', 'echo', '--data-dir', b, ...discovery]);
    const ok = await cli(['call', server.id, 'echo', '{"via":"discovery"}', '--timeout', '10000', '--data-dir', a, ...discovery]);
    expect(ok).toMatchObject({ code: 0, stdout: '{"via":"discovery"}\n' });
    await server.line(new RegExp(`^online ${idA}$`));
  });

  it('chat: stdin lines reach the peer, the peer prints them, EOF exits 0; peers shows the live status', async () => {
    const { a, b, idA } = await pairedDirs();
    const server = await serve(['--expose', 'chat', '--data-dir', b, ...NO_DISCOVERY]);
    const chat = startChat(['chat', server.id, '--connect', `127.0.0.1:${server.port}`, '--data-dir', a, ...NO_DISCOVERY]);
    expect(await chat.line(/./)).toMatch(/^connected to /);
    chat.child.stdin?.write('hello there\n');
    await server.line(new RegExp(`^<${idA.slice(0, 8)}> hello there$`));
    await server.line(new RegExp(`^online ${idA}$`));

    // The running serve answers `peers` on its data dir.
    const live = JSON.parse((await cli(['peers', '--json', '--data-dir', b])).stdout) as { status: string; address: string }[];
    expect(live).toEqual([{ id: idA, label: 'a', status: 'online', address: null, added: expect.any(String) }]);
    // (No address: a gave none; it dialled in, and its listening port is not known to b.)
    expect((await cli(['peers', '--data-dir', b])).stdout).toMatch(new RegExp(`^${idA} +a +online +- +\\d{4}-`, 'm'));

    chat.child.stdin?.end();
    const [code] = (await once(chat.child, 'exit')) as [number | null];
    expect(code).toBe(0);
    await server.line(new RegExp(`^offline ${idA}`));
    const after = JSON.parse((await cli(['peers', '--json', '--data-dir', b])).stdout) as { status: string }[];
    expect(after[0]?.status).toBe('offline');
  });

  it('chat both ways between two chat processes', async () => {
    const { a, b, idA, idB } = await pairedDirs();
    // b waits for a and says where; a dials it there.
    const waiting = startChat(['chat', idA, '--data-dir', b, ...NO_DISCOVERY]);
    const port = /^waiting for [a-z2-7]{52} \(listening on 127\.0\.0\.1:(\d+)\)$/.exec(await waiting.line(/^waiting/))?.[1];
    const dialling = startChat(['chat', idB, '--connect', `127.0.0.1:${port}`, '--data-dir', a, ...NO_DISCOVERY]);
    expect(await dialling.line(/./)).toMatch(/^connected to /);
    expect(await waiting.line(/./)).toMatch(/^connected to /);
    dialling.child.stdin?.write('ping from a\n');
    expect(await waiting.line(/./)).toBe(`<${idA.slice(0, 8)}> ping from a`);
    waiting.child.stdin?.write('pong from b\n');
    expect(await dialling.line(/./)).toBe(`<${idB.slice(0, 8)}> pong from b`);
    // One side leaving ends the other's chat too.
    dialling.child.stdin?.end();
    const codes = await Promise.all([once(dialling.child, 'exit'), once(waiting.child, 'exit')]);
    expect(codes.map(([code]) => code as number | null)).toEqual([0, 0]);
  });

  it('a running serve picks up pair and unpair made by other commands', async () => {
    const a = await tempDir();
    const b = await tempDir();
    const idA = await idOf(a);
    const server = await serve(['--expose', 'echo', '--data-dir', b, ...NO_DISCOVERY]);
    await cli(['pair', server.id, '--data-dir', a]);
    const call = (): Promise<Result> =>
      cli(['call', server.id, 'echo', '"hi"', '--connect', `127.0.0.1:${server.port}`, '--data-dir', a, ...NO_DISCOVERY]);

    expect((await call()).stderr).toMatch(/handshake_failed/);
    expect((await cli(['pair', idA, '--data-dir', b])).code).toBe(0);
    await server.line(new RegExp(`^paired ${idA}$`));
    expect(await call()).toMatchObject({ code: 0, stdout: '"hi"\n' });

    expect((await cli(['unpair', idA, '--data-dir', b])).code).toBe(0);
    await server.line(new RegExp(`^unpaired ${idA}$`));
    expect((await call()).stderr).toMatch(/handshake_failed/);
  });

  it('a second serve on the same data dir is refused (exit 1, already_running)', async () => {
    const b = await tempDir();
    await serve(['--data-dir', b, ...NO_DISCOVERY]);
    const second = await cli(['serve', '--data-dir', b, ...NO_DISCOVERY]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/^peernet: already_running: another peernet serve is running on /);
  });
});
