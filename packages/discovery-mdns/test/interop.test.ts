/**
 * Interoperability with an independent DNS-SD implementation (python-zeroconf,
 * Debian package python3-zeroconf) and real multicast between hosts, inside
 * network namespaces this test creates on a private bridge: nothing reaches
 * the machine's own network. Needs root, iproute2, /usr/bin/python3 with
 * zeroconf, and the built package (`pnpm build`); skips with a reason otherwise.
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type NetnsHost, type NetnsLab, Waiters, createNetnsLab, netnsUnavailableReason, withTimeout } from '@peernet/compliance';
import { generateIdentity } from '@peernet/identity';

const PYTHON = '/usr/bin/python3';
const SERVICE = '_peernet._tcp.local.';
const FIXTURE = join(__dirname, 'fixtures', 'mdns-node.mjs');
const DIST = join(__dirname, '..', 'dist', 'index.js');
const WAIT = 10_000;

function skipReason(): string | undefined {
  const netns = netnsUnavailableReason();
  if (netns !== undefined) return netns;
  try {
    execFileSync(PYTHON, ['-c', 'import zeroconf'], { stdio: 'ignore' });
  } catch {
    return `${PYTHON} cannot import zeroconf (install the Debian package python3-zeroconf)`;
  }
  if (!existsSync(DIST)) return `the package is not built (${DIST} is missing; run pnpm build)`;
  return undefined;
}

// Lists _peernet._tcp.local. until `want` appears (or the timeout), then resolves it like any DNS-SD client.
const BROWSE = `
import json, sys, time
from zeroconf import Zeroconf, ServiceBrowser, IPVersion
TYPE = "${SERVICE}"
addr, want, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
zc = Zeroconf(interfaces=[addr], ip_version=IPVersion.V4Only)
names = set()
class Listener:
    def add_service(self, zc, type_, name): names.add(name)
    def update_service(self, zc, type_, name): pass
    def remove_service(self, zc, type_, name): pass
browser = ServiceBrowser(zc, TYPE, Listener())
deadline = time.monotonic() + timeout
while want not in names and time.monotonic() < deadline:
    time.sleep(0.05)
result = {"names": sorted(names)}
if want in names:
    info = zc.get_service_info(TYPE, want, timeout=int(timeout * 1000))
    if info is not None:
        result["info"] = {
            "name": info.name, "port": info.port, "server": info.server,
            "addresses": info.parsed_addresses(),
            "properties": {k.decode(): (v.decode() if v is not None else None) for k, v in info.properties.items()},
        }
browser.cancel()
zc.close()
print(json.dumps(result), flush=True)
`;

// Resolves one instance with a fresh cache: only answers to its SRV/TXT/A queries can fill it.
const RESOLVE = `
import json, sys
from zeroconf import Zeroconf, IPVersion
addr, name, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
zc = Zeroconf(interfaces=[addr], ip_version=IPVersion.V4Only)
info = zc.get_service_info("${SERVICE}", name, timeout=int(timeout * 1000))
out = None if info is None else {"port": info.port, "server": info.server, "addresses": info.parsed_addresses(),
    "properties": {k.decode(): (v.decode() if v is not None else None) for k, v in info.properties.items()}}
zc.close()
print(json.dumps(out), flush=True)
`;

// Registers a PeerNet-shaped instance (label = id, TXT v=1 id=<id>) until told to stop, then unregisters (goodbye).
const REGISTER = `
import socket, sys
from zeroconf import Zeroconf, ServiceInfo, IPVersion
TYPE = "${SERVICE}"
addr, pid, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
zc = Zeroconf(interfaces=[addr], ip_version=IPVersion.V4Only)
info = ServiceInfo(TYPE, pid + "." + TYPE, addresses=[socket.inet_aton(addr)], port=port,
                   properties={"v": "1", "id": pid}, server="pz-" + pid[:16] + ".local.")
zc.register_service(info)
print("registered", flush=True)
sys.stdin.readline()
zc.unregister_service(info)
zc.close()
print("unregistered", flush=True)
`;

/** The stdout lines of a child, and a way to wait for one. */
class Lines {
  readonly lines: string[] = [];
  readonly stderr: string[] = [];
  readonly #waiters = new Waiters();
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.lines.push(line);
      this.#waiters.wake();
    });
    createInterface({ input: child.stderr! }).on('line', (line) => this.stderr.push(line));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Waits for a line `accept` returns something for, and returns that. */
  next<T>(accept: (line: string) => T | undefined, timeout: number, what: string): Promise<T> {
    const find = (): T | undefined => {
      for (const line of this.lines) {
        const value = accept(line);
        if (value !== undefined) return value;
      }
      return undefined;
    };
    return this.#waiters.until(
      find,
      timeout,
      () => `${what} (stdout: ${this.lines.join(' | ') || '-'}; stderr: ${this.stderr.join(' | ') || '-'})`,
    );
  }

  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }
}

interface NodeEvent {
  event: string;
  id?: string;
  addresses?: Array<{ host: string; port: number }>;
  interfaces?: string[];
  hostname?: string;
}

const json = <T>(predicate: (value: T) => boolean) => (line: string): T | undefined => {
  try {
    const value = JSON.parse(line) as T;
    return predicate(value) ? value : undefined;
  } catch {
    return undefined;
  }
};

const reason = skipReason();

if (reason !== undefined) {
  describe('mdns interop in network namespaces', () => {
    it.skip(`skipped: ${reason}`, () => {});
  });
} else {
  describe('mdns interop in network namespaces', () => {
    let lab: NetnsLab;
    let [h1, h2, h3] = [] as unknown as [NetnsHost, NetnsHost, NetnsHost];

    beforeAll(() => {
      lab = createNetnsLab({ hosts: 3 });
      [h1, h2, h3] = lab.hosts as [NetnsHost, NetnsHost, NetnsHost];
    });

    afterAll(() => {
      lab?.destroy();
    });

    /** Starts a PeerNet node (the built package) inside `host`, restricted to its eth0. */
    async function peernetNode(host: NetnsHost, port: number, ttl?: number): Promise<{ id: string; out: Lines; hostname: string }> {
      const id = generateIdentity().id.toString();
      const args = [process.execPath, FIXTURE, id, host.iface, String(port), ...(ttl === undefined ? [] : [String(ttl)])];
      const out = new Lines(lab.spawn(host, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
      const ready = await out.next(json<NodeEvent>((e) => e.event === 'ready'), WAIT, 'the node to start');
      expect(ready.interfaces).toEqual([host.address]);
      return { id, out, hostname: ready.hostname as string };
    }

    /** Stops a node and waits for its process to end by itself (it would not, with a socket or timer left). */
    async function stopNode(node: { out: Lines }): Promise<void> {
      node.out.send('stop');
      await node.out.next(json<NodeEvent>((e) => e.event === 'stopped'), WAIT, 'the node to stop');
      expect(await withTimeout(node.out.exited, WAIT, 'the node process to exit')).toBe(0);
    }

    async function python(host: NetnsHost, script: string, args: string[]): Promise<string> {
      const out = new Lines(lab.spawn(host, [PYTHON, '-c', script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] }));
      const line = await out.next((l) => (l.startsWith('{') || l === 'null' ? l : undefined), WAIT + 5000, 'python-zeroconf');
      await withTimeout(out.exited, WAIT, 'python to exit');
      return line;
    }

    it('python-zeroconf lists and resolves a PeerNet node: name, port, address, TXT v and id', async () => {
      const port = 40_000 + Math.floor(Math.random() * 10_000);
      const node = await peernetNode(h1, port);
      try {
        const instance = `${node.id}.${SERVICE}`;
        const browsed = JSON.parse(await python(h2, BROWSE, [h2.address, instance, '8'])) as {
          names: string[];
          info?: { name: string; port: number; server: string; addresses: string[]; properties: Record<string, string> };
        };
        expect(browsed.names).toContain(instance);
        expect(browsed.info).toEqual({
          name: instance,
          port,
          server: `${node.hostname}.`,
          addresses: [h1.address],
          properties: { v: '1', id: node.id },
        });

        // A fresh resolver with an empty cache: the node must answer SRV, TXT and A queries.
        const resolved = JSON.parse(await python(h3, RESOLVE, [h3.address, instance, '5'])) as unknown;
        expect(resolved).toEqual({ port, server: `${node.hostname}.`, addresses: [h1.address], properties: { v: '1', id: node.id } });
      } finally {
        await stopNode(node);
      }
    }, 40_000);

    it("a PeerNet node reports a service python-zeroconf registers, and 'peer:lost' when it unregisters", async () => {
      const node = await peernetNode(h1, 4040);
      const id = generateIdentity().id.toString();
      const register = new Lines(lab.spawn(h2, [PYTHON, '-c', REGISTER, h2.address, id, '4242'], { stdio: ['pipe', 'pipe', 'pipe'] }));
      try {
        await register.next((l) => (l === 'registered' ? true : undefined), WAIT, 'python-zeroconf to register');
        const seen = await node.out.next(json<NodeEvent>((e) => e.event === 'peer' && e.id === id), WAIT, "the node's 'peer' event");
        expect(seen.addresses).toEqual([{ host: h2.address, port: 4242 }]);
        register.send('unregister');
        await register.next((l) => (l === 'unregistered' ? true : undefined), WAIT, 'python-zeroconf to unregister');
        await node.out.next(json<NodeEvent>((e) => e.event === 'lost' && e.id === id), WAIT, "the node's 'peer:lost' event");
      } finally {
        register.child.kill();
        await stopNode(node);
      }
    }, 40_000);

    it('two PeerNet nodes on different hosts find each other over the bridge, follow a port change, and see the goodbye', async () => {
      const a = await peernetNode(h1, 5001);
      const b = await peernetNode(h3, 5003);
      try {
        const bAtA = await a.out.next(json<NodeEvent>((e) => e.event === 'peer' && e.id === b.id), WAIT, 'A to see B');
        const aAtB = await b.out.next(json<NodeEvent>((e) => e.event === 'peer' && e.id === a.id), WAIT, 'B to see A');
        expect(bAtA.addresses).toEqual([{ host: h3.address, port: 5003 }]);
        expect(aAtB.addresses).toEqual([{ host: h1.address, port: 5001 }]);
        a.out.send('announce 6001');
        const moved = await b.out.next(
          json<NodeEvent>((e) => e.event === 'peer' && e.id === a.id && e.addresses?.[0]?.port === 6001),
          WAIT,
          'B to see the new port of A',
        );
        expect(moved.addresses).toEqual([{ host: h1.address, port: 6001 }]);
        await stopNode(a);
        await b.out.next(json<NodeEvent>((e) => e.event === 'lost' && e.id === a.id), WAIT, "B's 'peer:lost' for A");
      } finally {
        if (a.out.child.exitCode === null) a.out.child.kill();
        await stopNode(b);
      }
    }, 40_000);

    it('after an address change, announce() moves the node to the new address and its peers follow', async () => {
      const a = await peernetNode(h1, 7001);
      const b = await peernetNode(h2, 7002);
      try {
        await b.out.next(json<NodeEvent>((e) => e.event === 'peer' && e.id === a.id), WAIT, 'B to see A');
        const before = h1.address;
        const moved = `${before.slice(0, before.lastIndexOf('.'))}.${100 + Math.floor(Math.random() * 100)}`;
        lab.setAddress(h1, moved);
        // What the registry's network monitor does on a change: announce again.
        a.out.send('announce 7001');
        await a.out.next(json<NodeEvent>((e) => e.event === 'announced'), WAIT, 'A to re-announce');
        const followed = await b.out.next(
          json<NodeEvent>((e) => e.event === 'peer' && e.id === a.id && e.addresses?.[0]?.host === moved),
          WAIT,
          "B to see A's new address",
        );
        expect(followed.addresses).toEqual([{ host: moved, port: 7001 }]);
        // A browses again on its new link and finds B there.
        const bAgain = await a.out.next(
          json<NodeEvent>((e) => e.event === 'peer' && e.id === b.id),
          WAIT,
          'A to see B from its new address',
        );
        expect(bAgain.addresses).toEqual([{ host: h2.address, port: 7002 }]);
      } finally {
        await stopNode(a);
        await stopNode(b);
      }
    }, 40_000);
  });
}
