// The README's demo: three PeerNet nodes, each in a process of its own, on
// this machine. Discovery (mDNS and UDP broadcast) is restricted to the
// loopback interface, so nothing leaves the machine, and the demo runs the
// same in a network namespace that has nothing but `lo`.
//
// Alice and Bob pair with an invite code and find each other by discovery; they
// chat; Alice administers Bob over RPC; Mallory, a stranger, is seen but
// refused; Bob's process is killed and restarted, and Alice gets him back.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Report, Reply, Request } from './messages.js';

const STEP_MS = 15_000;
const started = performance.now();
const names = new Map<string, string>();

function say(who: string, text: string): void {
  const t = ((performance.now() - started) / 1000).toFixed(2).padStart(6);
  console.log(`${t}s  ${who.padEnd(8)} ${text}`);
}
const nameOf = (id: string): string => names.get(id) ?? `${id.slice(0, 12)}…`;
// Discoveries can arrive before the director knows every node's name: hold them until it does.
let heldDiscoveries: (() => void)[] | undefined = [];

type Ask = Request extends infer R ? (R extends unknown ? Omit<R, 'seq'> : never) : never;

/** A demo node running in a child process, driven over its IPC channel. */
class NodeProcess {
  readonly history: Report[] = [];
  #waiters = new Set<(report: Report) => void>();
  #replies = new Map<number, (reply: Reply) => void>();
  #seq = 0;
  #exited: Promise<number | null>;
  id = '';

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.on('message', (message: Report | Reply) => {
      if ('seq' in message) this.#replies.get(message.seq)?.(message);
      else this.#receive(message);
    });
  }

  /** Forks a node on `dataDir` and waits until it is listening. */
  static async start(name: string, dataDir: string): Promise<NodeProcess> {
    const script = fileURLToPath(new URL('./node-process.js', import.meta.url));
    const node = new NodeProcess(name, fork(script, [dataDir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    const up = await node.waitFor((r) => r.event === 'up', 'start');
    if (up.event !== 'up') throw new Error('unreachable');
    node.id = up.id;
    names.set(up.id, name);
    const paired = up.paired.length ? `, paired with ${up.paired.map(nameOf).join(', ')}` : '';
    say(name, `up in process ${up.pid}: id ${up.id}, listening on 127.0.0.1:${up.port}${paired}`);
    return node;
  }

  /** Asks the node to do something; rejects with the PeerNet error code it answered with. */
  ask(request: Ask): Promise<unknown> {
    const seq = ++this.#seq;
    return new Promise((resolve, reject) => {
      this.#replies.set(seq, (reply) => {
        this.#replies.delete(seq);
        if (reply.ok) resolve(reply.value);
        else reject(Object.assign(new Error(reply.message), { code: reply.code }));
      });
      this.child.send({ ...request, seq });
    });
  }

  /** The first report matching `match`, looking back at earlier ones too when `past`. */
  waitFor(match: (report: Report) => boolean, what: string, past = false): Promise<Report> {
    const earlier = past ? this.history.find(match) : undefined;
    if (earlier) return Promise.resolve(earlier);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`${this.name}: no ${what} within ${STEP_MS} ms`));
      }, STEP_MS);
      const waiter = (report: Report): void => {
        if (!match(report)) return;
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        resolve(report);
      };
      this.#waiters.add(waiter);
    });
  }

  /** Ends the node cleanly; resolves with its exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.connected) this.child.send({ op: 'stop', seq: 0 });
    return this.#exited;
  }

  /** Kills the process outright, as a crash or a power cut would. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.#exited;
  }

  #receive(report: Report): void {
    this.history.push(report);
    this.#narrate(report);
    for (const waiter of this.#waiters) waiter(report);
  }

  #narrate(report: Report): void {
    switch (report.event) {
      case 'online':
        return say(this.name, `session with ${nameOf(report.peer)} is up (Noise XX, both sides authenticated)`);
      case 'offline':
        return say(this.name, `lost ${nameOf(report.peer)}${report.reason ? ` (${report.reason})` : ''}`);
      case 'discovered':
        // 'manual' is an address given to connect(), not a discovery.
        if (report.source === 'manual') return;
        if (heldDiscoveries) return void heldDiscoveries.push(() => this.#narrate(report));
        return say(
          this.name,
          `discovered ${nameOf(report.peer)} via ${report.source}${report.trusted ? '' : ': not paired, so never dialled'}`,
        );
      case 'chat':
        return say(this.name, `chat from ${nameOf(report.from)}: ${JSON.stringify(report.text)}`);
      case 'refused':
        return say(this.name, `refused an inbound handshake: ${report.code} (${report.reason})`);
    }
  }
}

const online = (peer: NodeProcess) => (r: Report) => r.event === 'online' && r.peer === peer.id;
const offline = (peer: NodeProcess) => (r: Report) => r.event === 'offline' && r.peer === peer.id;
const chatFrom = (peer: NodeProcess) => (r: Report) => r.event === 'chat' && r.from === peer.id;
const errorCode = (error: unknown): string => (error as { code?: string }).code ?? String(error);

const root = await mkdtemp(join(tmpdir(), 'peernet-demo-'));
const running = new Set<NodeProcess>();
const start = async (name: string): Promise<NodeProcess> => {
  const node = await NodeProcess.start(name, join(root, name));
  running.add(node);
  return node;
};
// A stuck step fails the demo instead of hanging it.
const deadline = setTimeout(() => {
  console.error('demo: not finished within 60 s');
  for (const node of running) node.child.kill('SIGKILL');
  process.exit(1);
}, 60_000);

let failed = false;
try {
  say('demo', 'three nodes, three processes; discovery on 127.0.0.1 only');
  const [alice, firstBob, mallory] = await Promise.all([start('alice'), start('bob'), start('mallory')]);
  let bob = firstBob;
  const held = heldDiscoveries ?? [];
  heldDiscoveries = undefined;
  for (const narrate of held) narrate();

  // Pairing in one step: bob opens an invite, alice types its code (in real life: `peernet invite`
  // shows the code and a QR code; `peernet join <code>` on the other machine).
  const aliceSeesBob = alice.waitFor(online(bob), 'session with bob');
  const bobSeesAlice = bob.waitFor(online(alice), 'session with alice');
  const code = (await bob.ask({ op: 'invite', label: 'alice' })) as string;
  say('bob', `opens an invite: ${code} (one use, expires in a minute)`);
  const joined = (await alice.ask({ op: 'join', code, label: 'bob' })) as { sas: string };
  say('alice', `joins with the code: both are paired, each trusts the other's public key (confirmation ${joined.sas})`);
  say('demo', 'no id was copied and no address given: discovery found bob, the code proved both sides');
  await Promise.all([aliceSeesBob, bobSeesAlice]);

  // Chat: fire-and-forget sends to a handler the other side exposed.
  let heard = bob.waitFor(chatFrom(alice), 'chat from alice');
  await alice.ask({ op: 'send', peer: bob.id, name: 'chat', args: 'hi bob, are you there?' });
  await heard;
  heard = alice.waitFor(chatFrom(bob), 'chat from bob');
  await bob.ask({ op: 'send', peer: alice.id, name: 'chat', args: 'here! what do you need?' });
  await heard;

  // Device admin over RPC: bob serves an API that only alice may call.
  await bob.ask({ op: 'serve-device', admin: alice.id });
  say('bob', "serves 'device' { status, rename } to alice only");
  const admin = async (caller: NodeProcess, device: NodeProcess, method: string, ...params: unknown[]) => {
    const call = `${method}(${params.map((p) => JSON.stringify(p)).join(', ')})`;
    await caller.ask({ op: 'admin', peer: device.id, method, params }).then(
      (value) => say(caller.name, `device.${call} on ${device.name} → ${JSON.stringify(value)}`),
      (error) => say(caller.name, `device.${call} on ${device.name} → ${errorCode(error)}: ${(error as Error).message}`),
    );
  };
  await admin(alice, bob, 'rename', 'kitchen-pi');
  await admin(alice, bob, 'status');
  await admin(alice, bob, 'rename', 'Not A Name!');
  await admin(bob, alice, 'status'); // the grant is one way: alice serves nothing

  // A stranger: mallory trusts bob, but bob never paired with her.
  await bob.waitFor((r) => r.event === 'discovered' && r.peer === mallory.id, 'discovery of mallory', true);
  const refused = bob.waitFor((r) => r.event === 'refused', 'refusal');
  await mallory.ask({ op: 'pair', peer: bob.id, label: 'bob' });
  say('mallory', 'pairs with bob on her side only, and dials him');
  const port = (bob.history.find((r) => r.event === 'up') as { port: number }).port;
  await mallory.ask({ op: 'connect', peer: bob.id, port }).then(
    () => {
      throw new Error('mallory got a session with bob');
    },
    (error) => say('mallory', `connect to bob → ${errorCode(error)}`),
  );
  await refused;
  await mallory.ask({ op: 'send', peer: bob.id, name: 'chat', args: 'let me in' }).then(
    () => {
      throw new Error("mallory's send went through");
    },
    (error) => say('mallory', `send chat to bob → ${errorCode(error)}`),
  );

  // A crash: bob's process is killed; alice notices, and gets him back when he restarts.
  const lost = alice.waitFor(offline(bob), 'loss of bob');
  say('demo', `kill -9 bob (process ${bob.child.pid})`);
  await bob.kill();
  running.delete(bob);
  await lost;
  // Same data dir, so the same id: wait for it before it can arrive.
  const back = alice.waitFor(online(bob), 'reconnection to bob');
  bob = await start('bob');
  await bob.ask({ op: 'serve-device', admin: alice.id });
  await back;
  await admin(alice, bob, 'status');
  heard = bob.waitFor(chatFrom(alice), 'chat from alice');
  await alice.ask({ op: 'send', peer: bob.id, name: 'chat', args: 'welcome back' });
  await heard;

  if (bob.history.concat(firstBob.history).some(chatFrom(mallory))) throw new Error("a handler ran for mallory");
  const codes = await Promise.all([...running].map((node) => node.stop()));
  if (codes.some((code) => code !== 0)) throw new Error(`a node exited with ${codes.join(', ')}`);
  running.clear();
  say('demo', `done in ${((performance.now() - started) / 1000).toFixed(1)} s: every node stopped cleanly`);
} catch (error) {
  failed = true;
  console.error(`demo failed: ${(error as Error).message}`);
} finally {
  clearTimeout(deadline);
  for (const node of running) await node.kill();
  await rm(root, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
