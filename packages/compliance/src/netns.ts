import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** One host of a lab: a network namespace with one interface on the lab's bridge. */
export interface NetnsHost {
  /** The namespace's name (for `ip netns exec`). */
  readonly namespace: string;
  /** Its IPv4 address on the bridge (private, inside the lab only). */
  address: string;
  /** Its interface name inside the namespace. */
  readonly iface: string;
}

/** A throwaway LAN: a bridge in its own namespace and a few hosts attached by veth pairs. */
export interface NetnsLab {
  readonly hosts: readonly NetnsHost[];
  /** Starts `command` inside `host`'s namespace (as root, via `ip netns exec`). */
  spawn(host: NetnsHost, command: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Runs a command inside `host`'s namespace and returns its stdout. */
  exec(host: NetnsHost, command: readonly string[]): string;
  /** Takes the host's interface down (its routes go with it). */
  linkDown(host: NetnsHost): void;
  /** Brings the interface back up and restores its default route. */
  linkUp(host: NetnsHost): void;
  /** Replaces the host's address with `address` (same /24). */
  setAddress(host: NetnsHost, address: string): void;
  /** Kills what was spawned and deletes every namespace. Idempotent. */
  destroy(): void;
}

/** Why namespaces cannot be used here, or undefined when they can (root and iproute2). */
export function netnsUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 (`ip`) is not installed';
  }
  return undefined;
}

let labCount = 0;

/** A short tag, unique per lab in this process, for namespace names. */
export function labTag(): string {
  return `${process.pid.toString(36)}${(labCount++).toString(36)}`.slice(-6);
}

/** A random private 10.X.Y prefix for a lab's /24, so concurrent runs do not collide. */
export function labSubnet(): string {
  return `10.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
}

/** Runs `ip` with its output ignored (errors still throw, with its stderr). */
export const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/**
 * The namespaces a lab made and the processes it started in them: one place
 * that creates, runs in, and deletes them all (internal to the labs).
 */
export class Namespaces {
  readonly names: string[] = [];
  readonly #children = new Set<ChildProcess>();
  #destroyed = false;

  /** Creates a namespace (with `lo` up when asked) and remembers it for `destroy`. */
  add(name: string, options: { loopback?: boolean } = {}): void {
    ip('netns', 'add', name);
    this.names.push(name);
    if (options.loopback) ip('-n', name, 'link', 'set', 'lo', 'up');
  }

  /** Starts `command` inside `namespace` (as root, via `ip netns exec`). */
  spawn(namespace: string, command: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', namespace, ...command], options);
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    return child;
  }

  /** Runs a command inside `namespace` and returns its stdout. */
  exec(namespace: string, command: readonly string[]): string {
    return execFileSync('ip', ['netns', 'exec', namespace, ...command], { encoding: 'utf8' });
  }

  /** Kills what was spawned and deletes every namespace, newest first. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const child of this.#children) child.kill('SIGKILL');
    for (const name of [...this.names].reverse()) {
      try {
        ip('netns', 'del', name);
      } catch {
        // already gone
      }
    }
  }
}

/**
 * Creates a lab of `hosts` namespaces on one bridge, with addresses
 * 10.X.Y.1, .2, ... (X.Y random per lab, so concurrent runs do not collide).
 * Nothing in it can reach the machine's own network: the bridge lives in a
 * namespace of its own.
 */
export function createNetnsLab(options: { hosts: number }): NetnsLab {
  const reason = netnsUnavailableReason();
  if (reason) throw new Error(reason);
  const tag = labTag();
  const subnet = labSubnet();
  const bridgeNs = `pnsw-${tag}`;
  const namespaces = new Namespaces();
  const hosts: NetnsHost[] = [];

  const lab: NetnsLab = {
    hosts,
    spawn: (host, command, spawnOptions = {}) => namespaces.spawn(host.namespace, command, spawnOptions),
    exec: (host, command) => namespaces.exec(host.namespace, command),
    linkDown(host) {
      ip('-n', host.namespace, 'link', 'set', host.iface, 'down');
    },
    linkUp(host) {
      ip('-n', host.namespace, 'link', 'set', host.iface, 'up');
      // Bringing the link down dropped the manual default route; broadcasts need it back.
      ip('-n', host.namespace, 'route', 'replace', 'default', 'dev', host.iface);
    },
    setAddress(host, address) {
      // Delete first: removing a subnet's primary address also removes its secondaries.
      ip('-n', host.namespace, 'addr', 'del', `${host.address}/24`, 'dev', host.iface);
      ip('-n', host.namespace, 'addr', 'add', `${address}/24`, 'dev', host.iface);
      ip('-n', host.namespace, 'route', 'replace', 'default', 'dev', host.iface);
      host.address = address;
    },
    destroy: () => namespaces.destroy(),
  };

  try {
    namespaces.add(bridgeNs);
    ip('-n', bridgeNs, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', bridgeNs, 'link', 'set', 'br0', 'up');
    for (let i = 1; i <= options.hosts; i++) {
      const ns = `pn${i}-${tag}`;
      namespaces.add(ns);
      ip('-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `v${i}`, 'netns', bridgeNs);
      ip('-n', bridgeNs, 'link', 'set', `v${i}`, 'master', 'br0');
      ip('-n', bridgeNs, 'link', 'set', `v${i}`, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      const address = `${subnet}.${i}`;
      ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      // Without a default route a broadcast to 255.255.255.255 fails with ENETUNREACH.
      ip('-n', ns, 'route', 'add', 'default', 'dev', 'eth0');
      hosts.push({ namespace: ns, address, iface: 'eth0' });
    }
  } catch (error) {
    lab.destroy();
    throw error;
  }
  return lab;
}
