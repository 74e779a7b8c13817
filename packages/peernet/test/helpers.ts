import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INVITE_WORDS, parseInviteCode } from '@peernet/pairing';
import { PeerNet, type PeerNetEvents, type PeerNetOptions } from 'peernet';

const nodes: PeerNet[] = [];
const dirs: string[] = [];

/** Starts a node on 127.0.0.1 with a fresh temp data dir; stopped by `cleanup()`. */
export async function startNode(options: Partial<PeerNetOptions> = {}): Promise<PeerNet> {
  const dataDir = options.dataDir ?? (await tempDir());
  const node = await PeerNet.start({ host: '127.0.0.1', discovery: [], ...options, dataDir });
  nodes.push(node);
  return node;
}

/** A fresh temp directory, removed by `cleanup()`. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'peernet-test-'));
  dirs.push(dir);
  return dir;
}

/** Pairs both ways and connects a to b. */
export async function connected(a: PeerNet, b: PeerNet): Promise<void> {
  await a.pair(b.id, { label: 'b' });
  await b.pair(a.id, { label: 'a' });
  const online = new Promise<void>((resolve) => b.once('peer:online', () => resolve()));
  await a.connect(b.id, { host: '127.0.0.1', port: b.port });
  await online;
}

/** Stops every node and removes every temp dir. */
export async function cleanup(): Promise<void> {
  await Promise.all(nodes.splice(0).map((node) => node.stop()));
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/** Resolves with the next emission of `event` on `node`, or rejects after `ms`. */
export function nextEvent<E extends keyof PeerNetEvents>(node: PeerNet, event: E, ms = 5000): Promise<PeerNetEvents[E]> {
  return new Promise((resolve, reject) => {
    const listener = (...args: PeerNetEvents[E]): void => {
      clearTimeout(timer);
      resolve(args);
    };
    const timer = setTimeout(() => {
      node.off(event, listener);
      reject(new Error(`no '${event}' within ${ms} ms`));
    }, ms);
    node.once(event, listener);
  });
}

/** Two started nodes with a live session between them. */
export async function pair(options: Partial<PeerNetOptions> = {}): Promise<{ a: PeerNet; b: PeerNet }> {
  const [a, b] = await Promise.all([startNode(options), startNode(options)]);
  await connected(a, b);
  return { a, b };
}

/** A promise with its resolve function, for waiting on an event instead of sleeping. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** The rejection of `promise` (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error('expected a rejection');
}

/** An invite code with every word replaced by the next code word: the same nameplate, a wrong secret. */
export function wrongCode(code: string): string {
  const { nameplate, words } = parseInviteCode(code);
  const other = words.map((word) => INVITE_WORDS[(INVITE_WORDS.indexOf(word) + 1) % INVITE_WORDS.length] as string);
  return [nameplate, ...other].join('-');
}
