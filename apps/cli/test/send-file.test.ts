import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Duplex } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { children, cli, idOf, main, pairedDirs, serve, tempDir, type Result } from './helpers.js';
import { encodeHeader, fileNameProblem, parseHeader, receiveFile, type ReceiveOptions } from '../src/files.js';

// The file transfer of `peernet serve --accept-files` and `peernet send-file`:
// the receiver's rules over an in-memory stream, then the built CLI in real
// child processes on loopback only (--host 127.0.0.1 --no-discovery, dialled
// with --connect).
const root = join(__dirname, '..', '..', '..');
const NO_DISCOVERY = ['--host', '127.0.0.1', '--no-discovery'];

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Polls `check` until it holds; fails after `ms` with `what`. For file system state, which has no event to wait for. */
async function until(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// ---- the receiver's rules, over an in-memory stream ---------------------------

/**
 * Two connected in-memory byte streams: what one writes the other reads,
 * `end()` half-closes, `destroy(err)` errors the other side (a reset).
 */
function streamPair(): [Duplex, Duplex] {
  const sides: Duplex[] = [];
  const make = (other: () => Duplex): Duplex =>
    new Duplex({
      allowHalfOpen: true,
      read() {},
      write(chunk: Buffer, _encoding, done) {
        other().push(chunk);
        done();
      },
      final(done) {
        other().push(null);
        done();
      },
      destroy(error, done) {
        const peer = other();
        if (!peer.destroyed && !(peer.readableEnded && peer.writableFinished)) {
          peer.destroy(Object.assign(new Error('the peer reset the stream'), { code: 'stream_reset' }));
        }
        done(error);
      },
    });
  sides.push(make(() => sides[1] as Duplex), make(() => sides[0] as Duplex));
  return sides as [Duplex, Duplex];
}

/** Sends raw `parts` on one side and lets `receiveFile` serve the other; resolves with its outcome and the status line. */
async function receiveRaw(parts: readonly Buffer[], options: ReceiveOptions, end = true) {
  const [sender, receiver] = streamPair();
  sender.on('error', () => undefined);
  const statusText = new Promise<string>((resolve) => {
    let text = '';
    sender.setEncoding('utf8').on('data', (d: string) => (text += d));
    sender.on('end', () => resolve(text));
    sender.on('close', () => resolve(text));
  });
  const outcome = receiveFile(receiver, options);
  for (const part of parts) sender.write(part);
  if (end) sender.end();
  return { outcome: await outcome, status: await statusText, sender };
}

describe('file names', () => {
  it('only plain base names pass', () => {
    for (const name of ['notes.txt', '.hidden', 'a b c', 'résumé.pdf', '日本.txt', 'x'.repeat(255), '...', 'a..b']) {
      expect({ name, problem: fileNameProblem(name) }).toEqual({ name, problem: undefined });
    }
    const refused = ['', '.', '..', '../evil', '..\\evil', 'a/b', '/etc/passwd', 'C:\\x', 'a\\b', 'nul\0byte', 'line\nbreak',
      'esc\u001b[31m', 'x'.repeat(256), 'é'.repeat(128), '\uD800', 42, null];
    for (const name of refused) expect({ name, problem: fileNameProblem(name) }).toEqual({ name, problem: expect.any(String) });
  });

  it('a header is a JSON object with a plain name and a whole size', () => {
    const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
    expect(parseHeader(json({ name: 'a.txt', size: 3 }))).toEqual({ name: 'a.txt', size: 3 });
    expect(parseHeader(json({ name: 'a.txt', size: 0, sha256: 'a'.repeat(64) }))).toEqual({ name: 'a.txt', size: 0, sha256: 'a'.repeat(64) });
    const bad: unknown[] = [[], 'a', null, { name: '../a', size: 1 }, { name: 'a', size: -1 }, { name: 'a', size: 1.5 },
      { name: 'a', size: '1' }, { name: 'a', size: 2 ** 53 }, { name: 'a', size: 1, sha256: 'XYZ' }];
    for (const value of bad) expect(() => parseHeader(json(value))).toThrow(expect.objectContaining({ code: 'bad_request' }));
    expect(() => parseHeader(Buffer.from([0x7b, 0xff, 0x7d]))).toThrow(expect.objectContaining({ code: 'bad_request' }));
  });
});

describe('receiveFile', () => {
  const options = (dir: string, more: Partial<ReceiveOptions> = {}): ReceiveOptions => ({ dir, maxBytes: 1024, overwrite: false, ...more });

  it('stores exactly the announced bytes and answers ok with their sha256', async () => {
    const dir = await tempDir();
    const content = randomBytes(700);
    const { outcome, status } = await receiveRaw([encodeHeader({ name: 'a.bin', size: 700 }), content.subarray(0, 1), content.subarray(1)], options(dir));
    expect(outcome).toEqual({ ok: true, name: 'a.bin', bytes: 700, sha256: sha256(content), path: join(dir, 'a.bin') });
    expect(JSON.parse(status)).toEqual({ ok: true, name: 'a.bin', bytes: 700, sha256: sha256(content) });
    expect(await readFile(join(dir, 'a.bin'))).toEqual(content);
    expect(await readdir(dir)).toEqual(['a.bin']);
  });

  it('an empty file is a file', async () => {
    const dir = await tempDir();
    const { outcome } = await receiveRaw([encodeHeader({ name: 'empty', size: 0 })], options(dir));
    expect(outcome).toMatchObject({ ok: true, bytes: 0 });
    expect((await stat(join(dir, 'empty'))).size).toBe(0);
  });

  const refusals: [string, (dir: string) => Buffer[], string, RegExp][] = [
    ['a traversal name', () => [encodeHeader({ name: '../evil', size: 1 }), Buffer.from('x')], 'bad_request', /path separator/],
    ['an absolute name', () => [encodeHeader({ name: '/tmp/evil', size: 1 }), Buffer.from('x')], 'bad_request', /path separator/],
    ['a size above the cap', () => [encodeHeader({ name: 'big', size: 1025 }), Buffer.alloc(1025)], 'file_too_large', /1025 bytes, more than the 1024/],
    ['fewer bytes than announced', () => [encodeHeader({ name: 'short', size: 10 }), Buffer.alloc(9)], 'bad_request', /ended after 9 of the 10 bytes/],
    ['more bytes than announced', () => [encodeHeader({ name: 'long', size: 10 }), Buffer.alloc(11)], 'bad_request', /more than the 10 bytes/],
    ['a wrong sha256', () => [encodeHeader({ name: 'sum', size: 1, sha256: '0'.repeat(64) }), Buffer.from('x')], 'bad_request', /does not match/],
    ['a header length of 0', () => [Buffer.alloc(4)], 'bad_request', /header is 0 bytes/],
    ['a header length above 4096', () => [Buffer.from([0, 0, 0x10, 0x01])], 'bad_request', /header is 4097 bytes/],
    ['a cut header', () => [Buffer.from([0, 0, 0, 20]), Buffer.from('{"na')], 'bad_request', /ended inside the header/],
  ];
  it.each(refusals)('refuses %s with a status line, and keeps nothing', async (_, parts, code, message) => {
    const parent = await tempDir();
    const dir = join(parent, 'inbox');
    await mkdir(dir);
    const { outcome, status } = await receiveRaw(parts(dir), options(dir));
    expect(outcome).toMatchObject({ ok: false, error: { code, message: expect.stringMatching(message) } });
    expect(JSON.parse(status)).toEqual({ ok: false, code, message: expect.stringMatching(message) });
    expect(await readdir(dir)).toEqual([]);
    expect(await readdir(parent)).toEqual(['inbox']);
  });

  it('refuses an existing name unless overwrite, and replaces it with overwrite', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'same'), 'keep');
    const first = await receiveRaw([encodeHeader({ name: 'same', size: 3 }), Buffer.from('new')], options(dir));
    expect(first.outcome).toMatchObject({ ok: false, error: { code: 'file_exists' } });
    expect(await readFile(join(dir, 'same'), 'utf8')).toBe('keep');
    const second = await receiveRaw([encodeHeader({ name: 'same', size: 3 }), Buffer.from('new')], options(dir, { overwrite: true }));
    expect(second.outcome).toMatchObject({ ok: true });
    expect(await readFile(join(dir, 'same'), 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['same']);
  });

  it('a reset in the middle removes the temporary file', async () => {
    const dir = await tempDir();
    const [sender, receiver] = streamPair();
    sender.on('error', () => undefined);
    const outcome = receiveFile(receiver, options(dir));
    sender.write(encodeHeader({ name: 'cut', size: 100 }));
    sender.write(Buffer.alloc(50));
    await until(async () => (await readdir(dir)).some((n) => n.startsWith('.cut.partial-')), 'the partial file');
    sender.destroy(new Error('sender gone'));
    expect(await outcome).toMatchObject({ ok: false, name: 'cut', error: { code: 'stream_reset' } });
    expect(await readdir(dir)).toEqual([]);
  });

  it('a sender that stops sending is given up after the idle time', async () => {
    const dir = await tempDir();
    const { outcome } = await receiveRaw([encodeHeader({ name: 'slow', size: 100 }), Buffer.alloc(10)], options(dir, { idleMs: 100 }), false);
    expect(outcome).toMatchObject({ ok: false, error: { code: 'timeout' } });
    expect(await readdir(dir)).toEqual([]);
  });
});

// ---- two processes ------------------------------------------------------------

/** A receiving serve on b (files into a fresh DIR inside its own temp dir) and a sender data dir a paired with it. */
async function receiver(extra: readonly string[] = []) {
  const { a, b, idA } = await pairedDirs();
  const parent = await tempDir();
  const inbox = join(parent, 'inbox');
  await mkdir(inbox);
  const server = await serve(['--accept-files', inbox, ...extra, '--data-dir', b, ...NO_DISCOVERY]);
  const sendFile = (path: string, more: readonly string[] = []): Promise<Result> =>
    cli(['send-file', server.id, path, ...more, '--connect', `127.0.0.1:${server.port}`, '--data-dir', a, ...NO_DISCOVERY]);
  return { a, b, idA, parent, inbox, server, sendFile };
}

describe('send-file to serve --accept-files', () => {
  beforeAll(() => {
    if (!existsSync(main)) throw new Error(`${main} is missing: build apps/cli first (pnpm --filter @peernet/cli build)`);
  });

  it('an 8 MiB file arrives byte for byte; both sides print its sha256', async () => {
    const { idA, inbox, server, sendFile } = await receiver();
    const source = join(await tempDir(), 'random.bin');
    const content = randomBytes(8 * 1024 * 1024);
    await writeFile(source, content);
    const digest = sha256(content);

    const sent = await sendFile(source);
    expect(sent).toEqual({ code: 0, stdout: `sent random.bin: ${content.length} bytes, sha256 ${digest}\n`, stderr: '' });
    expect(await server.line(/^received /)).toBe(`received random.bin from ${idA}: ${content.length} bytes, sha256 ${digest}`);
    expect(sha256(await readFile(join(inbox, 'random.bin')))).toBe(digest);
    expect(await readdir(inbox)).toEqual(['random.bin']);
    if (process.platform !== 'win32') expect((await stat(join(inbox, 'random.bin'))).mode & 0o777).toBe(0o600);

    // --name chooses the name there; --json prints one object.
    const json = await sendFile(source, ['--name', 'copy.bin', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ sent: 'copy.bin', peer: server.id, bytes: content.length, sha256: digest });
    await server.line(/^received copy\.bin /);
    expect(sha256(await readFile(join(inbox, 'copy.bin')))).toBe(digest);
  }, 60_000);

  it('a name that is not a plain base name is refused (exit 5, bad_request); nothing is written inside or outside DIR', async () => {
    const { parent, inbox, server, sendFile } = await receiver();
    const source = join(await tempDir(), 'evil.txt');
    await writeFile(source, 'payload');
    for (const name of ['../evil', '..', '/tmp/evil-abs', 'sub/evil']) {
      const r = await sendFile(source, ['--name', name]);
      expect({ name, code: r.code, stdout: r.stdout }).toEqual({ name, code: 5, stdout: '' });
      expect(r.stderr).toMatch(/^peernet: bad_request: the peer did not store .*refused file name: /);
      await server.line(/^not received .* \(bad_request: refused file name: /);
    }
    expect(await readdir(inbox)).toEqual([]);
    expect(await readdir(parent)).toEqual(['inbox']);
    expect(existsSync('/tmp/evil-abs')).toBe(false);
  }, 60_000);

  it('an existing name is refused (exit 5, file_exists) and left as it was', async () => {
    const { inbox, server, sendFile } = await receiver();
    await writeFile(join(inbox, 'notes.txt'), 'keep me');
    const source = join(await tempDir(), 'notes.txt');
    await writeFile(source, 'replacement');
    const r = await sendFile(source, ['--json']);
    expect(r.code).toBe(5);
    expect(JSON.parse(r.stderr)).toEqual({ error: { code: 'file_exists', message: expect.stringMatching(/"notes\.txt" already exists .*--overwrite/) } });
    await server.line(/^not received "notes\.txt" from .* \(file_exists: /);
    expect(await readFile(join(inbox, 'notes.txt'), 'utf8')).toBe('keep me');
    expect(await readdir(inbox)).toEqual(['notes.txt']);
  }, 60_000);

  it('with --overwrite an existing name is replaced', async () => {
    const { inbox, server, sendFile } = await receiver(['--overwrite']);
    await writeFile(join(inbox, 'notes.txt'), 'old');
    const source = join(await tempDir(), 'notes.txt');
    await writeFile(source, 'new');
    expect((await sendFile(source)).code).toBe(0);
    await server.line(/^received notes\.txt /);
    expect(await readFile(join(inbox, 'notes.txt'), 'utf8')).toBe('new');
    expect(await readdir(inbox)).toEqual(['notes.txt']);
  }, 60_000);

  it('a file above --max-file-bytes is refused before any byte is written (exit 5, file_too_large)', async () => {
    const { inbox, sendFile } = await receiver(['--max-file-bytes', '1000']);
    const source = join(await tempDir(), 'big.bin');
    await writeFile(source, randomBytes(2000));
    const r = await sendFile(source);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^peernet: file_too_large: .*2000 bytes, more than the 1000 this node accepts/);
    expect(await readdir(inbox)).toEqual([]);
  }, 60_000);

  it('a sender killed mid-transfer leaves neither the file nor a partial file', async () => {
    const { a, idA, inbox, server } = await receiver();
    // A sender that sends the header and 1 MiB of a 64 MiB file, then stalls until it is killed.
    const script = join(await tempDir(), 'stalling-sender.mjs');
    const url = (path: string): string => pathToFileURL(path).href;
    await writeFile(
      script,
      [
        `import { PeerNet } from ${JSON.stringify(url(join(root, 'packages', 'peernet', 'dist', 'index.js')))};`,
        `import { encodeHeader } from ${JSON.stringify(url(join(root, 'apps', 'cli', 'dist', 'files.js')))};`,
        'const [dataDir, peer, port] = process.argv.slice(2);',
        "const node = await PeerNet.start({ dataDir, host: '127.0.0.1', discovery: [] });",
        "await node.connect(peer, { host: '127.0.0.1', port: Number(port) });",
        "const stream = await node.openStream(peer, 'peernet.file');",
        "stream.on('error', () => undefined);",
        "stream.write(encodeHeader({ name: 'big.bin', size: 64 * 1024 * 1024 }));",
        "stream.write(Buffer.alloc(1024 * 1024, 7), () => console.log('partial sent'));",
      ].join('\n'),
    );
    const sender = spawn(process.execPath, [script, a, server.id, String(server.port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(sender);
    let stderr = '';
    sender.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const partialSent = new Promise<void>((resolve, reject) => {
      createInterface({ input: sender.stdout as NodeJS.ReadableStream }).on('line', (l) => l === 'partial sent' && resolve());
      sender.once('exit', (code) => reject(new Error(`the sender exited with ${String(code)}: ${stderr}`)));
    });
    await partialSent;
    // Some of the bytes have reached the disk on the receiving side.
    let partial = '';
    await until(async () => {
      partial = (await readdir(inbox)).find((n) => n.startsWith('.big.bin.partial-')) ?? '';
      return partial !== '' && (await stat(join(inbox, partial)).catch(() => undefined))?.size !== 0;
    }, 'some bytes in the partial file');

    sender.kill('SIGKILL');
    await once(sender, 'exit');
    expect(await server.line(/^not received /)).toMatch(
      new RegExp(`^not received "big\\.bin" from ${idA} \\((connection_closed|stream_reset): `),
    );
    expect(await readdir(inbox)).toEqual([]);
  }, 60_000);

  it('to a peer that does not accept files: exit 5, no_such_handle, with what to run there', async () => {
    const { a, b } = await pairedDirs();
    const server = await serve(['--expose', 'echo', '--data-dir', b, ...NO_DISCOVERY]);
    const source = join(await tempDir(), 'x.txt');
    await writeFile(source, 'x');
    const r = await cli(['send-file', server.id, source, '--connect', `127.0.0.1:${server.port}`, '--data-dir', a, ...NO_DISCOVERY]);
    expect(r).toEqual({
      code: 5,
      stdout: '',
      stderr: `peernet: no_such_handle: peer ${server.id} does not accept files (run \`peernet serve --accept-files DIR\` there)\n`,
    });
  }, 60_000);

  it('what cannot work is refused before a node starts (exit 2)', async () => {
    const dir = await tempDir();
    const peer = await idOf(await tempDir());
    await cli(['pair', peer, '--data-dir', dir]);
    const cases: [string[], RegExp][] = [
      [['send-file', peer, join(dir, 'missing')], /^peernet: invalid_argument: cannot read .*missing: no such file\n$/],
      [['send-file', peer, dir], /^peernet: invalid_argument: .* is a directory: send-file sends one file/],
      [['send-file', peer], /^peernet: usage: send-file needs <path>: peernet send-file <id> <path>\n$/],
      [['serve', '--overwrite'], /^peernet: usage: --max-file-bytes and --overwrite need --accept-files DIR\n$/],
      [['serve', '--accept-files', join(dir, 'nope')], /^peernet: usage: --accept-files .*nope: no such directory \(create it first\)\n$/],
      [['serve', '--accept-files', dir], /^peernet: usage: --accept-files must not be the data dir/],
      [['serve', '--accept-files', await tempDir(), '--max-file-bytes', '1G'], /^peernet: usage: --max-file-bytes must be a whole number of bytes/],
      [['send-file', peer, 'x', '--overwrite'], /^peernet: usage: --overwrite does not apply to send-file/],
    ];
    for (const [args, stderr] of cases) {
      const r = await cli([...args, '--data-dir', dir, ...NO_DISCOVERY]);
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(r.stderr).toMatch(stderr);
    }
    const help = await cli(['send-file', '--help']);
    expect(help.stdout).toMatch(/^usage: peernet send-file <id> <path> \[options\]\n/);
    expect(help.stdout).toMatch(/^ {2}--name NAME +the file name the peer stores it under/m);
    expect((await cli(['--help'])).stdout).toMatch(/^ {2}send-file <id> <path> +send a file to a peer/m);
    expect((await cli(['serve', '--help'])).stdout).toMatch(/^ {2}--accept-files DIR +receive files/m);
  }, 60_000);
});
