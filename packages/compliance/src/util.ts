import { type Hash, createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { DuplexStream, PeerNetError } from '@peernet/interface';

/** The loose view of an event emitter the helpers need (DuplexStream's overloads name fixed events). */
interface Emitter {
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
}

const asEmitter = (stream: DuplexStream): Emitter => stream as unknown as Emitter;

/** Adds a listener for any event name on a stream. */
export function listen(stream: DuplexStream, event: string, listener: (...args: any[]) => void): () => void {
  asEmitter(stream).on(event, listener);
  return () => asEmitter(stream).off(event, listener);
}

/** Settles `promise` or fails after `timeout` ms with a message naming what was awaited; leaves no timer. */
export function withTimeout<T>(promise: Promise<T>, timeout: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms waiting for ${what}`)), timeout);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** Resolves with the first of `events` that `stream` emits (and its first argument). */
export function nextEvent(
  stream: DuplexStream,
  events: readonly string[],
  timeout: number,
  what: string,
): Promise<{ event: string; value: unknown }> {
  let removers: Array<() => void> = [];
  const fired = new Promise<{ event: string; value: unknown }>((resolve) => {
    removers = events.map((event) => listen(stream, event, (value: unknown) => resolve({ event, value })));
  });
  const done = (): void => {
    for (const remove of removers) remove();
  };
  return withTimeout(fired, timeout, what).finally(done);
}

/** Resolves once `condition()` holds, re-checking on every turn of the event loop. */
export async function waitUntil(condition: () => boolean, timeout: number, what: string): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * Lets tests wait for a state of something that records events: call
 * `wake()` whenever a new event is recorded, and `until(find, ...)` resolves
 * with the first non-undefined `find()` result, or rejects after `timeout`.
 */
export class Waiters {
  readonly #waiters = new Set<() => void>();

  /** Re-checks every pending `until`. */
  wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Resolves with `find()`'s first defined value (checked now and on every `wake()`). */
  until<T>(find: () => T | undefined, timeout: number, what: string | (() => string)): Promise<T> {
    const found = find();
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<T>((resolve, reject) => {
      const waiter = (): void => {
        const value = find();
        if (value === undefined) return;
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        // Described only on failure, so the message can show what was seen by then.
        reject(new Error(`timed out after ${timeout} ms waiting for ${typeof what === 'string' ? what : what()}`));
      }, timeout);
      this.#waiters.add(waiter);
    });
  }
}

/** Consumes a stream, counting and hashing what arrives, and lets tests wait for progress. */
export class Reader {
  received = 0;
  ended = false;
  closed = false;
  error: Error | undefined;
  readonly #keep: boolean;
  readonly #chunks: Uint8Array[] = [];
  readonly #hash: Hash = createHash('sha256');
  #waiters = new Set<() => void>();

  constructor(stream: DuplexStream, options: { keep?: boolean } = {}) {
    this.#keep = options.keep ?? true;
    stream.on('data', (chunk) => {
      this.received += chunk.length;
      this.#hash.update(chunk);
      if (this.#keep) this.#chunks.push(Uint8Array.from(chunk));
      this.#notify();
    });
    stream.on('end', () => {
      this.ended = true;
      this.#notify();
    });
    stream.on('error', (error) => {
      this.error ??= error;
      this.#notify();
    });
    stream.on('close', () => {
      this.closed = true;
      this.#notify();
    });
  }

  /** Everything received so far (only when constructed with `keep`). */
  bytes(): Uint8Array {
    return Buffer.concat(this.#chunks);
  }

  /** Everything received so far as UTF-8. */
  text(): string {
    return Buffer.from(this.bytes()).toString('utf8');
  }

  /** SHA-256 of everything received; call once, after the last byte. */
  digest(): string {
    return this.#hash.digest('hex');
  }

  /** Waits for at least `count` bytes. */
  waitForBytes(count: number, timeout: number, what = `${count} bytes`): Promise<void> {
    return this.#until(() => this.received >= count, timeout, what);
  }

  /** Waits for `'end'`. */
  waitForEnd(timeout: number, what = "'end'"): Promise<void> {
    return this.#until(() => this.ended, timeout, what);
  }

  #until(condition: () => boolean, timeout: number, what: string): Promise<void> {
    if (condition()) return Promise.resolve();
    let waiter: () => void = () => {};
    const reached = new Promise<void>((resolve, reject) => {
      waiter = () => {
        if (condition()) resolve();
        else if (this.closed) {
          reject(new Error(`stream closed (${this.received} bytes, ended: ${this.ended}) while waiting for ${what}`));
        }
      };
      this.#waiters.add(waiter);
    });
    return withTimeout(reached, timeout, `${what} (got ${this.received} bytes so far)`).finally(() =>
      this.#waiters.delete(waiter),
    );
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/** A queue whose consumer can wait, with a timeout, for the next item. */
export class Queue<T> {
  readonly #items: T[] = [];
  readonly #takers: Array<(item: T) => void> = [];
  count = 0;

  push(item: T): void {
    this.count++;
    const taker = this.#takers.shift();
    if (taker === undefined) this.#items.push(item);
    else taker(item);
  }

  next(timeout: number, what: string): Promise<T> {
    const item = this.#items.shift();
    if (item !== undefined) return Promise.resolve(item);
    let taker: (item: T) => void = () => {};
    const taken = new Promise<T>((resolve) => {
      taker = resolve;
      this.#takers.push(taker);
    });
    return withTimeout(taken, timeout, what).catch((error: unknown) => {
      const index = this.#takers.indexOf(taker);
      if (index >= 0) this.#takers.splice(index, 1);
      throw error;
    });
  }
}

// Pending setImmediate callbacks belong to whoever is polling right now, not to the code under test.
const IGNORED_RESOURCES = new Set(['Immediate']);

/** Counts of the process's active resources (handles, requests, timers) by type. */
export function resourceSnapshot(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) {
    if (!IGNORED_RESOURCES.has(type)) counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  return counts;
}

/** The resource types that have more instances now than in `baseline`, as readable text. */
export function resourcesAbove(baseline: Map<string, number>): string[] {
  const extra: string[] = [];
  for (const [type, count] of resourceSnapshot()) {
    const before = baseline.get(type) ?? 0;
    if (count > before) extra.push(`${type} x${count - before}`);
  }
  return extra;
}

/** Random bytes from a seeded generator, so failures reproduce. */
export function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < length; i++) {
    // xorshift32
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** SHA-256 of `bytes` in hex. */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Calls `onLine` with each complete line `stream` emits, without its newline.
 * `partial()` is the text after the last newline: a child killed in the middle
 * of a write leaves one, which `readline` would pass on as a line.
 */
export function readLines(stream: Readable, onLine: (line: string) => void): { partial(): string } {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      onLine(line);
    }
  });
  return { partial: () => buffered };
}

/**
 * Makes a new directory under the OS temp dir now and removes it, with
 * everything in it, after the enclosing test file or `describe` block
 * (`afterAll`). Call it where hooks may be registered, not inside a test.
 */
export function useTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The error `promise` rejects with; throws if it resolves, so a test cannot pass on a promise that should have failed. */
export async function rejection<E = PeerNetError>(promise: Promise<unknown>): Promise<E> {
  try {
    await promise;
  } catch (error) {
    return error as E;
  }
  throw new Error('expected a rejection');
}

/** Uncaught exceptions collected by `catchUncaught`, with a wait for the next one. */
export interface UncaughtCatcher {
  /** Errors caught so far, in order. */
  readonly errors: unknown[];
  /** Resolves once `count` errors were caught; rejects after `timeout` ms. */
  until(count: number, timeout: number): Promise<unknown[]>;
  /** Lets uncaught exceptions reach the process's handlers (jest's) again. Idempotent. */
  restore(): void;
}

/**
 * Collects the process's uncaught exceptions instead of letting them fail
 * the test, so a test can check that an error does surface there (as
 * PeerNet's rule for throwing event listeners wants). It uses the process's
 * capture callback, which Node consults before any 'uncaughtException'
 * listener, so jest's own handlers stay in place and take over again on
 * `restore()`; call that in a `finally`.
 */
export function catchUncaught(): UncaughtCatcher {
  const errors: unknown[] = [];
  const waiters = new Waiters();
  // Throws if something else already captures: two capturers would hide errors from each other.
  process.setUncaughtExceptionCaptureCallback((error) => {
    errors.push(error);
    waiters.wake();
  });
  let restored = false;
  return {
    errors,
    until: (count, timeout) =>
      waiters.until(() => (errors.length >= count ? errors : undefined), timeout, `${count} uncaught exception(s)`),
    restore: () => {
      if (restored) return;
      restored = true;
      process.setUncaughtExceptionCaptureCallback(null);
    },
  };
}
