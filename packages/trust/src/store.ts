import { InvalidArgumentError, PeerId, type PeerIdLike, TypedEmitter } from '@peernet/interface';
import { MAX_LABEL_LENGTH } from './format.js';

/** One trusted peer. Entries are frozen snapshots. */
export interface TrustEntry {
  /** The peer's id (its Ed25519 public key). */
  readonly id: PeerId;
  /** A name chosen by the user, if any. */
  readonly label: string | undefined;
  /** When the peer was first added (ms since the Unix epoch); kept when the label changes. */
  readonly addedAt: number;
}

/** Options of `TrustStore.add`. */
export interface AddOptions {
  /** New label; when omitted an existing entry keeps its label. At most 1024 characters. */
  label?: string;
}

/**
 * Events of a trust store. `added` and `updated` fire once the change is
 * durable, just before the `add` promise resolves; `removed` fires when the
 * removal is processed, also if its write failed (the peer stays untrusted).
 */
export interface TrustStoreEvents {
  /** A peer that was not trusted now is. */
  added: (entry: TrustEntry) => void;
  /** A trusted peer's label changed. */
  updated: (entry: TrustEntry, previous: TrustEntry) => void;
  /** A peer is no longer trusted. */
  removed: (entry: TrustEntry) => void;
}

/**
 * The allowlist of peers. Mutations are applied one at a time in call order;
 * each promise settles once its change is durable. `remove` takes effect for
 * `has`/`get`/`list` at once, when it is called; `add` once it resolves. A
 * rejected `add` trusts nobody; a rejected `remove` still revokes in memory.
 */
export interface TrustStore {
  /** Trusts `id` (or relabels it if already trusted, keeping `addedAt`). */
  add(id: PeerIdLike, options?: AddOptions): Promise<TrustEntry>;
  /** Stops trusting `id`; resolves true if it was trusted. */
  remove(id: PeerIdLike): Promise<boolean>;
  /** Is `id` trusted? Synchronous, never throws: a malformed id is simply not trusted. */
  has(id: PeerIdLike): boolean;
  /** The entry of a trusted peer, or undefined. */
  get(id: PeerIdLike): TrustEntry | undefined;
  /** Every trusted peer, in the order they were first added. */
  list(): TrustEntry[];
  /** Adds a listener. */
  on<E extends keyof TrustStoreEvents>(event: E, listener: TrustStoreEvents[E]): this;
  /** Removes a listener. */
  off<E extends keyof TrustStoreEvents>(event: E, listener: TrustStoreEvents[E]): this;
  /** Waits for pending mutations, then refuses new ones. Reads keep working. Idempotent. */
  close(): Promise<void>;
}

/** What `FileTrustStore.reload` found changed. */
export interface TrustChanges {
  readonly added: TrustEntry[];
  readonly updated: TrustEntry[];
  readonly removed: TrustEntry[];
}

/** What a concrete store plugs into the shared logic. */
export interface StoreBackend {
  /** Entries the store starts with (already validated and unique). */
  entries?: readonly TrustEntry[];
  /** Clock for `addedAt`; defaults to `Date.now`. */
  now?: () => number;
  /** Makes the complete new list durable; called one at a time. None for a store held in memory only. */
  persist?: ((entries: readonly TrustEntry[]) => Promise<void>) | undefined;
}

function keyOf(id: PeerIdLike): string {
  return PeerId.from(id).toString();
}

function checkLabel(options: AddOptions | undefined): string | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('add options must be an object');
  const { label } = options;
  if (label === undefined) return undefined;
  if (typeof label !== 'string') throw new InvalidArgumentError('label must be a string');
  if (label.length > MAX_LABEL_LENGTH) {
    throw new InvalidArgumentError(`label must be at most ${MAX_LABEL_LENGTH} characters, got ${label.length}`);
  }
  return label;
}

/**
 * The logic every store shares: a queue of mutations, an in-memory view for
 * the synchronous reads, events. Concrete stores differ only in `persist`.
 */
export abstract class QueuedTrustStore implements TrustStore {
  // What was last made durable (or, after a failed removal, less: see remove()).
  #entries: Map<string, TrustEntry>;
  // Peers whose removal was requested but is not finished: hidden from reads meanwhile.
  readonly #pendingRemovals = new Map<string, number>();
  readonly #emitter = new TypedEmitter<TrustStoreEvents>();
  readonly #now: () => number;
  readonly #persist: ((entries: readonly TrustEntry[]) => Promise<void>) | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  // True when memory and storage may differ after a failed write: the next mutation writes even if it changes nothing.
  #dirty = false;
  #closing: Promise<void> | undefined;

  protected constructor(backend: StoreBackend) {
    this.#entries = new Map((backend.entries ?? []).map((entry) => [entry.id.toString(), entry]));
    this.#now = backend.now ?? Date.now;
    if (typeof this.#now !== 'function') throw new InvalidArgumentError('now must be a function');
    this.#persist = backend.persist;
  }

  /** Trusts `id` (or relabels it, keeping `addedAt`); resolves once durable. */
  add(id: PeerIdLike, options?: AddOptions): Promise<TrustEntry> {
    let peer: PeerId;
    let label: string | undefined;
    try {
      this.#checkOpen();
      peer = PeerId.from(id);
      label = checkLabel(options);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#enqueue(async () => {
      const key = peer.toString();
      const previous = this.#entries.get(key);
      if (previous !== undefined && (label === undefined || label === previous.label)) {
        if (this.#dirty) await this.#write(() => [...this.#entries.values()]);
        return previous;
      }
      const entry: TrustEntry = Object.freeze({
        id: peer,
        label: label ?? previous?.label,
        addedAt: previous?.addedAt ?? this.#timestamp(),
      });
      // The list with the change is built only for a store that persists: adding one of
      // many peers to a memory store does not copy the others. Reads see it once durable.
      await this.#write(() =>
        previous === undefined
          ? [...this.#entries.values(), entry]
          : [...this.#entries.values()].map((e) => (e === previous ? entry : e)),
      );
      this.#entries.set(key, entry);
      if (previous === undefined) this.#emitter.emit('added', entry);
      else this.#emitter.emit('updated', entry, previous);
      return entry;
    });
  }

  /** Stops trusting `id` at once; resolves (true if it was trusted) once durable. */
  remove(id: PeerIdLike): Promise<boolean> {
    let key: string;
    try {
      this.#checkOpen();
      key = keyOf(id);
    } catch (error) {
      return Promise.reject(error);
    }
    // Revocation must not wait for the disk: from now on the handshake refuses this peer.
    this.#pendingRemovals.set(key, (this.#pendingRemovals.get(key) ?? 0) + 1);
    return this.#enqueue(async () => {
      try {
        const previous = this.#entries.get(key);
        if (previous === undefined) {
          if (this.#dirty) await this.#write(() => [...this.#entries.values()]);
          return false;
        }
        try {
          await this.#write(() => [...this.#entries.values()].filter((e) => e !== previous));
        } finally {
          // Even if the write failed the peer stays removed in memory (fail closed); the
          // rejection tells the caller, and the next successful write catches the file up.
          this.#entries.delete(key);
          this.#emitter.emit('removed', previous);
        }
        return true;
      } finally {
        const count = (this.#pendingRemovals.get(key) ?? 1) - 1;
        if (count > 0) this.#pendingRemovals.set(key, count);
        else this.#pendingRemovals.delete(key);
      }
    });
  }

  /**
   * Replaces every entry with what `read` returns (the durable copy, changed
   * elsewhere) and emits the differences; queued like a mutation. Nothing is
   * written. If `read` rejects, the entries stay as they were.
   */
  protected replaceFrom(read: () => Promise<readonly TrustEntry[]>): Promise<TrustChanges> {
    try {
      this.#checkOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#enqueue(async () => {
      const next = new Map((await read()).map((entry) => [entry.id.toString(), entry]));
      const previous = this.#entries;
      this.#entries = next;
      this.#dirty = false;
      const changes: TrustChanges = { added: [], updated: [], removed: [] };
      for (const [key, entry] of previous) {
        if (!next.has(key)) {
          changes.removed.push(entry);
          this.#emitter.emit('removed', entry);
        }
      }
      for (const [key, entry] of next) {
        const before = previous.get(key);
        if (before === undefined) {
          changes.added.push(entry);
          this.#emitter.emit('added', entry);
        } else if (before.label !== entry.label) {
          changes.updated.push(entry);
          this.#emitter.emit('updated', entry, before);
        }
      }
      return changes;
    });
  }

  /** Is `id` trusted? Never throws. */
  has(id: PeerIdLike): boolean {
    let key: string;
    try {
      key = keyOf(id);
    } catch {
      return false;
    }
    return this.#entries.has(key) && !this.#pendingRemovals.has(key);
  }

  /** The entry of a trusted peer, or undefined. */
  get(id: PeerIdLike): TrustEntry | undefined {
    let key: string;
    try {
      key = keyOf(id);
    } catch {
      return undefined;
    }
    return this.#pendingRemovals.has(key) ? undefined : this.#entries.get(key);
  }

  /** Every trusted peer, in the order they were first added. */
  list(): TrustEntry[] {
    const out: TrustEntry[] = [];
    for (const [key, entry] of this.#entries) if (!this.#pendingRemovals.has(key)) out.push(entry);
    return out;
  }

  /** Adds a listener. */
  on<E extends keyof TrustStoreEvents>(event: E, listener: TrustStoreEvents[E]): this {
    this.#emitter.on(event, listener);
    return this;
  }

  /** Removes a listener. */
  off<E extends keyof TrustStoreEvents>(event: E, listener: TrustStoreEvents[E]): this {
    this.#emitter.off(event, listener);
    return this;
  }

  /** Waits for pending mutations, then refuses new ones. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#tail.then(() => undefined);
    return this.#closing;
  }

  #checkOpen(): void {
    if (this.#closing !== undefined) throw new InvalidArgumentError('trust store is closed');
  }

  #enqueue<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(operation);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  /** Makes `entries()` durable (not even computed for a store without `persist`). */
  async #write(entries: () => TrustEntry[]): Promise<void> {
    if (this.#persist === undefined) return;
    this.#dirty = true;
    await this.#persist(entries());
    this.#dirty = false;
  }

  #timestamp(): number {
    const now = this.#now();
    if (typeof now !== 'number' || !Number.isFinite(now) || now < 0 || now > Number.MAX_SAFE_INTEGER) {
      throw new InvalidArgumentError(`the store's clock returned ${String(now)}, not a time in milliseconds`);
    }
    return Math.floor(now);
  }
}

/** Options of `MemoryTrustStore`. */
export interface MemoryTrustStoreOptions {
  /** Clock for `addedAt` (ms since the Unix epoch); defaults to `Date.now`. */
  now?: () => number;
}

/** A trust store held in memory only (any runtime); its contents end with the process. */
export class MemoryTrustStore extends QueuedTrustStore {
  /** An empty store. */
  constructor(options: MemoryTrustStoreOptions = {}) {
    super({ now: options.now });
  }
}
