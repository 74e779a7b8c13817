import type { RemoteInfo } from 'node:dgram';
import type { Answer, Packet, Question } from 'dns-packet';
import { DIAGNOSTICS_CHANNELS, MAX_TIMER_MS, hasDiagnosticsSubscribers, inSubnet } from '@peernet/interface';
import { type Link, type LinkContext, heardOn, recordsOn, sendOn } from './link.js';
import { MDNS_PORT, SERVICE_TYPE } from './names.js';
import { type ParseOptions, parseResponse } from './parse.js';
import { query } from './records.js';
import { type QueryBackoff, QuerySchedule } from './schedule.js';

// RFC 6762 §5.2: a follow-up question is not repeated on an interface within a second.
const QUESTION_INTERVAL_MS = 1000;
// Query packets on one interface are at least this far apart; questions that arrive in between are sent together.
const QUERY_GAP_MS = 100;
// The cache timer fires at most this often: records with tiny TTLs cannot make it spin.
const CACHE_TICK_MS = 100;
const MAX_KNOWN_ANSWERS = 64;
const MAX_QUESTIONS_PER_QUERY = 32;
const MAX_PENDING_QUESTIONS = 256;

/**
 * The query side: browses for PeerNet instances (1 s, 2 s, 4 s … up to the
 * cap), feeds what it hears into each link's cache, asks for what a
 * response left out, refreshes records near expiry, and tells its owner
 * which peers may have changed.
 */
export class Browser {
  readonly #context: LinkContext;
  readonly #backoff: QueryBackoff;
  readonly #changed: (keys: ReadonlySet<string>) => void;
  #schedule: QuerySchedule | undefined;
  #browseTimer: unknown;
  #cacheTimer: unknown;
  #cacheTimerAt = Infinity;
  #lastCacheTick = -Infinity;

  /** `changed` receives the keys (base32 ids) of peers whose resolved state may have changed. */
  constructor(context: LinkContext, backoff: QueryBackoff, changed: (keys: ReadonlySet<string>) => void) {
    this.#context = context;
    this.#backoff = backoff;
    this.#changed = changed;
  }

  /** Starts browsing: a query at once, then on the backoff schedule. */
  start(): void {
    this.#schedule = new QuerySchedule(this.#backoff, this.#context.clock.now());
    this.browse();
  }

  /** Makes a query due at once and the backoff start over (the set of links changed). */
  reset(): void {
    this.#schedule?.reset(this.#context.clock.now());
  }

  /** Clears every timer and pending question, and forgets the schedule. */
  stop(): void {
    this.#clear(this.#browseTimer);
    this.#clear(this.#cacheTimer);
    this.#browseTimer = undefined;
    this.#cacheTimer = undefined;
    this.#cacheTimerAt = Infinity;
    for (const link of this.#context.links()) this.forget(link);
    this.#schedule = undefined;
  }

  /** Drops a link's pending questions and their timer, before the link goes away. */
  forget(link: Link): void {
    this.#clear(link.flushTimer);
    link.flushTimer = undefined;
    link.pending.clear();
  }

  /** Sends the browse query if it is due and schedules the next one. */
  browse(): void {
    this.#clear(this.#browseTimer);
    this.#browseTimer = undefined;
    const schedule = this.#schedule;
    const { clock } = this.#context;
    if (!this.#context.running() || schedule === undefined) return;
    const now = clock.now();
    if (schedule.isDue(now)) {
      for (const link of this.#context.links()) {
        const known = this.#knownAnswers(link, now);
        link.asked.set(questionKey({ name: SERVICE_TYPE, type: 'PTR' }), now);
        link.lastQuery = now;
        void sendOn(link, query([{ name: SERVICE_TYPE, type: 'PTR', class: 'IN' }], known));
      }
      schedule.sent(now);
    }
    this.#browseTimer = clock.setTimeout(() => this.browse(), Math.max(0, Math.ceil(schedule.due - now)));
  }

  /** Takes a response heard on `link`: only from the link's subnet and port 5353 (RFC 6762 §6, §11). */
  onResponse(link: Link, packet: Packet, rinfo: RemoteInfo): void {
    const context = this.#context;
    if (!context.running() || !heardOn(context, link, rinfo)) return;
    if (rinfo.port !== MDNS_PORT) {
      context.dropped(link, rinfo, 'wrong-port');
      return;
    }
    const now = context.clock.now();
    let changed: ReadonlySet<string>;
    try {
      const options: ParseOptions = {
        self: context.id,
        selfHost: context.hostname,
        acceptAddress: (address) => inSubnet(address, link.iface),
        // Judging records costs a little; only when someone listens.
        ...(hasDiagnosticsSubscribers(DIAGNOSTICS_CHANNELS.discoveryDropped)
          ? { onInvalid: (reason: 'malformed' | 'invalid-record') => context.dropped(link, rinfo, reason) }
          : {}),
      };
      const records = parseResponse(packet, rinfo.size, options);
      if (records.length === 0) return;
      const update = link.cache.ingest(records, now, rinfo.address);
      changed = update.changed;
      this.#ask(link, update.questions, now, true);
      this.#scheduleCache();
    } catch {
      // A hostile response shape.
      context.dropped(link, rinfo, 'malformed');
      return;
    }
    this.#changed(changed);
  }

  /**
   * Queues `questions` for `link` and sends them, together, as soon as the
   * query gap allows. Follow-ups (`paced`) skip questions asked there within
   * the last second; refreshes are paced by their TTL points instead.
   */
  #ask(link: Link, questions: readonly Question[], now: number, paced: boolean): void {
    for (const q of questions) {
      const key = questionKey(q);
      if (paced && now - (link.asked.get(key) ?? -Infinity) < QUESTION_INTERVAL_MS) continue;
      if (link.pending.size >= MAX_PENDING_QUESTIONS && !link.pending.has(key)) break;
      link.pending.set(key, q);
    }
    this.#flushQuestions(link);
  }

  #flushQuestions(link: Link): void {
    if (!this.#context.running() || link.pending.size === 0 || link.flushTimer !== undefined) return;
    const { clock } = this.#context;
    const now = clock.now();
    const wait = link.lastQuery + QUERY_GAP_MS - now;
    if (wait > 0) {
      link.flushTimer = clock.setTimeout(() => {
        link.flushTimer = undefined;
        this.#flushQuestions(link);
      }, Math.ceil(wait));
      return;
    }
    const batch = [...link.pending].slice(0, MAX_QUESTIONS_PER_QUERY);
    for (const [key] of batch) {
      link.pending.delete(key);
      link.asked.set(key, now);
    }
    if (link.asked.size > MAX_PENDING_QUESTIONS) {
      for (const [key, at] of link.asked) if (now - at >= QUESTION_INTERVAL_MS) link.asked.delete(key);
    }
    link.lastQuery = now;
    const questions = batch.map(([, q]) => q);
    const wantsPtr = questions.some((q) => q.type === 'PTR');
    void sendOn(link, query(questions, wantsPtr ? this.#knownAnswers(link, now) : []));
    this.#flushQuestions(link);
  }

  /**
   * Known answers for a PTR query (RFC 6762 §7.1): the peers' PTR records we
   * hold with more than half their TTL left, and our own, so that our own
   * responder does not answer our own query.
   */
  #knownAnswers(link: Link, now: number): Answer[] {
    const known = link.cache.knownAnswers(now, MAX_KNOWN_ANSWERS);
    const own = recordsOn(this.#context, link);
    if (own !== undefined) known.push(own.ptr);
    return known;
  }

  /** Arms one timer for the earliest expiry or refresh over every link's cache. */
  #scheduleCache(): void {
    if (!this.#context.running()) return;
    let next = Infinity;
    for (const link of this.#context.links()) next = Math.min(next, link.cache.nextDeadline() ?? Infinity);
    if (next !== Infinity) next = Math.max(next, this.#lastCacheTick + CACHE_TICK_MS);
    if (next === this.#cacheTimerAt) return;
    this.#clear(this.#cacheTimer);
    this.#cacheTimer = undefined;
    this.#cacheTimerAt = next;
    if (next === Infinity) return;
    const { clock } = this.#context;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(next - clock.now())));
    this.#cacheTimer = clock.setTimeout(() => this.#onCacheTimer(), delay);
  }

  #onCacheTimer(): void {
    this.#cacheTimer = undefined;
    this.#cacheTimerAt = Infinity;
    if (!this.#context.running()) return;
    const now = this.#context.clock.now();
    this.#lastCacheTick = now;
    const changed = new Set<string>();
    for (const link of this.#context.links()) {
      const update = link.cache.expire(now);
      for (const key of update.changed) changed.add(key);
      this.#ask(link, update.questions, now, false);
    }
    this.#scheduleCache();
    this.#changed(changed);
  }

  #clear(handle: unknown): void {
    if (handle !== undefined) this.#context.clock.clearTimeout(handle);
  }
}

function questionKey(q: { name: string; type: string }): string {
  return `${q.name.toLowerCase()}|${q.type}`;
}
