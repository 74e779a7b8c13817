import { execFileSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { Namespaces, ip, labSubnet, labTag, netnsUnavailableReason, type NetnsHost } from './netns.js';

/**
 * How a lab router maps a LAN host's UDP/TCP source port to its public one:
 * `'port-preserving'` keeps the host's port whatever the destination (what
 * most home routers do, and what holepunching relies on); `'random'` picks a
 * new random port for every destination (a "symmetric" NAT).
 */
export type NatKind = 'port-preserving' | 'random';

/** A NAT router of a lab: a namespace between one host's LAN and the lab's internet. */
export interface NatRouter {
  /** The namespace's name (for `ip netns exec`). */
  readonly namespace: string;
  /** Its address on the internet segment: what the internet sees as the source of its host's traffic. */
  readonly publicAddress: string;
  /** Its address on its LAN: the default gateway of the host behind it. */
  readonly lanAddress: string;
  /** How it maps source ports. */
  readonly nat: NatKind;
}

/** Anything of a lab that has a namespace: a host, an internet host or a router. */
export interface NatLabNode {
  /** The namespace's name (for `ip netns exec`). */
  readonly namespace: string;
}

/** A throwaway internet of network namespaces, with hosts behind NAT routers. */
export interface NatLab {
  /** Hosts on the "internet" segment with public-looking addresses (no NAT), e.g. for DHT bootstrap nodes or a relay. */
  readonly internet: readonly NetnsHost[];
  /** hosts[i] sits behind routers[i] on a LAN of its own. */
  readonly hosts: readonly NetnsHost[];
  /** routers[i] is hosts[i]'s NAT, as `nats[i]` asked. */
  readonly routers: readonly NatRouter[];
  /** Every namespace the lab made, the internet's bridge included (what `destroy()` deletes). */
  readonly namespaces: readonly string[];
  /** Starts `command` inside `node`'s namespace (as root, via `ip netns exec`). */
  spawn(node: NatLabNode, command: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Runs a command inside `node`'s namespace and returns its stdout. */
  exec(node: NatLabNode, command: readonly string[]): string;
  /** Kills what was spawned and deletes every namespace (NAT rules and conntrack state go with them). Idempotent. */
  destroy(): void;
}

/** What `createNatLab` builds. */
export interface NatLabOptions {
  /** One router, with one host behind it, per entry. */
  readonly nats: readonly NatKind[];
  /** Hosts on the internet segment itself; default 1. */
  readonly internetHosts?: number;
}

/** Why a NAT lab cannot be built here, or undefined when it can (network namespaces, nftables and sysctl). */
export function natLabUnavailableReason(): string | undefined {
  const reason = netnsUnavailableReason();
  if (reason) return reason;
  // Only version queries: nothing may touch the machine's own namespace's rules or settings.
  try {
    execFileSync('nft', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'nftables (`nft`) is not installed';
  }
  try {
    execFileSync('sysctl', ['--version'], { stdio: 'ignore' });
  } catch {
    return '`sysctl` (procps) is not installed';
  }
  return undefined;
}

// Internet hosts take .1 to .99 of the internet segment and routers .101 up.
const MAX_INTERNET_HOSTS = 99;
const FIRST_ROUTER = 101;
const MAX_ROUTERS = 254 - FIRST_ROUTER + 1;


/**
 * Creates an "internet" segment 10.X.Y.0/24 (X.Y random per lab, so
 * concurrent runs do not collide) on a bridge in a namespace of its own,
 * `internetHosts` hosts on it at 10.X.Y.1, .2, ..., and one NAT router per
 * entry of `nats` at 10.X.Y.101, .102, ..., each with one host behind it on
 * LAN 192.168.N.0/24 (N = 1, 2, ...; router .1, host .2).
 *
 * HyperDHT ignores peer addresses its `bogon` package calls reserved (TEST-NET
 * ranges, 198.18.0.0/15, ...) but takes private ones, hence 10/8 for the
 * internet. Routers have no default route, so a LAN cannot reach another
 * LAN except through both NATs; and no interface leads to the machine's own
 * namespace, so nothing in the lab reaches the machine's network. NAT rules
 * and `ip_forward` are set inside the routers' namespaces only. Each router
 * also drops what reaches its WAN unsolicited, like a home router's firewall:
 * from the internet, a host gets only answers to what it sent (to the same
 * address and port). There is no hairpinning: a host cannot reach its own
 * router's public address.
 */
export function createNatLab(options: NatLabOptions): NatLab {
  const reason = natLabUnavailableReason();
  if (reason) throw new Error(reason);
  const internetHosts = options.internetHosts ?? 1;
  if (!Number.isInteger(internetHosts) || internetHosts < 0 || internetHosts > MAX_INTERNET_HOSTS) {
    throw new RangeError(`internetHosts must be an integer from 0 to ${MAX_INTERNET_HOSTS}`);
  }
  if (options.nats.length > MAX_ROUTERS) throw new RangeError(`at most ${MAX_ROUTERS} routers per lab`);
  const tag = labTag();
  const subnet = labSubnet();
  // Prefixes differ from createNetnsLab's (`pnsw-`, `pn<digit>-`), whose tags are made the same way.
  const bridgeNs = `pnib-${tag}`;
  const namespaces = new Namespaces();
  const inNamespace = (ns: string, command: readonly string[], input?: string): void =>
    void execFileSync('ip', ['netns', 'exec', ns, ...command], {
      input,
      stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'],
    });
  const addNamespace = (ns: string): void => namespaces.add(ns, { loopback: true });
  const internet: NetnsHost[] = [];
  const hosts: NetnsHost[] = [];
  const routers: NatRouter[] = [];

  const lab: NatLab = {
    internet,
    hosts,
    routers,
    namespaces: namespaces.names,
    spawn: (node, command, spawnOptions = {}) => namespaces.spawn(node.namespace, command, spawnOptions),
    exec: (node, command) => namespaces.exec(node.namespace, command),
    destroy: () => namespaces.destroy(),
  };

  try {
    addNamespace(bridgeNs);
    ip('-n', bridgeNs, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', bridgeNs, 'link', 'set', 'br0', 'up');
    /** Puts `iface` of `ns` on the internet bridge, as `port` of the bridge's namespace, with `address`. */
    const plugIn = (ns: string, iface: string, port: string, address: string): void => {
      ip('-n', ns, 'link', 'add', iface, 'type', 'veth', 'peer', 'name', port, 'netns', bridgeNs);
      ip('-n', bridgeNs, 'link', 'set', port, 'master', 'br0');
      ip('-n', bridgeNs, 'link', 'set', port, 'up');
      ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', iface);
      ip('-n', ns, 'link', 'set', iface, 'up');
    };

    for (let i = 1; i <= internetHosts; i++) {
      const ns = `pni${i}-${tag}`;
      addNamespace(ns);
      const address = `${subnet}.${i}`;
      // No default route: a send to anything outside the lab fails at once (ENETUNREACH) instead of vanishing.
      plugIn(ns, 'eth0', `i${i}`, address);
      internet.push({ namespace: ns, address, iface: 'eth0' });
    }

    options.nats.forEach((nat, index) => {
      const n = index + 1;
      const routerNs = `pnr${n}-${tag}`;
      const hostNs = `pnh${n}-${tag}`;
      addNamespace(routerNs);
      addNamespace(hostNs);
      const publicAddress = `${subnet}.${FIRST_ROUTER + index}`;
      // The router has no default route either: a packet for another router's LAN finds no way there.
      plugIn(routerNs, 'wan', `r${n}`, publicAddress);

      const lan = `192.168.${n}`;
      const lanAddress = `${lan}.1`;
      const hostAddress = `${lan}.2`;
      ip('-n', routerNs, 'link', 'add', 'lan', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', hostNs);
      ip('-n', routerNs, 'addr', 'add', `${lanAddress}/24`, 'dev', 'lan');
      ip('-n', routerNs, 'link', 'set', 'lan', 'up');
      ip('-n', hostNs, 'addr', 'add', `${hostAddress}/24`, 'dev', 'eth0');
      ip('-n', hostNs, 'link', 'set', 'eth0', 'up');
      ip('-n', hostNs, 'route', 'add', 'default', 'via', lanAddress);

      // `ip netns exec` runs sysctl in the router's namespace, whose /proc/sys/net is its own.
      inNamespace(routerNs, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      inNamespace(routerNs, ['nft', '-f', '-'], routerRuleset(nat));
      routers.push({ namespace: routerNs, publicAddress, lanAddress, nat });
      hosts.push({ namespace: hostNs, address: hostAddress, iface: 'eth0' });
    });
  } catch (error) {
    lab.destroy();
    throw error;
  }
  return lab;
}

/**
 * The router's nftables rules: masquerade what leaves by the WAN, keeping the
 * source port (`masquerade`) or taking a random one per destination
 * (`masquerade random`: the port comes from a keyed hash of the source and
 * destination, so each new destination gets a new mapping).
 *
 * And drop what arrives unsolicited on the WAN, as a home router's firewall
 * does. Without that, an unsolicited packet to the router's public address
 * becomes a conntrack entry of the router's own (for 30 s), and when the host
 * behind then sends to that packet's source, the reversed tuple is taken, so
 * masquerade gives the host another port: a holepunch between two
 * port-preserving routers would always fail. A packet dropped in the filter
 * hook never has its conntrack entry confirmed, so none is left behind.
 */
function routerRuleset(nat: NatKind): string {
  const masquerade = nat === 'random' ? 'masquerade random' : 'masquerade';
  return `
table ip natlab {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" ${masquerade}
  }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan" ct state established,related accept
    iifname "wan" drop
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "wan" ct state established,related accept
    iifname "wan" drop
  }
}
`;
}
