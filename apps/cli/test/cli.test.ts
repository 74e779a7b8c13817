import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PeerId } from 'peernet';
import { x25519PublicKeyOf } from '@peernet/identity';
import { children, cli, idOf, main, pairedDirs, serve, tempDir, type Result } from './helpers.js';

// Every test runs the built CLI in real child processes, on loopback only:
// each network command gets --host 127.0.0.1 and either --no-discovery or
// --interfaces 127.0.0.1 with a private UDP port.
const LOCAL = ['--host', '127.0.0.1'];
const NO_DISCOVERY = [...LOCAL, '--no-discovery'];

beforeAll(() => {
  if (!existsSync(main)) throw new Error(`${main} is missing: build apps/cli first (pnpm --filter @peernet/cli build)`);
});

/** Starts an interactive `peernet chat` whose stdout lines can be awaited one by one. */
function startChat(args: readonly string[]): {
  child: ChildProcess;
  line: (pattern: RegExp, ms?: number) => Promise<string>;
  stderr: () => string;
} {
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
  return { child, line, stderr: () => stderr };
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
    expect(table.stdout).toMatch(new RegExp(`^ID +LABEL +STATUS +TRANSPORT +ADDRESS +ADDED\n${other} +laptop +- +- +- +\\d{4}-\\d\\d-\\d\\dT`));
    expect(table.stdout).toMatch(/\(status unknown: no peernet serve is running on this data dir\)\n$/);
    const listed = JSON.parse((await cli(['peers', '--json', '--data-dir', dir])).stdout) as unknown[];
    expect(listed).toEqual([{ id: other, label: 'laptop', status: null, transport: null, address: null, added: expect.any(String) }]);

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
    expect(bad.stderr).toBe(
      'peernet: invalid_peer_id: "not-a-peer-id" is not a peer id: peer id must be 52 base32 characters or 64 hex characters, got 13 characters\n',
    );
    const json = await cli(['call', 'zzz', 'echo', '--json', '--data-dir', dir, ...NO_DISCOVERY]);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stderr)).toEqual({ error: { code: 'invalid_peer_id', message: expect.any(String) } });
  });

  it('usage errors exit 2', async () => {
    expect((await cli([])).code).toBe(2);
    expect(await cli(['frobnicate'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown command/) });
    expect(await cli(['id', '--bogus'])).toMatchObject({ code: 2, stderr: 'peernet: usage: unknown option --bogus (see peernet --help)\n' });
    const dir = await tempDir();
    const other = await idOf(await tempDir());
    await cli(['pair', other, '--data-dir', dir]);
    expect(await cli(['call', other, 'echo', '{nope', '--data-dir', dir, ...NO_DISCOVERY])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/not valid JSON/),
    });
  });

  it('usage errors name the option or argument and what to do, never the parser text', async () => {
    const dir = await tempDir();
    const peer = await idOf(await tempDir());
    const cases: [string[], string][] = [
      [['id', '--datadir', dir], 'unknown option --datadir; did you mean --data-dir?'],
      [['peers', '--data-dri', dir], 'unknown option --data-dri; did you mean --data-dir?'],
      [['call', peer, 'echo', '--conect', '127.0.0.1:1'], 'unknown option --conect; did you mean --connect?'],
      [['serve', '--expose=echo', '--no-dicovery'], 'unknown option --no-dicovery; did you mean --no-discovery?'],
      [['id', '-x'], 'unknown option -x (see peernet --help)'],
      [['call', peer, 'echo', '--label', 'x'], '--label does not apply to call (see peernet call --help)'],
      [['peers', '--host', '127.0.0.1'], '--host does not apply to peers (see peernet peers --help)'],
      [['pair', peer, '--connect', '127.0.0.1:1'], '--connect does not apply to pair (see peernet pair --help)'],
      [['pair', peer, '--label'], '--label needs a value: --label TEXT'],
      [['pair', peer, '--label', '--verbose'], '--label needs a value: --label TEXT'],
      [['id', '--json=yes'], '--json takes no value'],
      [['pair', peer, '--label', 'a', '--label', 'b'], '--label is given more than once'],
      [['call', peer], 'call needs <handle>: peernet call <id> <handle> [json]'],
      [['pair'], 'pair needs <id>: peernet pair <id>'],
      [['peers', 'all'], 'unexpected argument "all": peers takes no arguments (peernet peers)'],
      [['call', peer, 'echo', '1', '2'], 'unexpected argument "2": call takes at most 3 arguments (peernet call <id> <handle> [json])'],
      [['sned', peer, 'echo'], 'unknown command "sned"; did you mean send? (see peernet --help)'],
      [['help', 'cal'], 'unknown command "cal"; did you mean call? (see peernet --help)'],
    ];
    const results = await Promise.all(cases.map(([args]) => cli([...args, '--data-dir', dir])));
    cases.forEach(([args, message], i) => {
      const r = results[i] as Result;
      expect({ args, code: r.code, stderr: r.stderr, stdout: r.stdout }).toEqual({ args, code: 2, stderr: `peernet: usage: ${message}\n`, stdout: '' });
    });
    // A negative number is a JSON argument, not an option.
    await cli(['pair', peer, '--data-dir', dir]);
    const negative = await cli(['call', peer, 'echo', '-1', '--timeout', '200', '--data-dir', dir, ...NO_DISCOVERY]);
    expect(negative).toMatchObject({ code: 4, stderr: expect.stringMatching(/^peernet: timeout: /) });
  }, 60_000);

  it('--version and version print the package version; the help of each command is its own', async () => {
    const { version } = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    expect(await cli(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    expect(await cli(['version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    expect((await cli(['--version', '--json'])).stdout).toBe(`${JSON.stringify({ version })}\n`);

    const overview = await cli(['--help']);
    expect(overview.code).toBe(0);
    expect((await cli(['help'])).stdout).toBe(overview.stdout);
    const commands = ['id', 'pair', 'unpair', 'peers', 'serve', 'call', 'send', 'chat', 'dht-bootstrap', 'dht-relay'];
    for (const command of commands) expect(overview.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));

    const texts = new Set<string>();
    for (const command of commands) {
      const help = await cli([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^usage: peernet ${command}\\b`));
      for (const part of ['\noptions:\n', '\nexample:\n  peernet ', '\nexit codes:\n  0  success\n']) expect(help.stdout).toContain(part);
      texts.add(help.stdout);
    }
    expect((await cli(['help', 'send'])).stdout).toBe((await cli(['send', '-h'])).stdout);
    expect(texts.size).toBe(commands.length);

    const call = (await cli(['call', '--help'])).stdout;
    expect(call).toMatch(/^usage: peernet call <id> <handle> \[json\] \[options\]\n/);
    expect(call).toMatch(/^  --connect HOST:PORT +dial the peer at this address/m);
    expect(call).toMatch(/^  3  not paired: .*refused_by_peer/m);
    expect(call).toMatch(/^  4  timeout/m);
    expect(call).not.toContain('--label');
    const id = (await cli(['id', '--help'])).stdout;
    expect(id).toContain('--no-qr');
    expect(id).not.toMatch(/--connect|--host|^  4 /m);
  }, 60_000);

  it('ids are taken in any case and with spaces around them; what is not a key is refused with the reason', async () => {
    const dir = await tempDir();
    const peer = await idOf(await tempDir());
    expect(await cli(['pair', `  ${peer.toUpperCase()}\t`, '--data-dir', dir])).toMatchObject({ code: 0, stdout: `paired ${peer}\n` });
    const hex = PeerId.parse(peer).toHex().toUpperCase();
    expect(await cli(['unpair', hex, '--data-dir', dir])).toMatchObject({ code: 0, stdout: `unpaired ${peer}\n` });

    // 52 valid base32 characters that do not encode a point of the curve: a typo that parses.
    let notAKey: string | undefined;
    for (let n = 1; notAKey === undefined; n++) {
      const candidate = PeerId.fromBytes(Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? n : 0)));
      try {
        x25519PublicKeyOf(candidate);
      } catch {
        notAKey = candidate.toString();
      }
    }
    const bad = await cli(['pair', notAKey, '--data-dir', dir]);
    expect(bad).toMatchObject({ code: 2, stdout: '' });
    expect(bad.stderr).toBe(
      `peernet: invalid_peer_id: "${notAKey}" is not a peer id: it does not encode a valid public key (check it for a mistyped character)\n`,
    );
    expect((await cli(['peers', '--json', '--data-dir', dir])).stdout).toBe('[]\n');
  });

  it("pair refuses this node's own id", async () => {
    const dir = await tempDir();
    const own = await idOf(dir);
    const r = await cli(['pair', own.toUpperCase(), '--data-dir', dir]);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toBe(
      `peernet: invalid_peer_id: ${own} is this node's own id (data dir ${dir}): pair the id the other node prints with peernet id\n`,
    );
    expect((await cli(['peers', '--json', '--data-dir', dir])).stdout).toBe('[]\n');
  });

  it('a data dir that is a file is "not a directory", exit 7 like every data dir problem', async () => {
    const file = join(await tempDir(), 'notes');
    writeFileSync(file, 'keep');
    for (const command of [['id'], ['peers'], ['serve', ...NO_DISCOVERY]]) {
      const r = await cli([...command, '--data-dir', file]);
      expect(r).toMatchObject({ code: 7, stdout: '' });
      expect(r.stderr).toBe(`peernet: not_a_directory: data directory ${file} is not a directory (it is a file): give --data-dir a directory\n`);
    }
    const below = await cli(['id', '--data-dir', join(file, 'peernet')]);
    expect(below).toMatchObject({ code: 7, stderr: expect.stringContaining('a component of its path is a file') });
    expect(readFileSync(file, 'utf8')).toBe('keep');
  });

  it('a trust file written by a newer version says to upgrade (exit 7)', async () => {
    const dir = await tempDir();
    writeFileSync(join(dir, 'trust.json'), JSON.stringify({ version: 2, peers: [] }), { mode: 0o600 });
    const r = await cli(['peers', '--data-dir', dir]);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/^peernet: corrupt_trust_store: trust store .* was written by a newer version of PeerNet .*upgrade PeerNet/);
    expect(r.stderr).not.toMatch(/repair/);
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

  it('paired on one side only: the caller stops at once with exit 3 and the command for the other side; serve prints the stranger', async () => {
    const a = await tempDir();
    const b = await tempDir();
    const idA = await idOf(a);
    const server = await serve(['--expose', 'echo', '--data-dir', b, ...NO_DISCOVERY]); // b never pairs a
    await cli(['pair', server.id, '--data-dir', a]);
    const expected =
      `peernet: refused_by_peer: peer ${server.id} refused us: it has not paired this node (${idA}); ` +
      `to let us in, run on that node: peernet pair ${idA}\n`;
    for (const command of ['call', 'send']) {
      const started = Date.now();
      const r = await cli([command, server.id, 'echo', '1', '--connect', `127.0.0.1:${server.port}`, '--data-dir', a, ...NO_DISCOVERY]);
      expect(r).toEqual({ code: 3, stdout: '', stderr: expected });
      // Well within the default 10 s timeout: the refusal is known after one handshake.
      expect(Date.now() - started).toBeLessThan(5_000);
    }
    const chat = await cli(['chat', server.id, '--connect', `127.0.0.1:${server.port}`, '--data-dir', a, ...NO_DISCOVERY]);
    expect(chat).toEqual({ code: 3, stdout: '', stderr: expected });
    expect(await server.line(/^refused /)).toBe(`refused ${idA} (not paired; to let it in run: peernet pair ${idA})`);

    // The command it printed lets the caller in.
    expect((await cli(['pair', idA, '--data-dir', b])).code).toBe(0);
    await server.line(new RegExp(`^paired ${idA}$`));
    expect(await cli(['call', server.id, 'echo', '1', '--connect', `127.0.0.1:${server.port}`, '--data-dir', a, ...NO_DISCOVERY])).toMatchObject({
      code: 0,
      stdout: '1\n',
    });
  });

  it('paired on one side only, found by discovery on loopback: exit 3 within seconds; serve --json reports the stranger', async () => {
    const a = await tempDir();
    const b = await tempDir();
    const idA = await idOf(a);
    const discovery = [...LOCAL, '--interfaces', '127.0.0.1', '--udp-port', String(randomUdpPort())];
    const server = await serve(['--data-dir', b, ...discovery]);
    await cli(['pair', server.id, '--data-dir', a]);
    const started = Date.now();
    const r = await cli(['call', server.id, 'echo', '--json', '--data-dir', a, ...discovery]);
    expect(r.code).toBe(3);
    expect(Date.now() - started).toBeLessThan(8_000);
    const error = (JSON.parse(r.stderr) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('refused_by_peer');
    expect(error.message).toContain(server.id);
    expect(error.message).toContain(`peernet pair ${idA}`);
    expect(await server.line(/^refused /)).toBe(`refused ${idA} (not paired; to let it in run: peernet pair ${idA})`);
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
    expect(live).toEqual([{ id: idA, label: 'a', status: 'online', transport: 'tcp', address: null, added: expect.any(String) }]);
    // (No address: a gave none; it dialled in, and its listening port is not known to b.)
    expect((await cli(['peers', '--data-dir', b])).stdout).toMatch(new RegExp(`^${idA} +a +online +tcp +- +\\d{4}-`, 'm'));

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
    // One side leaving is said on the other, which waits for it to come back.
    dialling.child.stdin?.end();
    expect((await once(dialling.child, 'exit'))[0]).toBe(0);
    expect(await waiting.line(/./)).toMatch(new RegExp(`^offline ${idA}( \\([a-z_]+\\))?; waiting for it to come back \\(Ctrl-D to quit\\)$`));
    const back = startChat(['chat', idB, '--connect', `127.0.0.1:${port}`, '--data-dir', a, ...NO_DISCOVERY]);
    expect(await back.line(/./)).toMatch(/^connected to /);
    expect(await waiting.line(/./)).toBe(`online ${idA}`);
    back.child.stdin?.write('back again\n');
    expect(await waiting.line(/./)).toBe(`<${idA.slice(0, 8)}> back again`);
    back.child.stdin?.end();
    expect(await waiting.line(/./)).toMatch(new RegExp(`^offline ${idA}`));
    waiting.child.stdin?.end();
    expect((await once(waiting.child, 'exit'))[0]).toBe(0);
    expect(waiting.stderr()).toBe('');
  });

  it('chat: a line typed while the peer is gone is not sent, says so, and the chat ends with exit 6', async () => {
    const { a, b, idA, idB } = await pairedDirs();
    const waiting = startChat(['chat', idA, '--data-dir', b, ...NO_DISCOVERY]);
    const port = /\(listening on 127\.0\.0\.1:(\d+)\)$/.exec(await waiting.line(/^waiting/))?.[1];
    const dialling = startChat(['chat', idB, '--connect', `127.0.0.1:${port}`, '--data-dir', a, ...NO_DISCOVERY]);
    expect(await waiting.line(/./)).toMatch(/^connected to /);
    dialling.child.kill('SIGKILL');
    await once(dialling.child, 'exit');
    expect(await waiting.line(/./)).toMatch(new RegExp(`^offline ${idA}`));
    waiting.child.stdin?.write('anyone there?\n');
    waiting.child.stdin?.end();
    const [code] = (await once(waiting.child, 'exit')) as [number | null];
    expect(code).toBe(6);
    expect(waiting.stderr()).toBe(
      `peernet: not_connected: not sent: peer ${idA} is not connected\n` +
        `peernet: not_connected: 1 line was not sent while ${idA} was offline\n`,
    );
  });

  it('chat: a peer that unpairs us ends the chat with exit 3 and the command to run on its side', async () => {
    const { a, b, idA } = await pairedDirs();
    const server = await serve(['--expose', 'chat', '--data-dir', b, ...NO_DISCOVERY]);
    const chat = startChat(['chat', server.id, '--connect', `127.0.0.1:${server.port}`, '--data-dir', a, ...NO_DISCOVERY]);
    expect(await chat.line(/./)).toMatch(/^connected to /);
    await server.line(new RegExp(`^online ${idA}$`));
    expect((await cli(['unpair', idA, '--data-dir', b])).code).toBe(0);
    expect(await chat.line(/./)).toMatch(new RegExp(`^offline ${server.id}`));
    const [code] = (await once(chat.child, 'exit')) as [number | null];
    expect(code).toBe(3);
    expect(chat.stderr()).toContain(`peernet: refused_by_peer: peer ${server.id} refused us`);
    expect(chat.stderr()).toContain(`run on that node: peernet pair ${idA}`);
  });

  it('a running serve picks up pair and unpair made by other commands', async () => {
    const a = await tempDir();
    const b = await tempDir();
    const idA = await idOf(a);
    const server = await serve(['--expose', 'echo', '--data-dir', b, ...NO_DISCOVERY]);
    await cli(['pair', server.id, '--data-dir', a]);
    const call = (): Promise<Result> =>
      cli(['call', server.id, 'echo', '"hi"', '--connect', `127.0.0.1:${server.port}`, '--data-dir', a, ...NO_DISCOVERY]);

    expect(await call()).toMatchObject({ code: 3, stderr: expect.stringMatching(/^peernet: refused_by_peer: /) });
    expect((await cli(['pair', idA, '--data-dir', b])).code).toBe(0);
    await server.line(new RegExp(`^paired ${idA}$`));
    expect(await call()).toMatchObject({ code: 0, stdout: '"hi"\n' });

    expect((await cli(['unpair', idA, '--data-dir', b])).code).toBe(0);
    await server.line(new RegExp(`^unpaired ${idA}$`));
    expect(await call()).toMatchObject({ code: 3, stderr: expect.stringMatching(/^peernet: refused_by_peer: /) });
  });

  it('a second serve on the same data dir is refused (exit 7, already_running)', async () => {
    const b = await tempDir();
    await serve(['--data-dir', b, ...NO_DISCOVERY]);
    const second = await cli(['serve', '--data-dir', b, ...NO_DISCOVERY]);
    expect(second.code).toBe(7);
    expect(second.stderr).toMatch(/^peernet: already_running: another peernet serve is running on /);
  });
});
