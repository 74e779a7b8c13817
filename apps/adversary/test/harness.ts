import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerNet } from 'peernet';
import { Target, type TargetOptions, type TargetStats } from '../src/index.js';

/** A node under attack in its own process, and a well-behaved peer (in this process) with a live session to it. */
export interface Arena {
  target: Target;
  good: PeerNet;
  /** Calls `echo` on the target from the well-behaved peer: the "other sessions keep working" check. */
  goodCall(value?: unknown): Promise<unknown>;
  stop(): Promise<TargetStats | undefined>;
}

/** Starts a target and a well-behaved peer paired both ways and connected. */
export async function arena(options: TargetOptions = {}): Promise<Arena> {
  const target = await Target.spawn(options);
  const dir = await mkdtemp(join(tmpdir(), 'peernet-good-'));
  let good: PeerNet | undefined;
  try {
    good = await PeerNet.start({ dataDir: dir, host: '127.0.0.1', discovery: [], networkMonitor: false, callTimeoutMs: 20_000 });
    await good.pair(target.id, { label: 'target' });
    await target.pair(good.id, 'good');
    await good.connect(target.id, { host: '127.0.0.1', port: target.port });
  } catch (error) {
    await good?.stop();
    await target.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const node = good;
  return {
    target,
    good: node,
    goodCall: (value = 'still here') => node.call(target.id, 'echo', value as never, { timeoutMs: 20_000 }),
    stop: async () => {
      await node.stop();
      const final = await target.stop();
      await rm(dir, { recursive: true, force: true });
      return final;
    },
  };
}

/** Polls `probe` until `accept` says yes, or fails after `ms` with the last value seen. */
export async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T = await probe();
  while (!accept(last)) {
    if (Date.now() > deadline) throw new Error(`condition not reached within ${ms} ms; last value: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    last = await probe();
  }
  return last;
}

/** Handler runs on the target for `peer`, all names together. */
export function runsOf(stats: TargetStats, peer: { toString(): string }): number {
  return Object.values(stats.runs[peer.toString()] ?? {}).reduce((a, b) => a + b, 0);
}

/** Sockets (TCP handles) the target holds, its listener included. */
export function tcpHandles(stats: TargetStats): number {
  return (stats.resources.TCPSocketWrap ?? 0) + (stats.resources.TCPServerWrap ?? 0);
}

export const MiB = 1024 * 1024;
