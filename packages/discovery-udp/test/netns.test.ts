import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readLines, withTimeout } from '@peernet/compliance';
import { type NetnsLab, createNetnsLab, netnsUnavailableReason } from '@peernet/compliance';
import { randomPort } from './helpers.js';

const packageDir = path.resolve(__dirname, '..');
const builtIndex = path.join(packageDir, 'dist', 'index.js');
const script = path.join(__dirname, 'fixtures', 'ns-peer.mjs');
const TIMEOUT = 10_000;

// The children open no TLS connection; without this variable each Node start skips parsing a CA bundle.
const { NODE_EXTRA_CA_CERTS: _unused, ...childEnv } = process.env;

type Line =
  | { event: 'ready'; id: string; broadcast: string[] }
  | { event: 'peer'; id: string; addresses: Array<{ host: string; port: number }> }
  | { event: 'lost'; id: string }
  | { event: 'stopped'; stats: Record<string, number> };

/** One node running in a namespace, with what it printed. */
class Node {
  readonly lines: Line[] = [];
  readonly exited: Promise<number | null>;
  readonly child: ChildProcess;
  stderr = '';
  readonly #waiters = new Set<() => void>();

  constructor(namespace: string, args: string[]) {
    this.child = spawn('ip', ['netns', 'exec', namespace, process.execPath, script, ...args], {
      env: childEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    if (this.child.stdout !== null) {
      readLines(this.child.stdout, (line) => {
        this.lines.push(JSON.parse(line) as Line);
        this.#notify();
      });
    }
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code) => {
        this.#notify();
        resolve(code);
      });
      this.child.on('error', () => resolve(null));
    });
  }

  find<T extends Line['event']>(event: T, match: (line: Extract<Line, { event: T }>) => boolean = () => true) {
    return this.lines.find((line): line is Extract<Line, { event: T }> => line.event === event && match(line as never));
  }

  async waitFor<T extends Line['event']>(
    event: T,
    what: string,
    match: (line: Extract<Line, { event: T }>) => boolean = () => true,
  ): Promise<Extract<Line, { event: T }>> {
    let waiter: () => void = () => {};
    const found = new Promise<Extract<Line, { event: T }>>((resolve, reject) => {
      waiter = () => {
        const line = this.find(event, match);
        if (line !== undefined) resolve(line);
        else if (this.child.exitCode !== null) {
          reject(new Error(`node exited (${this.child.exitCode}) before ${what}: ${this.stderr}`));
        }
      };
      this.#waiters.add(waiter);
      waiter();
    });
    return withTimeout(found, TIMEOUT, `${what} (stderr: ${this.stderr || 'empty'})`).finally(() =>
      this.#waiters.delete(waiter),
    );
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

const unavailable = netnsUnavailableReason();

if (unavailable !== undefined) {
  describe('udp discovery across network namespaces', () => {
    it.skip(`skipped: ${unavailable}`, () => {});
  });
} else {
  describe('udp discovery across network namespaces (bridge + 3 veth hosts, eth0 only)', () => {
    let lab: NetnsLab | undefined;
    const nodes: Node[] = [];

    beforeAll(() => {
      if (!existsSync(builtIndex)) {
        throw new Error(
          `${builtIndex} is missing: this test runs the built package in namespaces. ` +
            'Build it first: cd packages/discovery-udp && npx tsc -b',
        );
      }
      lab = createNetnsLab({ hosts: 3 });
    });

    afterAll(async () => {
      for (const node of nodes) if (node.child.exitCode === null) node.child.kill('SIGKILL');
      await Promise.all(nodes.map((node) => node.exited));
      lab?.destroy();
    });

    it('each node finds the other two at their 10.x addresses; a stopped node is lost by the others and exits cleanly', async () => {
      const hosts = lab?.hosts ?? [];
      const udpPort = randomPort();
      const announced = hosts.map((_, i) => 9001 + i);
      for (const [i, host] of hosts.entries()) {
        nodes.push(new Node(host.namespace, [String(udpPort), String(announced[i]), 'eth0']));
      }

      const ready = await Promise.all(nodes.map((node, i) => node.waitFor('ready', `node ${i + 1} to start`)));
      // Inside its namespace each node broadcasts on eth0's subnet only.
      for (const line of ready) expect(line.broadcast).toEqual([lab?.hosts[0]?.address.replace(/\.\d+$/, '.255')]);

      for (const [i, node] of nodes.entries()) {
        for (const [j, other] of ready.entries()) {
          if (i === j) continue;
          const seen = await node.waitFor('peer', `node ${i + 1} to see node ${j + 1}`, (line) => line.id === other.id);
          expect(seen.addresses).toEqual([{ host: hosts[j]?.address, port: announced[j] }]);
        }
        expect(node.find('peer', (line) => line.id === ready[i]?.id)).toBeUndefined();
      }

      const [first, second, third] = nodes as [Node, Node, Node];
      third.child.stdin?.write('stop\n');
      await third.waitFor('stopped', 'node 3 to stop');
      expect(await withTimeout(third.exited, TIMEOUT, 'node 3 to exit by itself after stop()')).toBe(0);
      for (const node of [first, second]) {
        await node.waitFor('lost', "'peer:lost' for node 3", (line) => line.id === ready[2]?.id);
      }

      for (const node of [first, second]) node.child.stdin?.write('stop\n');
      for (const node of [first, second]) {
        const { stats } = await node.waitFor('stopped', 'the node to stop');
        expect(await withTimeout(node.exited, TIMEOUT, 'the node to exit by itself after stop()')).toBe(0);
        expect(stats).toMatchObject({ sendErrors: 0, foreignSource: 0, badSignature: 0 });
        expect(stats.accepted).toBeGreaterThanOrEqual(2);
      }
    }, 60_000);
  });
}
