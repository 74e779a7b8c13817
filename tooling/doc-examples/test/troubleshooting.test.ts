// docs/troubleshooting.md quotes what PeerNet prints when things go wrong.
// This test makes each of those mistakes for real (the built `peernet`
// command in child processes, and nodes of the library, on 127.0.0.1 with
// discovery off) and checks that the page quotes the message as it is, with
// only the ids, paths, addresses and timeouts put in their placeholders.
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerNet } from 'peernet';
import { rejection } from '@peernet/compliance';

const root = join(__dirname, '..', '..', '..');
const cli = join(root, 'apps', 'cli', 'dist', 'main.js');
const page = readFileSync(join(root, 'docs', 'troubleshooting.md'), 'utf8');
/** The page with its line breaks inside paragraphs undone, for quotes that wrap. */
const prose = page.replace(/\s+/g, ' ');
// Made in beforeAll, not when jest loads the file: a run that filters these tests out then leaves nothing behind.
let home = '';
const offline = ['--host', '127.0.0.1', '--no-discovery'];

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `peernet <args>` in `home`, as a user in their home directory would. */
function peernet(args: readonly string[], ms = 30_000): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { cwd: home, env: envFor(), timeout: ms, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

function envFor(): NodeJS.ProcessEnv {
  return { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config') };
}

let bob = '';
let alice = '';

/** A message as the page shows it: ids, the home directory, addresses and waits in their placeholders. */
function asOnThePage(text: string): string {
  return text
    .trim()
    .replaceAll(bob, '<bob>')
    .replaceAll(alice, '<alice>')
    .replaceAll(home, '/home/you')
    .replace(/127\.0\.0\.1:\d+/g, '192.0.2.10:7000')
    .replace(/within \d+ ms/g, 'within 10000 ms');
}

/** Checks the exit code, and that the page quotes the one line on stderr. */
function expectQuoted(result: Outcome, exitCode: number): void {
  const line = asOnThePage(result.stderr);
  expect({ exitCode: result.code, line }).toEqual({ exitCode, line });
  expect(line.split('\n')).toHaveLength(1);
  expect(page).toContain(line);
}

/** Resolves with the first line of `child`'s stdout matching `pattern`; rejects after `ms`. */
function lineOf(child: ChildProcessWithoutNullStreams, pattern: RegExp, ms = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: string): void => {
      seen += chunk;
      const found = seen.split('\n').find((line) => pattern.test(line));
      if (found !== undefined) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve(found);
      }
    };
    const timer = setTimeout(() => {
      child.stdout.off('data', onData);
      reject(new Error(`no line matching ${String(pattern)} within ${ms} ms; stdout so far:\n${seen}`));
    }, ms);
    child.stdout.setEncoding('utf8').on('data', onData);
  });
}

/** A port on 127.0.0.1 where nothing listens (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'peernet-troubleshooting-'));
  const ids = await Promise.all([peernet(['id', '--data-dir', './bob', '--no-qr']), peernet(['id', '--data-dir', './alice', '--no-qr'])]);
  [bob, alice] = ids.map((r) => r.stdout.trim()) as [string, string];
  expect([bob, alice]).toEqual([expect.stringMatching(/^[a-z2-7]{52}$/), expect.stringMatching(/^[a-z2-7]{52}$/)]);
});

afterAll(() => {
  if (home !== '') rmSync(home, { recursive: true, force: true });
});

describe('the peernet command', () => {
  it('4. a call before pairing the peer: not_paired, exit 3', async () => {
    expectQuoted(await peernet(['call', bob, 'echo', '{}', '--data-dir', './alice', ...offline]), 3);
  });

  describe('with bob serving and only alice paired', () => {
    let serve: ChildProcessWithoutNullStreams;
    let port = 0;

    beforeAll(async () => {
      expect((await peernet(['pair', bob, '--data-dir', './alice'])).code).toBe(0);
      serve = spawn(process.execPath, [cli, 'serve', '--expose', 'echo', '--data-dir', './bob', ...offline], { cwd: home, env: envFor() });
      const listening = await lineOf(serve, /^listening /);
      port = Number(listening.split(':').pop());
    });

    afterAll(async () => {
      if (serve.exitCode === null) {
        const exited = new Promise((resolve) => serve.once('exit', resolve));
        serve.kill('SIGTERM');
        await exited;
      }
    });

    it('3. the caller stops at once with refused_by_peer (exit 3), and serve prints the stranger with the command that lets it in', async () => {
      const refusedLine = lineOf(serve, /^refused /);
      const started = Date.now();
      const result = await peernet(['call', bob, 'echo', '{}', '--data-dir', './alice', ...offline, '--connect', `127.0.0.1:${port}`]);
      expect(Date.now() - started).toBeLessThan(8_000);
      expectQuoted(result, 3);
      expect(page).toContain(asOnThePage(await refusedLine));
    });

    it('9. a second serve on the same data dir: already_running, exit 7', async () => {
      expectQuoted(await peernet(['serve', '--data-dir', './bob', ...offline]), 7);
    });
  });

  it('6. nothing finds the peer: timeout with "no address is known", exit 4', async () => {
    expectQuoted(await peernet(['call', bob, 'echo', '{}', '--data-dir', './alice', ...offline, '--timeout', '300']), 4);
  });

  it('8. an address where the packets go unanswered: timeout, exit 4', async () => {
    // Accepts the connection and never says a word, as a firewall that drops packets looks from the caller.
    const sockets: import('node:net').Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket)).listen(0, '127.0.0.1');
    await new Promise((resolve) => silent.once('listening', resolve));
    const { port } = silent.address() as { port: number };
    try {
      const args = ['call', bob, 'echo', '{}', '--data-dir', './alice', ...offline, '--connect', `127.0.0.1:${port}`, '--timeout', '500'];
      expectQuoted(await peernet(args), 4);
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('8. an address where nothing listens: ECONNREFUSED, exit 6', async () => {
    const port = await closedPort();
    expectQuoted(await peernet(['call', bob, 'echo', '{}', '--data-dir', './alice', ...offline, '--connect', `127.0.0.1:${port}`]), 6);
  });

  it('10. a data dir others may write: unsafe_permissions, exit 7', async () => {
    mkdirSync(join(home, 'shared'));
    chmodSync(join(home, 'shared'), 0o777);
    expectQuoted(await peernet(['id', '--data-dir', './shared', '--no-qr']), 7);
  });

  it('10. a data dir that is a file: not_a_directory, exit 7', async () => {
    writeFileSync(join(home, 'notes.txt'), 'not a directory\n');
    expectQuoted(await peernet(['id', '--data-dir', './notes.txt', '--no-qr']), 7);
    const below = await peernet(['id', '--data-dir', './notes.txt/node', '--no-qr']);
    expect(below.code).toBe(7);
    expect(below.stderr).toContain('a component of its path is a file');
    expect(prose).toContain('a component of its path is a file');
  });

  it('11. ids: a mangled one is refused with the reason (exit 2), upper case and spaces are not a problem, our own id is refused', async () => {
    expectQuoted(await peernet(['pair', 'abc', '--data-dir', './alice']), 2);
    const typo = await peernet(['pair', `${bob.slice(0, 10)}1${bob.slice(11)}`, '--data-dir', './alice']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('invalid base32 character "1" at position 10 of peer id');
    expect(prose).toContain('invalid base32 character "1" at position 10 of peer id');
    expect((await peernet(['pair', `  ${bob.toUpperCase()} `, '--data-dir', './alice'])).code).toBe(0);
    expectQuoted(await peernet(['pair', alice, '--data-dir', './alice']), 2);
  });

  it('12. pairing by invite: a wrong code ends both sides with exit 8, a word not in the list exits 2, a number nobody offers exits 8', async () => {
    const net = ['--host', '127.0.0.1', '--interfaces', '127.0.0.1', '--udp-port', String(40_000 + Math.floor(Math.random() * 20_000))];
    const invite = spawn(process.execPath, [cli, 'invite', '--no-qr', '--data-dir', './carol', ...net], { cwd: home, env: envFor() });
    let stderr = '';
    invite.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const ended = new Promise<Outcome>((resolve) => invite.once('exit', (code) => resolve({ code, stdout: '', stderr })));
    const code = (await lineOf(invite, /^invite code: /)).slice('invite code: '.length);
    const [number, ...words] = code.split('-');
    const wrong = [number, ...words.map((word) => (word === 'apple' ? 'anchor' : 'apple'))].join('-');
    expectQuoted(await peernet(['join', wrong, '--data-dir', './dave', ...net]), 8);
    expectQuoted(await ended, 8);
    expectQuoted(await peernet(['join', '473-violet-anchor-obrit', '--data-dir', './dave', ...offline]), 2);
    expectQuoted(await peernet(['join', '473-violet-anchor-orbit', '--timeout', '1000', '--data-dir', './dave', ...offline]), 8);
  });
});

describe('the library', () => {
  let a: PeerNet;
  let b: PeerNet;

  beforeAll(async () => {
    const dir = join(home, 'nodes');
    a = await PeerNet.start({ dataDir: join(dir, 'alice'), host: '127.0.0.1', discovery: [] });
    b = await PeerNet.start({ dataDir: join(dir, 'bob'), host: '127.0.0.1', discovery: [] });
    alice = a.id.toString();
    bob = b.id.toString();
  });

  afterAll(async () => {
    await Promise.all([a.stop(), b.stop()]);
  });

  const quoted = (error: { code: string; message: string }): string => asOnThePage(`${error.code} - ${error.message}`);

  it('4. waiting for, or connecting to, a peer this node has not paired: untrusted_peer', async () => {
    const waiting = await rejection(a.waitForPeer(b.id, { timeoutMs: 1_000 }));
    const connecting = await rejection(a.connect(b.id, { host: '127.0.0.1', port: b.port }));
    expect([waiting.code, connecting.code]).toEqual(['untrusted_peer', 'untrusted_peer']);
    expect(prose).toContain(asOnThePage(connecting.message));
    expect(prose).toContain(asOnThePage(waiting.message).replace(`peer <bob> is not paired; pair it`, '...'));
  });

  it('3. connecting to a peer that has not paired us: refused_by_peer', async () => {
    await a.pair(b.id);
    const refused = await rejection(a.connect(b.id, { host: '127.0.0.1', port: b.port }));
    expect(refused.code).toBe('refused_by_peer');
    expect(prose).toContain(asOnThePage(refused.message));
  });

  it('5. a call right after pair(), before any session: not_connected', async () => {
    // A third node, so that no refusal of bob's is remembered: it stands for <bob> on the page.
    const carol = await PeerNet.start({ dataDir: join(home, 'nodes', 'carol'), host: '127.0.0.1', discovery: [] });
    try {
      await a.pair(carol.id);
      await carol.pair(a.id);
      const early = await rejection(a.call(carol.id, 'echo', 'hi'));
      expect(page).toContain(quoted(early).replaceAll(carol.id.toString(), '<bob>'));
    } finally {
      await carol.stop();
    }
  });
});
