import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { EXIT } from '../src/exit.js';
import { children, cli, idOf, main, tempDir, type Result } from './helpers.js';

// `peernet invite` and `peernet join` in real child processes, on loopback:
// each test's nodes find each other by UDP discovery on 127.0.0.1 and a
// private random UDP port, so that no other test's node (or a real LAN) answers.
const LOCAL = ['--host', '127.0.0.1'];

function loopback(): string[] {
  return [...LOCAL, '--interfaces', '127.0.0.1', '--udp-port', String(40_000 + Math.floor(Math.random() * 20_000))];
}

beforeAll(() => {
  if (!existsSync(main)) throw new Error(`${main} is missing: build apps/cli first (pnpm --filter @peernet/cli build)`);
});

interface Running {
  child: ChildProcess;
  /** Resolves with the next unread stdout line, which must match `pattern`. */
  line(pattern: RegExp, ms?: number): Promise<string>;
  /** Resolves once the process has exited by itself, with all it printed; fails after `ms`. */
  exit(ms?: number): Promise<Result>;
}

/** Starts the CLI with `args`; its stdout lines can be awaited one by one. */
function start(args: readonly string[]): Running {
  const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const unread: string[] = [];
  let wake: (() => void) | undefined;
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) => {
    stdout += `${l}\n`;
    unread.push(l);
    wake?.();
  });
  const closed = once(child, 'close');
  const ended = closed.then(() => wake?.());
  const line = async (pattern: RegExp, ms = 10_000): Promise<string> => {
    const deadline = Date.now() + ms;
    while (unread.length === 0) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited with ${String(child.exitCode)}; stdout: ${stdout}; stderr: ${stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line within ${ms} ms; stderr: ${stderr}`);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((resolve) => ((wake = resolve), (timer = setTimeout(resolve, left)))), ended]);
      clearTimeout(timer);
    }
    const next = unread.shift() as string;
    expect(next).toMatch(pattern);
    return next;
  };
  const exit = async (ms = 15_000): Promise<Result> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`did not exit within ${ms} ms; stdout: ${stdout}; stderr: ${stderr}`)), ms);
    });
    try {
      const [code] = (await Promise.race([closed, timeout])) as [number | null];
      return { code, stdout, stderr };
    } finally {
      clearTimeout(timer);
    }
  };
  return { child, line, exit };
}

interface InviteLine {
  code: string;
  uri: string;
  expiresAt: number;
}

/** Starts `peernet invite --json`; resolves with the process and its first line. */
async function invite(args: readonly string[]): Promise<{ inviter: Running; offer: InviteLine }> {
  const inviter = start(['invite', '--json', ...args]);
  const offer = JSON.parse(await inviter.line(/^\{"code":/)) as InviteLine;
  return { inviter, offer };
}

/** The ids and labels of a data dir's paired peers. */
async function trustOf(dir: string): Promise<{ id: string; label: string | null }[]> {
  const r = await cli(['peers', '--json', '--data-dir', dir]);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { id: string; label: string | null }[]).map(({ id, label }) => ({ id, label }));
}

describe('pairing by invite', () => {
  it('invite --json and join <code> pair both sides: both exit 0 with the same confirmation, peers lists each other', async () => {
    const a = await tempDir();
    const b = await tempDir();
    const [idA, idB] = await Promise.all([idOf(a), idOf(b)]);
    const net = loopback();
    const before = Date.now();
    const { inviter, offer } = await invite(['--label', 'desk', '--data-dir', a, ...net]);
    expect(offer.code).toMatch(/^\d{1,3}-[a-z]+-[a-z]+-[a-z]+$/);
    expect(offer.uri).toMatch(new RegExp(`^peernet://pair/${idA}\\?n=${offer.code.split('-')[0]}&s=[A-Za-z0-9_-]{22}$`));
    expect(offer.expiresAt).toBeGreaterThanOrEqual(before + 600_000);
    expect(offer.expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);

    const joined = await cli(['join', offer.code, '--label', 'laptop', '--timeout', '15000', '--data-dir', b, ...net]);
    expect(joined).toMatchObject({ code: 0, stderr: '' });
    const match = new RegExp(`^paired ${idA} \\(laptop\\)\nconfirmation: (\\d{3} \\d{3})\n$`).exec(joined.stdout);
    expect(match).not.toBeNull();

    const invited = await inviter.exit();
    expect(invited).toMatchObject({ code: 0, stderr: '' });
    const last = JSON.parse(invited.stdout.trim().split('\n')[1] as string) as unknown;
    expect(last).toEqual({ paired: idB, label: 'desk', sas: match?.[1] });

    expect(await trustOf(a)).toEqual([{ id: idB, label: 'desk' }]);
    expect(await trustOf(b)).toEqual([{ id: idA, label: 'laptop' }]);
  }, 30_000);

  it('a wrong code: join exits 8 saying the code was wrong, the invite exits 8 saying it was burned; nobody is paired', async () => {
    const a = await tempDir();
    const b = await tempDir();
    const net = loopback();
    const { inviter, offer } = await invite(['--data-dir', a, ...net]);
    // The same number (so the joiner finds the inviter), other words.
    const [number, w1, w2, w3] = offer.code.split('-') as [string, string, string, string];
    let wrong = `${number}-${w2}-${w3}-${w1}`;
    if (wrong === offer.code) wrong = `${number}-${w1 === 'anchor' ? 'violet' : 'anchor'}-${w2}-${w3}`;

    const joined = await cli(['join', wrong, '--timeout', '15000', '--data-dir', b, ...net]);
    expect(joined.code).toBe(EXIT.pairing);
    expect(joined.stdout).toBe('');
    expect(joined.stderr).toMatch(/^peernet: pairing_failed: wrong code: .*ask for a new code/);

    const invited = await inviter.exit();
    expect(invited.code).toBe(EXIT.pairing);
    expect(invited.stderr).toMatch(/^\{"error":\{"code":"invite_closed","message":"the invite was burned: a join tried a wrong code/);
    expect(await trustOf(a)).toEqual([]);
    expect(await trustOf(b)).toEqual([]);
  }, 30_000);

  it('join of a code nobody offers, with a short --timeout: exit 8, inviter not found', async () => {
    const started = Date.now();
    const r = await cli(['join', '123-violet-anchor-orbit', '--timeout', '1000', '--data-dir', await tempDir(), ...loopback()]);
    expect(r.code).toBe(EXIT.pairing);
    expect(r.stderr).toMatch(/^peernet: inviter_not_found: inviter not found: .*numbered 123 was not found within 1000 ms/);
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('a malformed code, and bad --ttl, --attempts or --timeout values: exit 2', async () => {
    const dir = await tempDir();
    const offline = [...LOCAL, '--no-discovery'];
    const short = await cli(['join', '473-violet', '--data-dir', dir, ...offline]);
    expect(short.code).toBe(EXIT.usage);
    expect(short.stderr).toMatch(/^peernet: invalid_argument: invite code has 2 parts, not 4/);
    const typo = await cli(['join', '473-violet-anchor-orbitx', '--json', '--data-dir', dir, ...offline]);
    expect(typo.code).toBe(EXIT.usage);
    expect(JSON.parse(typo.stderr)).toEqual({ error: { code: 'invalid_argument', message: expect.stringContaining('did you mean "orbit"?') } });
    expect((await cli(['join', 'peernet://pair/nope?n=1&s=x', '--data-dir', dir, ...offline])).code).toBe(EXIT.usage);
    expect((await cli(['join', '--data-dir', dir])).stderr).toMatch(/^peernet: usage: join needs <code-or-uri>/);
    for (const ttl of ['0', '500ms', '1.5m', '25h', 'soon']) {
      const r = await cli(['invite', '--ttl', ttl, '--data-dir', dir, ...offline]);
      expect({ ttl, code: r.code }).toEqual({ ttl, code: EXIT.usage });
      expect(r.stderr).toMatch(/^peernet: usage: --ttl must be a duration from 1s to 24h/);
    }
    expect((await cli(['invite', '--attempts', '0', '--data-dir', dir, ...offline])).stderr).toMatch(/--attempts must be an integer from 1 to 100/);
    expect((await cli(['join', '1-a-b-c', '--timeout', '0', '--data-dir', dir])).code).toBe(EXIT.usage);
    expect(await trustOf(dir)).toEqual([]);
  });

  it('invite --ttl 1s: nobody joins, it exits 8 saying it expired', async () => {
    const invited = start(['invite', '--ttl', '1s', '--no-qr', '--data-dir', await tempDir(), ...LOCAL, '--no-discovery']);
    const code = (await invited.line(/^invite code: /)).slice('invite code: '.length);
    expect(await invited.line(/^valid for /)).toMatch(new RegExp(`^valid for 1 second \\(until \\d\\d:\\d\\d:\\d\\d\\); on the other device run: peernet join ${code}$`));
    const r = await invited.exit();
    expect(r.code).toBe(EXIT.pairing);
    expect(r.stderr).toBe('peernet: invite_closed: the invite expired: nobody joined within 1 second; run peernet invite again for a new code\n');
  });

  it('a number no open invite has, while one is open: join exits 8 naming the node that answered; SIGINT cancels the invite, exit 8', async () => {
    const a = await tempDir();
    const idA = await idOf(a);
    const net = loopback();
    const { inviter, offer } = await invite(['--data-dir', a, ...net]);
    // Another of the inviter's numbers (the same first two digits point at it), with no invite open.
    const [number, ...words] = offer.code.split('-') as [string, ...string[]];
    const other = Math.floor(Number(number) / 10) * 10 + ((Number(number) + 1) % 10);
    const joined = await cli(['join', [other, ...words].join('-'), '--timeout', '3000', '--data-dir', await tempDir(), ...net]);
    expect(joined.code).toBe(EXIT.pairing);
    expect(joined.stderr).toBe(
      `peernet: inviter_not_found: inviter not found: ${idA} has no open invite numbered ${other} ` +
        '(it may have expired or been used up, or the number is mistyped): ask for a new code (peernet invite on the other device)\n',
    );

    // The invite is still open; SIGINT cancels it.
    inviter.child.kill('SIGINT');
    const r = await inviter.exit();
    expect(r.code).toBe(EXIT.pairing);
    expect(JSON.parse(r.stderr)).toEqual({ error: { code: 'invite_closed', message: 'the invite was cancelled (SIGINT or SIGTERM): nobody was paired' } });
  });
});
