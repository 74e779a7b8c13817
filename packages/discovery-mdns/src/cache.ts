import type { Answer, Question } from 'dns-packet';
import type { PeerId } from '@peernet/interface';
import { SERVICE_TYPE } from './names.js';
import type { ServiceRecord } from './parse.js';

/** Default cap on the instances one cache tracks. */
export const DEFAULT_MAX_PEERS = 1000;

/** Cap on the addresses kept for one host name. */
export const MAX_ADDRESSES_PER_HOST = 16;

// RFC 6762 §5.2: re-query a record we still want at 80, 85, 90 and 95 % of its TTL, plus up to 2 % at random.
const REFRESH_POINTS = [0.8, 0.85, 0.9, 0.95] as const;
const REFRESH_JITTER = 0.02;
// RFC 6762 §10.2: a cache-flush record evicts the other records of its set received more than one second earlier.
const FLUSH_GRACE_MS = 1000;

/** Where a peer can be reached, as seen on one interface. */
export interface ResolvedPeer {
  readonly id: PeerId;
  readonly port: number;
  /** IPv4 addresses, sorted. */
  readonly hosts: readonly string[];
  /** Who sent the SRV record the port and host name come from, when known. */
  readonly from?: string;
}

/** What the caller should do after feeding the cache. */
export interface CacheUpdate {
  /** Keys (base32 ids) of instances whose resolved state may have changed. */
  readonly changed: ReadonlySet<string>;
  /** Questions to send: follow-ups for incomplete instances, or refreshes of records near expiry. */
  readonly questions: Question[];
}

/** Options of a `PeerCache`. */
export interface PeerCacheOptions {
  /** Most instances tracked at once (default 1000). */
  maxPeers?: number;
  /** Source of the refresh jitter, in [0, 1) (default `Math.random`). */
  random?: () => number;
}

interface Entry {
  received: number;
  ttlMs: number;
  expires: number;
  step: number;
  refreshAt: number;
}

interface Instance {
  readonly id: PeerId;
  readonly key: string;
  /** Instance name as last received, for known-answer lists. */
  name: string;
  ptr: Entry;
  /**
   * The one SRV record kept: a newer one replaces it, so however many
   * answers name this instance, it holds one port and one host name.
   */
  srv?: { entry: Entry; target: string; port: number; from: string | undefined };
  txt?: Entry;
}

const KIND_ORDER = { ptr: 0, srv: 1, txt: 2, a: 3 } as const;

/**
 * The records heard on one interface, assembled into peers (sans-IO: time is
 * passed in). An instance enters only through a PTR record; its SRV and TXT
 * and the A records of its SRV target are kept while their TTLs last, and it
 * resolves once it has all four. Goodbyes (TTL 0) remove a record at once.
 */
export class PeerCache {
  readonly #maxPeers: number;
  readonly #random: () => number;
  readonly #instances = new Map<string, Instance>();
  readonly #hosts = new Map<string, Map<string, Entry>>();

  constructor(options: PeerCacheOptions = {}) {
    this.#maxPeers = options.maxPeers ?? DEFAULT_MAX_PEERS;
    this.#random = options.random ?? Math.random;
  }

  /** Number of instances tracked (resolved or not). */
  get size(): number {
    return this.#instances.size;
  }

  /** Number of host names whose addresses are kept. */
  get hostCount(): number {
    return this.#hosts.size;
  }

  /** Takes the validated records of one response received at `now`, sent by `from` (its source address) if known. */
  ingest(records: readonly ServiceRecord[], now: number, from?: string): CacheUpdate {
    const changed = new Set<string>();
    const touched = new Set<string>();
    const ordered = [...records].sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind]);
    let targets: Map<string, Set<string>> | undefined;
    for (const record of ordered) {
      switch (record.kind) {
        case 'ptr': {
          const key = record.id.toString();
          const instance = this.#instances.get(key);
          if (record.ttl === 0) {
            if (instance !== undefined) {
              this.#instances.delete(key);
              changed.add(key);
            }
            continue;
          }
          if (instance !== undefined) {
            instance.ptr = this.#entry(record.ttl, now);
            instance.name = record.instance;
          } else {
            if (!this.#makeRoom()) continue;
            this.#instances.set(key, { id: record.id, key, name: record.instance, ptr: this.#entry(record.ttl, now) });
            changed.add(key);
          }
          touched.add(key);
          break;
        }
        case 'srv': {
          const key = record.id.toString();
          const instance = this.#instances.get(key);
          if (instance === undefined) continue;
          const same = instance.srv?.target === record.target && instance.srv.port === record.port;
          if (record.ttl === 0) {
            if (same) delete instance.srv;
          } else {
            instance.srv = { entry: this.#entry(record.ttl, now), target: record.target, port: record.port, from };
          }
          changed.add(key);
          touched.add(key);
          break;
        }
        case 'txt': {
          const key = record.id.toString();
          const instance = this.#instances.get(key);
          if (instance === undefined) continue;
          if (record.ttl === 0) delete instance.txt;
          else instance.txt = this.#entry(record.ttl, now);
          changed.add(key);
          touched.add(key);
          break;
        }
        case 'a': {
          targets ??= this.#targets();
          const users = targets.get(record.host);
          // Only hosts some tracked instance points at: A records cannot fill the cache on their own.
          if (users === undefined) continue;
          let addresses = this.#hosts.get(record.host);
          if (addresses === undefined) {
            addresses = new Map();
            this.#hosts.set(record.host, addresses);
          }
          if (record.ttl === 0) {
            addresses.delete(record.address);
          } else {
            if (record.flush) {
              for (const [address, entry] of addresses) {
                if (address !== record.address && entry.received < now - FLUSH_GRACE_MS) addresses.delete(address);
              }
            }
            if (addresses.has(record.address) || addresses.size < MAX_ADDRESSES_PER_HOST) {
              addresses.set(record.address, this.#entry(record.ttl, now));
            }
          }
          for (const key of users) changed.add(key);
          break;
        }
      }
    }
    this.#collectHosts();

    const questions: Question[] = [];
    for (const key of touched) {
      const instance = this.#instances.get(key);
      if (instance === undefined) continue;
      if (instance.srv === undefined) questions.push({ name: instance.name, type: 'SRV', class: 'IN' });
      if (instance.txt === undefined) questions.push({ name: instance.name, type: 'TXT', class: 'IN' });
      if (instance.srv !== undefined && (this.#hosts.get(instance.srv.target)?.size ?? 0) === 0) {
        questions.push({ name: instance.srv.target, type: 'A', class: 'IN' });
      }
    }
    return { changed, questions: dedupe(questions) };
  }

  /**
   * Drops what expired by `now` and returns the refresh questions that fell
   * due (RFC 6762 §5.2). Call it at `nextDeadline()`.
   */
  expire(now: number): CacheUpdate {
    const changed = new Set<string>();
    const questions: Question[] = [];
    for (const [key, instance] of this.#instances) {
      if (instance.ptr.expires <= now) {
        this.#instances.delete(key);
        changed.add(key);
        continue;
      }
      if (instance.srv !== undefined && instance.srv.entry.expires <= now) {
        delete instance.srv;
        changed.add(key);
      }
      if (instance.txt !== undefined && instance.txt.expires <= now) {
        delete instance.txt;
        changed.add(key);
      }
      if (this.#refreshDue(instance.ptr, now)) questions.push({ name: SERVICE_TYPE, type: 'PTR', class: 'IN' });
      if (instance.srv !== undefined && this.#refreshDue(instance.srv.entry, now)) {
        questions.push({ name: instance.name, type: 'SRV', class: 'IN' });
      }
      if (instance.txt !== undefined && this.#refreshDue(instance.txt, now)) {
        questions.push({ name: instance.name, type: 'TXT', class: 'IN' });
      }
    }
    const targets = this.#targets();
    for (const [host, addresses] of this.#hosts) {
      let refresh = false;
      for (const [address, entry] of addresses) {
        if (entry.expires <= now) {
          addresses.delete(address);
          for (const key of targets.get(host) ?? []) changed.add(key);
        } else if (this.#refreshDue(entry, now)) {
          refresh = true;
        }
      }
      if (refresh) questions.push({ name: host, type: 'A', class: 'IN' });
    }
    this.#collectHosts();
    return { changed, questions: dedupe(questions) };
  }

  /** The earliest time at which `expire` has something to do, or undefined when the cache is empty. */
  nextDeadline(): number | undefined {
    let next = Infinity;
    const consider = (entry: Entry): void => {
      next = Math.min(next, entry.refreshAt, entry.expires);
    };
    for (const instance of this.#instances.values()) {
      consider(instance.ptr);
      if (instance.srv !== undefined) consider(instance.srv.entry);
      if (instance.txt !== undefined) consider(instance.txt);
    }
    for (const addresses of this.#hosts.values()) for (const entry of addresses.values()) consider(entry);
    return next === Infinity ? undefined : next;
  }

  /** The peer as resolved on this interface, or undefined while any of PTR, SRV, TXT or A is missing. */
  resolved(key: string): ResolvedPeer | undefined {
    const instance = this.#instances.get(key);
    if (instance?.srv === undefined || instance.txt === undefined) return undefined;
    const addresses = this.#hosts.get(instance.srv.target);
    if (addresses === undefined || addresses.size === 0) return undefined;
    const from = instance.srv.from;
    return { id: instance.id, port: instance.srv.port, hosts: [...addresses.keys()].sort(), ...(from === undefined ? {} : { from }) };
  }

  /** Keys of every tracked instance. */
  keys(): string[] {
    return [...this.#instances.keys()];
  }

  /**
   * The PTR records we hold with more than half their TTL left, as known
   * answers for a browse query (RFC 6762 §7.1), at most `limit` of them.
   */
  knownAnswers(now: number, limit: number): Answer[] {
    const out: Answer[] = [];
    for (const instance of this.#instances.values()) {
      if (out.length >= limit) break;
      const left = instance.ptr.expires - now;
      if (left > instance.ptr.ttlMs / 2) {
        out.push({ name: SERVICE_TYPE, type: 'PTR', class: 'IN', ttl: Math.floor(left / 1000), data: instance.name });
      }
    }
    return out;
  }

  /** Forgets everything. */
  clear(): void {
    this.#instances.clear();
    this.#hosts.clear();
  }

  #entry(ttl: number, now: number): Entry {
    const ttlMs = ttl * 1000;
    const entry: Entry = { received: now, ttlMs, expires: now + ttlMs, step: 0, refreshAt: Infinity };
    entry.refreshAt = this.#refreshTime(entry);
    return entry;
  }

  #refreshTime(entry: Entry): number {
    const point = REFRESH_POINTS[entry.step];
    if (point === undefined) return Infinity;
    return entry.received + entry.ttlMs * (point + this.#random() * REFRESH_JITTER);
  }

  /** True once per refresh point passed; skips points that all passed while the process was busy. */
  #refreshDue(entry: Entry, now: number): boolean {
    if (entry.refreshAt > now) return false;
    while (entry.refreshAt <= now) {
      entry.step++;
      entry.refreshAt = this.#refreshTime(entry);
    }
    return true;
  }

  /**
   * Room for one more instance: below the cap, or by evicting the oldest
   * unresolved instance. Resolved peers are never evicted for a newcomer, so a
   * flood of bare PTR records cannot push out real peers.
   */
  #makeRoom(): boolean {
    if (this.#instances.size < this.#maxPeers) return true;
    for (const [key, instance] of this.#instances) {
      if (this.resolved(instance.key) === undefined) {
        this.#instances.delete(key);
        return true;
      }
    }
    return false;
  }

  /** Host name → keys of the instances whose SRV points at it. */
  #targets(): Map<string, Set<string>> {
    const targets = new Map<string, Set<string>>();
    for (const instance of this.#instances.values()) {
      if (instance.srv === undefined) continue;
      let users = targets.get(instance.srv.target);
      if (users === undefined) {
        users = new Set();
        targets.set(instance.srv.target, users);
      }
      users.add(instance.key);
    }
    return targets;
  }

  /** Drops host entries no instance points at any more, and empty ones. */
  #collectHosts(): void {
    const targets = this.#targets();
    for (const [host, addresses] of this.#hosts) {
      if (addresses.size === 0 || !targets.has(host)) this.#hosts.delete(host);
    }
  }
}

function dedupe(questions: Question[]): Question[] {
  const seen = new Set<string>();
  return questions.filter((q) => {
    const key = `${q.name.toLowerCase()}|${q.type}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
