// The CLI across networks over HyperDHT, in real processes. RULE: a HyperDHT
// node only ever runs inside the network namespaces of a lab this file
// creates (a bridge with no way out), and always with an explicit
// --bootstrap list of dht-bootstrap nodes in that lab: never on the public
// network, never in the machine's own namespace.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Waiters, createNetnsLab, netnsUnavailableReason, readLines, withTimeout, type NetnsHost, type NetnsLab } from '@peernet/compliance';
import { generateIdentity } from '@peernet/identity';
import { parseCommandLine } from '../src/args.js';
import { nodeOptions, type Context } from '../src/context.js';
import { cli, idOf, main, tempDir } from './helpers.js';

jest.setTimeout(120_000);

const unavailable = netnsUnavailableReason();
if (unavailable) console.warn(`skipping the CLI's DHT tests: ${unavailable} (they run only inside network namespaces)`);
const describeInLab = unavailable ? describe.skip : describe;

/** A CLI process in a lab host, with its stdout lines and a way to wait on them. */
interface LabProcess {
  readonly child: ChildProcess;
  readonly lines: string[];
  stderr(): string;
  /** Resolves with the first line (from index `from` on) matching `pattern`; rejects on exit or after `ms`. */
  line(pattern: RegExp, ms?: number, from?: number): Promise<string>;
  /** Resolves with the exit code once the process has exited and its output is read. */
  readonly exited: Promise<number | null>;
}

function startIn(lab: NetnsLab, host: NetnsHost, args: readonly string[], owned: ChildProcess[]): LabProcess {
  const child = lab.spawn(host, [process.execPath, main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  owned.push(child);
  const lines: string[] = [];
  const waiters = new Waiters();
  let stderr = '';
  readLines(child.stdout!, (l) => {
    lines.push(l);
    waiters.wake();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const describeState = (): string => `peernet ${args.join(' ')} printed ${JSON.stringify(lines)}; stderr: ${stderr}`;
  const line = (pattern: RegExp, ms = 30_000, from = 0): Promise<string> => {
    const found = waiters.until(() => lines.slice(from).find((l) => pattern.test(l)), ms, () => `a line matching ${pattern}: ${describeState()}`);
    // A process that exits will print nothing more: fail at once, with what it said.
    const died = exited.then((code) => {
      const late = lines.slice(from).find((l) => pattern.test(l));
      if (late !== undefined) return late;
      throw new Error(`exited with ${String(code)} before a line matching ${pattern}: ${describeState()}`);
    });
    return Promise.race([found, died]);
  };
  return { child, lines, stderr: () => stderr, line, exited };
}

/** Runs a CLI command in a lab host to its end. */
async function runIn(
  lab: NetnsLab,
  host: NetnsHost,
  args: readonly string[],
  owned: ChildProcess[],
  ms = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = startIn(lab, host, args, owned);
  const code = await withTimeout(p.exited, ms, `peernet ${args.join(' ')} to exit`);
  return { code, stdout: p.lines.map((l) => `${l}\n`).join(''), stderr: p.stderr() };
}

describeInLab('across networks: dht-bootstrap, serve/call/send over the DHT (in network namespaces)', () => {
  let lab: NetnsLab;
  // Processes that outlive one test (the bootstrap nodes, the serves): killed after all.
  const longLived: ChildProcess[] = [];
  // Processes of one test: killed after it.
  const shortLived: ChildProcess[] = [];
  let bootstrap: string[] = [];
  let bootstrapNodes: LabProcess[] = [];
  let h1: NetnsHost;
  let h2: NetnsHost;
  let h3: NetnsHost;

  beforeAll(() => {
    if (!existsSync(main)) throw new Error(`${main} is missing: build first (pnpm build)`);
    lab = createNetnsLab({ hosts: 3 });
    [h1, h2, h3] = lab.hosts as [NetnsHost, NetnsHost, NetnsHost];
  });

  afterEach(async () => {
    await Promise.all(shortLived.splice(0).map(kill));
  });

  afterAll(async () => {
    await Promise.all(longLived.splice(0).map(kill));
    lab?.destroy();
  });

  it('dht-bootstrap prints its address as the first line and serves a private network; a second one joins it', async () => {
    // One process is enough: it runs four DHT nodes (a node must hear from three before it holepunches).
    const first = startIn(lab, h1, ['dht-bootstrap', '--host', h1.address], longLived);
    expect(await first.line(/./)).toBe(`${h1.address}:49737`);
    const second = startIn(lab, h1, ['dht-bootstrap', '--host', h1.address, '--port', '49750', '--bootstrap', first.lines[0]!, '--json'], longLived);
    expect(JSON.parse(await second.line(/./))).toEqual({ event: 'listening', address: `${h1.address}:49750` });
    bootstrap = [first.lines[0]!, `${h1.address}:49750`];
    bootstrapNodes = [first, second];
    for (const p of bootstrapNodes) expect(p.stderr()).toBe('');
  });

  it('two serve nodes with LAN discovery off, paired with the CLI, reach each other by id; call and send from another host by id alone; peers shows dht', async () => {
    expect(bootstrap).toHaveLength(2);
    const [a, b, c] = [await tempDir(), await tempDir(), await tempDir()];
    const [idA, idB, idC] = await Promise.all([idOf(a), idOf(b), idOf(c)]);
    // a pairs b and c; b and c pair a. No address is given anywhere.
    for (const [dir, peer] of [[a, idB], [a, idC], [b, idA], [c, idA]] as const) {
      expect((await cli(['pair', peer, '--data-dir', dir])).code).toBe(0);
    }
    // --no-discovery: no mDNS or UDP broadcast, so no LAN address is ever known; the hosts share a
    // bridge, and a session found on the LAN would be TCP: `transport: 'dht'` below proves the path.
    // a knows the first bootstrap node only, b both (repeated), the call both (comma-separated), the
    // send the second only: it joined the first, so all of them are one network.
    const [first, second] = bootstrap as [string, string];
    const serveA = startIn(lab, h2, ['serve', '--expose', 'echo', '--expose', 'chat', '--data-dir', a, '--no-discovery', '--bootstrap', first], longLived);
    const serveB = startIn(lab, h3, ['serve', '--data-dir', b, '--no-discovery', '--bootstrap', first, '--bootstrap', second], longLived);
    await serveA.line(new RegExp(`^listening ${idA} `));
    expect(await serveA.line(/^dht listening /)).toBe(`dht listening ${idA} (private network, bootstrap ${first})`);
    await serveB.line(new RegExp(`^dht listening ${idB} `));
    // A private network: no note about the public one.
    expect(serveA.stderr()).toBe('');

    // The two serves find each other by id over the DHT.
    await Promise.all([serveA.line(new RegExp(`^online ${idB}$`)), serveB.line(new RegExp(`^online ${idA}$`))]);
    const peers = JSON.parse((await cli(['peers', '--json', '--data-dir', a])).stdout) as Record<string, unknown>[];
    expect(peers.find((p) => p.id === idB)).toEqual({
      id: idB,
      label: null,
      status: 'online',
      transport: 'dht',
      address: 'dht',
      added: expect.any(String),
    });
    const table = (await cli(['peers', '--data-dir', a])).stdout;
    expect(table).toMatch(/^ID +LABEL +STATUS +TRANSPORT +ADDRESS +ADDED$/m);
    expect(table).toMatch(new RegExp(`^${idB} +- +online +dht +dht +\\d{4}-`, 'm'));

    // call and send from host 3 (its own data dir c: b's is in use by b's serve), by id alone.
    const call = await runIn(
      lab,
      h3,
      ['call', idA, 'echo', '{"over":"the dht"}', '--data-dir', c, '--no-discovery', '--dht', '--bootstrap', `${first},${second}`, '--timeout', '30000'],
      shortLived,
    );
    expect(call).toEqual({ code: 0, stdout: '{"over":"the dht"}\n', stderr: '' });
    const from = serveA.lines.length;
    const send = await runIn(
      lab,
      h3,
      ['send', idA, 'chat', '"hello across"', '--data-dir', c, '--json', '--no-discovery', '--bootstrap', second, '--timeout', '30000'],
      shortLived,
    );
    expect(send).toEqual({ code: 0, stdout: '{"sent":true}\n', stderr: '' });
    await serveA.line(new RegExp(`^<${idC.slice(0, 8)}> hello across$`), 10_000, from);
    // a saw c come over the DHT too.
    await serveA.line(new RegExp(`^online ${idC}$`));
  });

  it("dht-relay prints the data dir's id first (the same on every start) and exits 0 on SIGTERM or SIGINT", async () => {
    const dir = await tempDir();
    const id = await idOf(dir);
    const allowed = await idOf(await tempDir());
    const relay = startIn(lab, h1, ['dht-relay', '--data-dir', dir, '--bootstrap', bootstrap.join(','), '--allow', allowed], shortLived);
    expect(await relay.line(/./)).toBe(id);
    expect(relay.stderr()).toBe('');
    relay.child.kill('SIGTERM');
    expect(await withTimeout(relay.exited, 15_000, 'dht-relay to exit on SIGTERM')).toBe(0);
    // The same id on the next start: it is the data dir's.
    const again = startIn(lab, h1, ['dht-relay', '--data-dir', dir, '--bootstrap', bootstrap[0]!, '--json'], shortLived);
    expect(JSON.parse(await again.line(/./))).toEqual({ event: 'listening', id, network: 'private' });
    again.child.kill('SIGINT');
    expect(await withTimeout(again.exited, 15_000, 'dht-relay to exit on SIGINT')).toBe(0);
  });

  it('bad --bootstrap values are usage errors naming the value, before any DHT node starts', async () => {
    const dir = await tempDir();
    const peer = await idOf(await tempDir());
    await cli(['pair', peer, '--data-dir', dir]);
    const cases: [string[], string][] = [
      [['serve', '--bootstrap', '10.0.0.1', '--data-dir', dir], '"10.0.0.1"'],
      [['call', peer, 'echo', '--bootstrap', `${bootstrap[0]},10.0.0.1:70000`, '--data-dir', dir], '"10.0.0.1:70000"'],
      [['send', peer, 'chat', '--bootstrap', 'a b:1', '--data-dir', dir], '"a b:1"'],
      [['dht-bootstrap', '--host', h1.address, '--bootstrap', 'nowhere'], '"nowhere"'],
    ];
    const results = await Promise.all(cases.map(([args]) => runIn(lab, h2, args, shortLived)));
    cases.forEach(([args, value], i) => {
      const r = results[i]!;
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(r.stderr).toBe(`peernet: usage: --bootstrap must be HOST:PORT (an IPv4 address or a host name, a port from 1 to 65535), got ${value}\n`);
    });
    const json = await runIn(lab, h2, ['serve', '--bootstrap', 'x:0', '--json', '--data-dir', dir], shortLived);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stderr)).toEqual({ error: { code: 'usage', message: expect.stringContaining('"x:0"') } });
    expect(await runIn(lab, h2, ['serve', '--bootstrap', ' , ', '--data-dir', dir], shortLived)).toMatchObject({
      code: 2,
      stderr: 'peernet: usage: --bootstrap is empty: --bootstrap HOST:PORT\n',
    });
  });

  it('dht-bootstrap without --host, or with a host that is not an IPv4 address, exits with the usage code', async () => {
    const missing = await runIn(lab, h1, ['dht-bootstrap', '--port', '49800'], shortLived);
    expect(missing).toEqual({
      code: 2,
      stdout: '',
      stderr: 'peernet: usage: dht-bootstrap needs --host ADDR: the IPv4 address of this machine that other nodes reach it at\n',
    });
    for (const host of ['0.0.0.0', 'localhost', '::1']) {
      const bad = await runIn(lab, h1, ['dht-bootstrap', '--host', host], shortLived);
      expect({ host, code: bad.code }).toEqual({ host, code: 2 });
      expect(bad.stderr).toContain(JSON.stringify(host));
    }
  });

  it('SIGTERM and SIGINT stop dht-bootstrap: it closes the node and exits 0 (a second one on its port exits 6)', async () => {
    // Nodes of a network of their own: a stopped node lingers in the routing tables of the nodes
    // that knew it, and their queries wait for it to time out.
    for (const [signal, port] of [['SIGTERM', '49801'], ['SIGINT', '49802']] as const) {
      const node = startIn(lab, h1, ['dht-bootstrap', '--host', h1.address, '--port', port], shortLived);
      expect(await node.line(/./)).toBe(`${h1.address}:${port}`);
      if (signal === 'SIGTERM') {
        // Its port is taken now: a second one says so and exits (a socket error: 6), it does not hang.
        const taken = await runIn(lab, h1, ['dht-bootstrap', '--host', h1.address, '--port', port], shortLived, 20_000);
        expect(taken).toEqual({ code: 6, stdout: '', stderr: 'peernet: EADDRINUSE: address already in use\n' });
      }
      node.child.kill(signal);
      expect(await withTimeout(node.exited, 15_000, `dht-bootstrap to exit on ${signal}`)).toBe(0);
      expect(node.stderr()).toBe('');
    }
    // And the two that served the nodes above, last.
    const network = bootstrapNodes.splice(0);
    expect(network).toHaveLength(2);
    for (const node of network) node.child.kill('SIGTERM');
    expect(await withTimeout(Promise.all(network.map((n) => n.exited)), 15_000, 'the bootstrap nodes to exit')).toEqual([0, 0]);
  });
});

/** Kills a process (if it still runs) and waits until it is gone. */
async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await gone;
}

// No node starts in the tests below (a DHT node must not run outside the lab).
describe('help of the DHT commands and options', () => {
  it('the new commands are listed, each with its options, an example and its exit codes', async () => {
    const overview = (await cli(['--help'])).stdout;
    expect(overview).toMatch(/^ {2}dht-bootstrap +run a bootstrap node of a private DHT network/m);
    expect(overview).toMatch(/^ {2}dht-relay +relay sessions over the DHT/m);
    const bootstrapHelp = (await cli(['dht-bootstrap', '--help'])).stdout;
    expect(bootstrapHelp).toMatch(/^ {2}--host ADDR +the IPv4 address other nodes reach it at, .*\(required\)$/m);
    expect(bootstrapHelp).toMatch(/^ {2}--bootstrap HOST:PORT +another bootstrap node of the same network/m);
    expect(bootstrapHelp).toMatch(/runs four DHT nodes/);
    expect(bootstrapHelp).toMatch(/\nexample:\n {2}peernet dht-bootstrap --host /);
    expect(bootstrapHelp).toMatch(/^ {2}2 {2}usage/m);
    expect(bootstrapHelp).not.toMatch(/--dht|--data-dir|--relay/);
    const relayHelp = (await cli(['dht-relay', '--help'])).stdout;
    expect(relayHelp).toMatch(/^ {2}--allow ID +only this node may relay through it/m);
    expect(relayHelp).toMatch(/^ {2}--bootstrap HOST:PORT +.*default: the PUBLIC network/m);
    expect(relayHelp).toMatch(/^ {2}7 {2}the data directory/m);
  });

  it('every command that starts a node takes --dht, --bootstrap and --relay, with a DHT example; the others do not', async () => {
    for (const command of ['serve', 'call', 'send', 'send-file', 'chat']) {
      const help = (await cli([command, '--help'])).stdout;
      expect(help).toMatch(/^ {2}--dht +also reach paired peers by id over HyperDHT.*PUBLIC network/m);
      expect(help).toMatch(/^ {2}--bootstrap HOST:PORT +a bootstrap node of a private DHT network \(repeatable or comma-separated; implies --dht\)$/m);
      expect(help).toMatch(/^ {2}--relay ID +a DHT relay/m);
      expect(help).toMatch(new RegExp(`\nexample:\n {2}peernet ${command} .*\n {2}peernet ${command} .*--(dht|bootstrap) .*# across networks, over the DHT\n`));
    }
    for (const command of ['id', 'pair', 'peers']) expect((await cli([command, '--help'])).stdout).not.toMatch(/--dht|--bootstrap|--relay/);
    const dir = await tempDir();
    expect(await cli(['peers', '--dht', '--data-dir', dir])).toMatchObject({
      code: 2,
      stderr: 'peernet: usage: --dht does not apply to peers (see peernet peers --help)\n',
    });
    expect(await cli(['serve', '--allow', 'x', '--data-dir', dir])).toMatchObject({
      code: 2,
      stderr: 'peernet: usage: --allow does not apply to serve (see peernet serve --help)\n',
    });
  });
});

// In-process: what --dht alone would do, without starting any node (a DHT node must not run here).
describe('--dht without --bootstrap', () => {
  const contextOf = (argv: string[]): Context => {
    const parsed = parseCommandLine(argv);
    if (parsed.kind !== 'run') throw new Error('not a command');
    return { flags: parsed.flags, dataDir: '/nonexistent', json: parsed.flags.json === true, out: () => undefined };
  };
  const stderrOf = async (build: () => Promise<unknown>): Promise<{ stderr: string; result: unknown }> => {
    const writes: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    try {
      return { result: await build(), stderr: writes.join('') };
    } finally {
      spy.mockRestore();
    }
  };

  it('adds the DHT transport and says on stderr, in one line, that it joins the public network (not with --json)', async () => {
    const { stderr, result } = await stderrOf(() => nodeOptions(contextOf(['serve', '--dht'])));
    expect(stderr).toMatch(/^peernet: note: --dht without --bootstrap joins the PUBLIC HyperDHT network: .*--bootstrap HOST:PORT\)\n$/);
    // A factory, not a node: nothing has started.
    expect((result as { transports: unknown[] }).transports).toEqual([expect.any(Function)]);
    const json = await stderrOf(() => nodeOptions(contextOf(['call', 'x', 'echo', '--dht', '--json'])));
    expect(json.stderr).toBe('');
    expect((json.result as { transports: unknown[] }).transports).toHaveLength(1);
  });

  it('--bootstrap and --relay imply --dht; --bootstrap keeps it private (no note); without any of them no DHT', async () => {
    const relayId = generateIdentity().id.toString();
    const priv = await stderrOf(() => nodeOptions(contextOf(['serve', '--bootstrap', '10.1.2.3:49737', '--relay', relayId])));
    expect(priv.stderr).toBe('');
    expect((priv.result as { transports: unknown[] }).transports).toHaveLength(1);
    const relayOnly = await stderrOf(() => nodeOptions(contextOf(['serve', '--relay', relayId])));
    expect(relayOnly.stderr).toMatch(/PUBLIC HyperDHT network/);
    const none = await stderrOf(() => nodeOptions(contextOf(['serve'])));
    expect(none.stderr).toBe('');
    expect((none.result as { transports?: unknown }).transports).toBeUndefined();
  });
});
