import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';

/**
 * A throw-away LAN made of Linux network namespaces: one namespace holds a
 * bridge, each host namespace has an `eth0` veth plugged into it and a
 * private 10.x.y.0/24 address. Nothing in it can reach the machine's own
 * interfaces, so broadcasts sent inside stay inside.
 */
export interface NetnsLab {
  /** The host namespaces, in order, with their eth0 addresses. */
  readonly hosts: ReadonlyArray<{ namespace: string; address: string }>;
  /** The subnet's broadcast address. */
  readonly broadcast: string;
  /** Deletes every namespace of the lab; safe to call more than once, never throws. */
  destroy(): void;
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

/** Why namespaces cannot be used here, or undefined if they can. */
export function netnsUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'network namespaces need root (run the tests as root to include this test)';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore', timeout: 5000 });
  } catch {
    return "the 'ip' command (iproute2) is not installed";
  }
  return undefined;
}

/** Builds a lab of `count` hosts on one bridge. Names are unique per call, so parallel runs do not collide. */
export function createNetnsLab(count: number): NetnsLab {
  const prefix = `pnudp-${process.pid.toString(36)}-${randomBytes(3).toString('hex')}`;
  const switchNs = `${prefix}-sw`;
  const subnet = `10.${randomInt(1, 255)}.${randomInt(0, 256)}`;
  const created: string[] = [];
  const destroy = (): void => {
    for (const namespace of [...created].reverse()) {
      try {
        ip(['netns', 'del', namespace]);
      } catch {
        // Already gone.
      }
    }
    created.length = 0;
  };
  try {
    ip(['netns', 'add', switchNs]);
    created.push(switchNs);
    ip(['-n', switchNs, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', switchNs, 'link', 'set', 'br0', 'up']);
    const hosts: Array<{ namespace: string; address: string }> = [];
    for (let i = 1; i <= count; i++) {
      const namespace = `${prefix}-h${i}`;
      const address = `${subnet}.${i}`;
      ip(['netns', 'add', namespace]);
      created.push(namespace);
      ip(['-n', namespace, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `v${i}`, 'netns', switchNs]);
      ip(['-n', switchNs, 'link', 'set', `v${i}`, 'master', 'br0']);
      ip(['-n', switchNs, 'link', 'set', `v${i}`, 'up']);
      ip(['-n', namespace, 'link', 'set', 'lo', 'up']);
      ip(['-n', namespace, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
      ip(['-n', namespace, 'link', 'set', 'eth0', 'up']);
      hosts.push({ namespace, address });
    }
    return { hosts, broadcast: `${subnet}.255`, destroy };
  } catch (error) {
    destroy();
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`could not build the namespace lab: ${stderr || String(error)}`, { cause: error });
  }
}
