import type { Answer, Packet, Question, SrvAnswer, StringAnswer, TxtAnswer } from 'dns-packet';
import type { PeerId } from '@peernet/interface';
import { SERVICE_ENUMERATION, SERVICE_TYPE, sameName } from './names.js';

/** What this node publishes: one DNS-SD instance of `_peernet._tcp.local`. */
export interface LocalService {
  /** Our peer id; its base32 form is the instance label and the TXT `id=`. */
  readonly id: PeerId;
  /** `<id>._peernet._tcp.local`. */
  readonly instance: string;
  /** Our host name, e.g. `pn-abcdefghijklmnop.local`: the SRV target and the A record's name. */
  readonly host: string;
  /** The port the transport listens on (SRV port). */
  readonly port: number;
  /** TTL of every record, in seconds. */
  readonly ttl: number;
}

/** The records of one instance as sent on one interface. */
export interface ServiceRecords {
  /** `_peernet._tcp.local PTR <instance>` (shared record). */
  readonly ptr: StringAnswer;
  /** `<instance> SRV 0 0 <port> <host>` (unique record). */
  readonly srv: SrvAnswer;
  /** `<instance> TXT "v=1" "id=<base32>"` (unique record). */
  readonly txt: TxtAnswer;
  /** `<host> A <address of the interface>` (unique record). */
  readonly a: StringAnswer;
  /** `_services._dns-sd._udp.local PTR _peernet._tcp.local`, so service-type enumeration lists us. */
  readonly enumeration: StringAnswer;
}

/** The TXT strings of an instance: protocol version and the id, so a browser can check the label. */
export function txtOf(id: PeerId): string[] {
  return ['v=1', `id=${id.toString()}`];
}

/**
 * Builds the records of `service` for an interface whose address is `address`.
 * Unique records carry the cache-flush bit (RFC 6762 §10.2); `ttl` 0 gives the
 * goodbye versions (RFC 6762 §10.1).
 */
export function serviceRecords(service: LocalService, address: string, ttl: number = service.ttl): ServiceRecords {
  return {
    ptr: { name: SERVICE_TYPE, type: 'PTR', class: 'IN', ttl, data: service.instance },
    srv: {
      name: service.instance,
      type: 'SRV',
      class: 'IN',
      flush: true,
      ttl,
      data: { priority: 0, weight: 0, port: service.port, target: service.host },
    },
    txt: { name: service.instance, type: 'TXT', class: 'IN', flush: true, ttl, data: txtOf(service.id) },
    a: { name: service.host, type: 'A', class: 'IN', flush: true, ttl, data: address },
    enumeration: { name: SERVICE_ENUMERATION, type: 'PTR', class: 'IN', ttl, data: SERVICE_TYPE },
  };
}

/** The unsolicited response announcing (or, with TTL 0, withdrawing) an instance: RFC 6762 §8.3 and §10.1. */
export function announcement(records: ServiceRecords): Packet {
  return { type: 'response', answers: [records.ptr, records.srv, records.txt, records.a] };
}

/**
 * The classes a question may carry and still concern us: IN or ANY, with or
 * without the unicast-response bit. dns-packet decodes the class to a name
 * before looking at that bit, so QU questions arrive as `UNKNOWN_32769` and
 * `UNKNOWN_33023`.
 */
const QUESTION_CLASSES = new Set<unknown>([undefined, 'IN', 'ANY', 'UNKNOWN_32769', 'UNKNOWN_33023']);

/** At most this many questions of one query are looked at. */
export const MAX_QUESTIONS = 64;

/** Identifies a record by name, type and data, ignoring TTL: what rate limits and known answers compare. */
export function recordKey(record: Answer): string {
  const name = record.name.toLowerCase();
  switch (record.type) {
    case 'SRV':
      return `${name}|SRV|${record.data.port}|${record.data.target.toLowerCase()}`;
    case 'TXT': {
      const parts = Array.isArray(record.data) ? record.data : [record.data];
      return `${name}|TXT|${parts.map((part) => Buffer.from(part).toString('hex')).join(',')}`;
    }
    case 'PTR':
      return `${name}|PTR|${String(record.data).toLowerCase()}`;
    case 'A':
      return `${name}|A|${String(record.data)}`;
    default:
      return `${name}|${record.type}`;
  }
}

/** Minimum time between two multicasts of the same record on one interface (RFC 6762 §6). */
export const RECORD_INTERVAL_MS = 1000;

/**
 * Decides what to answer to a query (RFC 6762 §6, RFC 6763 §12) and rate-limits
 * what it multicasts. One per interface; sans-IO: the caller sends the packet.
 */
export class Responder {
  readonly #lastSent = new Map<string, number>();

  /**
   * The response to `query`, or undefined when nothing is to be said: no
   * question about our records, every answer already known to the querier
   * (known-answer suppression, RFC 6762 §7.1) or multicast less than a second ago.
   */
  respond(query: Packet, records: ServiceRecords, now: number): Packet | undefined {
    const answers = new Map<string, Answer>();
    const additionals = new Map<string, Answer>();
    const add = (into: Map<string, Answer>, record: Answer): void => {
      into.set(recordKey(record), record);
    };
    const questions = Array.isArray(query.questions) ? query.questions.slice(0, MAX_QUESTIONS) : [];
    for (const question of questions) {
      if (!isQuestion(question) || !QUESTION_CLASSES.has(question.class)) continue;
      const name = question.name;
      // dns-packet's RecordType has no 'ANY', but decoding yields it for type 255.
      const type: string = question.type;
      const any = type === 'ANY';
      if (sameName(name, SERVICE_TYPE) && (any || type === 'PTR')) {
        add(answers, records.ptr);
        add(additionals, records.srv);
        add(additionals, records.txt);
        add(additionals, records.a);
      } else if (sameName(name, SERVICE_ENUMERATION) && (any || type === 'PTR')) {
        add(answers, records.enumeration);
      } else if (sameName(name, records.srv.name)) {
        if (any || type === 'SRV') {
          add(answers, records.srv);
          add(additionals, records.a);
        }
        if (any || type === 'TXT') add(answers, records.txt);
      } else if (sameName(name, records.a.name) && (any || type === 'A')) {
        add(answers, records.a);
      }
    }
    if (answers.size === 0) return undefined;

    for (const known of knownAnswerKeys(query, records)) {
      answers.delete(known);
      additionals.delete(known);
    }
    for (const key of answers.keys()) additionals.delete(key);
    const recent = (key: string): boolean => now - (this.#lastSent.get(key) ?? -Infinity) < RECORD_INTERVAL_MS;
    for (const key of [...answers.keys()]) if (recent(key)) answers.delete(key);
    for (const key of [...additionals.keys()]) if (recent(key)) additionals.delete(key);
    if (answers.size === 0) return undefined;

    const response: Packet = { type: 'response', answers: [...answers.values()], additionals: [...additionals.values()] };
    this.sent(response, now);
    return response;
  }

  /** Notes that `packet`'s records went out at `now` (announcements count too). */
  sent(packet: Packet, now: number): void {
    for (const record of [...(packet.answers ?? []), ...(packet.additionals ?? [])]) {
      this.#lastSent.set(recordKey(record), now);
    }
  }

  /** Forgets what was sent (the records changed or the node goes quiet). */
  clear(): void {
    this.#lastSent.clear();
  }
}

function isQuestion(value: unknown): value is Question {
  const q = value as Question | null;
  return typeof q === 'object' && q !== null && typeof q.name === 'string' && typeof q.type === 'string';
}

/** Keys of our records that the querier listed as known with at least half their TTL left. */
function knownAnswerKeys(query: Packet, records: ServiceRecords): string[] {
  const ours = new Map<string, number>();
  for (const record of [records.ptr, records.srv, records.txt, records.a, records.enumeration]) {
    ours.set(recordKey(record), record.ttl ?? 0);
  }
  const known: string[] = [];
  const listed = Array.isArray(query.answers) ? query.answers.slice(0, 256) : [];
  for (const answer of listed) {
    if (typeof answer !== 'object' || answer === null || typeof answer.name !== 'string') continue;
    if (answer.type !== 'PTR' && answer.type !== 'SRV' && answer.type !== 'TXT' && answer.type !== 'A') continue;
    let key: string;
    try {
      key = recordKey(answer);
    } catch {
      continue;
    }
    const ttl = ours.get(key);
    if (ttl !== undefined && typeof answer.ttl === 'number' && answer.ttl >= ttl / 2) known.push(key);
  }
  return known;
}

/** A query for `questions` with the listed known answers (RFC 6762 §7.1). */
export function query(questions: Question[], knownAnswers: Answer[] = []): Packet {
  return { type: 'query', questions, answers: knownAnswers };
}
