// Pairing by invite over a real LAN: nodes in network namespaces on one bridge,
// started with no addresses and no trust, finding each other by discovery alone
// and pairing with an invite code (or URI).
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Waiters, createNetnsLab, netnsUnavailableReason, type NetnsHost, type NetnsLab } from '@peernet/compliance';
import { cleanup, tempDir, wrongCode } from './helpers.js';

const script = join(__dirname, 'fixtures', 'pair-node.mjs');
const unavailable = netnsUnavailableReason();
if (unavailable) console.warn(`skipping pairing LAN tests: ${unavailable}`);
const describeLan = unavailable ? describe.skip : describe;

interface NodeEvent {
  event: string;
  id?: string;
  peer?: string;
  trusted?: boolean;
  tag?: number;
  code?: string;
  uri?: string;
  reason?: string;
  message?: string;
  label?: string;
  sas?: string;
  result?: unknown;
  error?: string;
  peers?: Array<{ id: string; label?: string; status: string }>;
  open?: string[];
  port?: number;
  admitted?: number;
  refused?: number;
  count?: number;
  handles?: string[];
}

/** A pairing node process in a namespace, with its event log and a way to wait on it. */
class PairNode {
  readonly events: NodeEvent[] = [];
  readonly #waiters = new Waiters();
  #tag = 0;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  id = '';
  port = 0;

  constructor(lab: NetnsLab, readonly host: NetnsHost, dir: string, discovery: string[]) {
    const options = { dataDir: dir, discovery, interfaces: [host.iface] };
    this.child = lab.spawn(host, [process.execPath, script, JSON.stringify(options)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.events.push(JSON.parse(line) as NodeEvent);
      this.#waiters.wake();
    });
  }

  /** Waits for the node's `ready` and learns its id. */
  async ready(): Promise<this> {
    const ready = await this.waitFor((e) => e.event === 'ready', 10_000);
    this.id = ready.id!;
    this.port = ready.port!;
    return this;
  }

  /** Resolves with the first event (from index `from` on) matching `match`, or rejects after `ms`. */
  waitFor(match: (e: NodeEvent) => boolean, ms: number, from = 0): Promise<NodeEvent> {
    return this.#waiters.until(
      () => this.events.slice(from).find(match),
      ms,
      () => `a matching event from ${this.host.namespace}; saw ${JSON.stringify(this.events.slice(from))}`,
    );
  }

  /** Sends a command with a fresh tag; returns the tag. */
  send(cmd: string, fields: Record<string, unknown> = {}): number {
    const tag = ++this.#tag;
    this.child.stdin!.write(JSON.stringify({ cmd, tag, ...fields }) + '\n');
    return tag;
  }

  /** Opens an invite; resolves with its tag, code and URI. */
  async invite(fields: { ttlMs?: number; attempts?: number; label?: string } = {}): Promise<{ tag: number; code: string; uri: string }> {
    const tag = this.send('invite', fields);
    const e = await this.waitFor((x) => (x.event === 'invite' || x.event === 'invite-failed') && x.tag === tag, 10_000);
    if (e.event !== 'invite') throw new Error(`invite failed: ${JSON.stringify(e)}`);
    return { tag, code: e.code!, uri: e.uri! };
  }

  /** How the invite of `tag` ended: its `paired` or `invite-closed` event. */
  inviteOutcome(tag: number, ms: number): Promise<NodeEvent> {
    return this.waitFor((e) => (e.event === 'paired' || e.event === 'invite-closed') && e.tag === tag, ms);
  }

  /** Joins with `code` (or a URI); resolves with the `joined` or `join-failed` event. */
  join(code: string, fields: { timeoutMs?: number; label?: string } = {}): Promise<NodeEvent> {
    const tag = this.send('join', { code, ...fields });
    const ms = (fields.timeoutMs ?? 60_000) + 10_000;
    return this.waitFor((e) => (e.event === 'joined' || e.event === 'join-failed') && e.tag === tag, ms);
  }

  /** Has this node, as a stranger, ask `peer` for `count` pairing sessions at once; resolves with how many it got. */
  async hammer(fields: { host: string; port: number; peer: string; count: number }): Promise<NodeEvent> {
    const tag = this.send('hammer', fields);
    return this.waitFor((e) => e.event === 'hammered' && e.tag === tag, 20_000);
  }

  /** How many pairing admissions this node has rate-limited so far. */
  async limited(): Promise<number> {
    const tag = this.send('limited');
    return (await this.waitFor((e) => e.event === 'limited' && e.tag === tag, 5_000)).count!;
  }

  async peers(): Promise<Array<{ id: string; label?: string; status: string }>> {
    const tag = this.send('peers');
    return (await this.waitFor((e) => e.event === 'peers' && e.tag === tag, 5_000)).peers!;
  }

  /** Calls `name` on `peer` through this node; resolves with the result or the error code. */
  call(peer: string, name: string): Promise<NodeEvent> {
    const tag = this.send('call', { peer, name });
    return this.waitFor((e) => e.event === 'result' && e.tag === tag, 5_000);
  }

  discovered(peer: string, ms: number): Promise<NodeEvent> {
    return this.waitFor((e) => e.event === 'discovered' && e.peer === peer, ms);
  }

  online(peer: string, ms: number): Promise<NodeEvent> {
    return this.waitFor((e) => e.event === 'online' && e.peer === peer, ms);
  }

  /**
   * Asks the node to stop gracefully and waits for it to exit by itself (the
   * fixture never calls process.exit): resolves with its `stopped` report and
   * exit status, or rejects if it is still alive after `ms`.
   */
  async stopGracefully(ms: number): Promise<{ stopped: NodeEvent; exit: { code: number | null; signal: NodeJS.Signals | null } }> {
    this.send('stop');
    const stopped = await this.waitFor((e) => e.event === 'stopped', ms);
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      this.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${this.host.namespace} reported ${JSON.stringify(stopped)} but did not exit within ${ms} ms`)),
          ms,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    return { stopped, exit };
  }

  /** Kills the process (if still running) and waits until it is gone. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}


/** Resources a stopped node may still hold: its stdout (and stderr) pipes or terminal. */
const STDIO = new Set(['PipeWrap', 'TTYWrap', 'FILEHANDLE']);

describeLan('LAN pairing: invite and join between network namespaces', () => {
  let lab: NetnsLab;
  let nodes: PairNode[] = [];

  beforeAll(() => {
    if (!existsSync(join(__dirname, '..', 'dist', 'index.js'))) throw new Error('build first (pnpm build)');
    lab = createNetnsLab({ hosts: 3 });
  });

  afterEach(async () => {
    if (process.env.PEERNET_LAN_DEBUG) {
      for (const node of nodes) console.log(node.host.namespace, JSON.stringify(node.events.filter((e) => e.event !== 'debug' || process.env.PEERNET_LAN_DEBUG === 'all'), null, 0));
    }
    await Promise.all(nodes.map((node) => node.kill()));
    nodes = [];
    await cleanup();
  });

  afterAll(async () => {
    lab?.destroy();
    await cleanup();
  });

  /** Starts a node with a fresh identity and data dir on host `i`. */
  async function start(i: number, discovery: string[]): Promise<PairNode> {
    const node = new PairNode(lab, lab.hosts[i]!, await tempDir(), discovery);
    nodes.push(node);
    return node.ready();
  }

  it.each([['udp'], ['mdns']])(
    'a joiner finds the inviter by %s alone and both are paired, with equal SAS, and can call',
    async (mechanism) => {
      const [inviter, joiner] = await Promise.all([start(0, [mechanism]), start(1, [mechanism])]);
      const { tag, code } = await inviter.invite({ label: 'joiner-device' });
      expect(code).toMatch(/^\d{1,3}-[a-z]+-[a-z]+-[a-z]+$/);
      const joined = await joiner.join(code, { label: 'inviter-device', timeoutMs: 20_000 });
      expect(joined).toMatchObject({ event: 'joined', peer: inviter.id, label: 'inviter-device', sas: expect.stringMatching(/^\d{3} \d{3}$/) });
      const paired = await inviter.inviteOutcome(tag, 10_000);
      expect(paired).toMatchObject({ event: 'paired', peer: joiner.id, label: 'joiner-device' });
      expect(paired.sas).toBe(joined.sas);
      expect(await inviter.peers()).toEqual([expect.objectContaining({ id: joiner.id, label: 'joiner-device' })]);
      expect(await joiner.peers()).toEqual([expect.objectContaining({ id: inviter.id, label: 'inviter-device' })]);
      // The pairing brings a real session up: both see each other online and a call works.
      await Promise.all([joiner.online(inviter.id, 15_000), inviter.online(joiner.id, 15_000)]);
      expect(await joiner.call(inviter.id, 'whoami')).toMatchObject({ result: { id: inviter.id, caller: joiner.id } });
      expect(await inviter.call(joiner.id, 'whoami')).toMatchObject({ result: { id: joiner.id, caller: inviter.id } });
    },
    60_000,
  );

  it('a wrong code fails with pairing_failed and burns the invite; the right code is then refused and nobody is paired', async () => {
    const [inviter, joiner] = await Promise.all([start(0, ['udp', 'mdns']), start(1, ['udp', 'mdns'])]);
    const { tag, code } = await inviter.invite();
    const wrong = wrongCode(code);
    expect(wrong).not.toBe(code);
    expect(wrong.split('-')[0]).toBe(code.split('-')[0]);

    const failed = await joiner.join(wrong, { timeoutMs: 20_000 });
    expect(failed).toMatchObject({ event: 'join-failed', code: 'pairing_failed' });
    expect(await inviter.inviteOutcome(tag, 10_000)).toMatchObject({ event: 'invite-closed', code: 'invite_closed', reason: 'burned' });

    // The invite is gone: the node no longer admits pairing sessions (inviter_not_found), or, had the
    // joiner's dial raced the close, its last attempt is used up (invite_closed).
    const late = await joiner.join(code, { timeoutMs: 4_000 });
    expect(late.event).toBe('join-failed');
    expect(['invite_closed', 'inviter_not_found']).toContain(late.code);

    expect(await inviter.peers()).toEqual([]);
    expect(await joiner.peers()).toEqual([]);
    expect(inviter.events.filter((e) => e.event === 'paired' || e.event === 'online')).toEqual([]);
    expect(joiner.events.filter((e) => e.event === 'joined' || e.event === 'online')).toEqual([]);
  }, 60_000);

  it('an invite expires after its ttl; a join afterwards finds no inviter and nobody is paired', async () => {
    const [inviter, joiner] = await Promise.all([start(0, ['udp', 'mdns']), start(1, ['udp', 'mdns'])]);
    // The joiner must know the inviter, so that the failure below is a refusal, not an empty LAN.
    await joiner.discovered(inviter.id, 15_000);
    const started = performance.now();
    const { tag, code } = await inviter.invite({ ttlMs: 1_500 });
    const closed = await inviter.inviteOutcome(tag, 10_000);
    const elapsed = performance.now() - started;
    expect(closed).toMatchObject({ event: 'invite-closed', code: 'invite_closed', reason: 'expired' });
    expect(elapsed).toBeGreaterThanOrEqual(1_400);
    expect(elapsed).toBeLessThan(5_000);

    const late = await joiner.join(code, { timeoutMs: 3_000 });
    expect(late).toMatchObject({ event: 'join-failed', code: 'inviter_not_found' });

    expect(await inviter.peers()).toEqual([]);
    expect(await joiner.peers()).toEqual([]);
    expect(inviter.events.filter((e) => e.event === 'paired' || e.event === 'online')).toEqual([]);
  }, 60_000);

  it('two invites open at once are joined concurrently by two nodes, each getting its own label', async () => {
    const [inviter, first, second] = await Promise.all([start(0, ['udp', 'mdns']), start(1, ['udp', 'mdns']), start(2, ['udp', 'mdns'])]);
    const one = await inviter.invite({ label: 'first' });
    const two = await inviter.invite({ label: 'second' });
    expect(one.code).not.toBe(two.code);
    // Same inviter, so same two-digit hint; different slots.
    expect(Math.floor(Number(one.code.split('-')[0]) / 10)).toBe(Math.floor(Number(two.code.split('-')[0]) / 10));

    const [joinedFirst, joinedSecond] = await Promise.all([
      first.join(one.code, { label: 'inviter', timeoutMs: 20_000 }),
      second.join(two.code, { label: 'inviter', timeoutMs: 20_000 }),
    ]);
    expect(joinedFirst).toMatchObject({ event: 'joined', peer: inviter.id });
    expect(joinedSecond).toMatchObject({ event: 'joined', peer: inviter.id });
    const [pairedOne, pairedTwo] = await Promise.all([inviter.inviteOutcome(one.tag, 10_000), inviter.inviteOutcome(two.tag, 10_000)]);
    expect(pairedOne).toMatchObject({ event: 'paired', peer: first.id, label: 'first', sas: joinedFirst.sas });
    expect(pairedTwo).toMatchObject({ event: 'paired', peer: second.id, label: 'second', sas: joinedSecond.sas });

    const listed = (await inviter.peers()).map(({ id, label }) => ({ id, label }));
    expect(listed).toHaveLength(2);
    expect(listed).toEqual(expect.arrayContaining([{ id: first.id, label: 'first' }, { id: second.id, label: 'second' }]));
    // The two joiners paired the inviter only, not each other.
    expect((await first.peers()).map((p) => p.id)).toEqual([inviter.id]);
    expect((await second.peers()).map((p) => p.id)).toEqual([inviter.id]);
    await Promise.all([first.online(inviter.id, 15_000), second.online(inviter.id, 15_000)]);
    expect(await first.call(inviter.id, 'whoami')).toMatchObject({ result: { caller: first.id } });
    expect(await second.call(inviter.id, 'whoami')).toMatchObject({ result: { caller: second.id } });
  }, 60_000);

  it('a stranger hammering an open invite is rate-limited and never paired; the real joiner still pairs', async () => {
    const [inviter, joiner, stranger] = await Promise.all([start(0, ['udp']), start(1, ['udp']), start(2, ['udp'])]);
    const { tag, code } = await inviter.invite({ label: 'the-joiner' });
    const count = 30;
    const hammered = await stranger.hammer({ host: lab.hosts[0]!.address, port: inviter.port, peer: inviter.id, count });
    // At most four pairing sessions at once, whoever asks; every other request is turned away by the limit.
    expect(hammered.admitted).toBeGreaterThanOrEqual(1);
    expect(hammered.admitted).toBeLessThanOrEqual(4);
    expect(hammered.refused).toBe(count - hammered.admitted!);
    expect(await inviter.limited()).toBeGreaterThanOrEqual(hammered.refused!);
    // The stranger's idle sessions are closed after 5 s; the joiner, retrying, gets its turn.
    const joined = await joiner.join(code, { label: 'the-inviter', timeoutMs: 30_000 });
    expect(joined).toMatchObject({ event: 'joined', peer: inviter.id });
    expect(await inviter.inviteOutcome(tag, 10_000)).toMatchObject({ event: 'paired', peer: joiner.id, label: 'the-joiner' });
    expect((await inviter.peers()).map((p) => p.id)).toEqual([joiner.id]);
    expect(await stranger.peers()).toEqual([]);
  }, 60_000);

  it('stop() with an invite open closes it as stopped, and the process then exits by itself', async () => {
    const [inviter, other] = await Promise.all([start(0, ['udp', 'mdns']), start(1, ['udp', 'mdns'])]);
    await Promise.all([other.discovered(inviter.id, 15_000), inviter.discovered(other.id, 15_000)]);
    const { tag } = await inviter.invite();
    const { stopped, exit } = await inviter.stopGracefully(10_000);
    expect(await inviter.inviteOutcome(tag, 1_000)).toMatchObject({ event: 'invite-closed', code: 'invite_closed', reason: 'stopped' });
    // The invite closed before stop() resolved.
    expect(inviter.events.findIndex((e) => e.event === 'invite-closed')).toBeLessThan(inviter.events.indexOf(stopped));
    expect(stopped.open!.filter((r) => !STDIO.has(r))).toEqual([]);
    expect(exit).toEqual({ code: 0, signal: null });
    // The other node (which saw the inviter's announcements) stops cleanly too.
    const second = await other.stopGracefully(10_000);
    expect(second.stopped.open!.filter((r) => !STDIO.has(r))).toEqual([]);
    expect(second.exit).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('a join with the invite URI pairs both sides; after a pairing both nodes still stop and exit by themselves', async () => {
    const [inviter, joiner] = await Promise.all([start(0, ['udp', 'mdns']), start(1, ['udp', 'mdns'])]);
    const { tag, code, uri } = await inviter.invite({ label: 'scanner' });
    expect(uri).toMatch(new RegExp(`^peernet://pair/${inviter.id}\\?n=${code.split('-')[0]}&s=[A-Za-z0-9_-]{22}$`));
    const joined = await joiner.join(uri, { label: 'shown', timeoutMs: 20_000 });
    expect(joined).toMatchObject({ event: 'joined', peer: inviter.id, label: 'shown', sas: expect.stringMatching(/^\d{3} \d{3}$/) });
    const paired = await inviter.inviteOutcome(tag, 10_000);
    expect(paired).toMatchObject({ event: 'paired', peer: joiner.id, label: 'scanner', sas: joined.sas });
    expect(await inviter.peers()).toEqual([expect.objectContaining({ id: joiner.id, label: 'scanner' })]);
    expect(await joiner.peers()).toEqual([expect.objectContaining({ id: inviter.id, label: 'shown' })]);
    await joiner.online(inviter.id, 15_000);
    expect(await joiner.call(inviter.id, 'whoami')).toMatchObject({ result: { id: inviter.id, caller: joiner.id } });

    // The URI is single use too: a second join with it is refused.
    const again = await joiner.join(uri, { timeoutMs: 3_000 });
    expect(again.event).toBe('join-failed');
    expect(['invite_closed', 'inviter_not_found']).toContain(again.code);

    for (const node of [joiner, inviter]) {
      const { stopped, exit } = await node.stopGracefully(10_000);
      expect(stopped.open!.filter((r) => !STDIO.has(r))).toEqual([]);
      expect(exit).toEqual({ code: 0, signal: null });
    }
  }, 60_000);
});
