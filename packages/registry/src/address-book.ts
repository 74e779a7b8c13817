import type { TransportAddress } from '@peernet/interface';

/** Where an address came from: a discovery's name, or `'manual'`. */
export type AddressSource = string;

/** An address of a peer as the registry knows it. */
export interface KnownAddress extends TransportAddress {
  /** The discovery that reported it (or `'manual'`). */
  readonly source: AddressSource;
  /** The network address the report came from, when the discovery knows it. */
  readonly from?: string;
  /** When it was last reported (ms since epoch). */
  readonly lastSeen: number;
  /** True for the address a session with the peer last authenticated on. */
  readonly authenticated?: boolean;
}

/** An address with where the book took it from. */
export interface RankedAddress extends KnownAddress {
  readonly report: string;
  readonly proven: boolean;
}

/** Limits of an `AddressBook`. */
export interface AddressBookLimits {
  /** Most addresses kept for the peer. */
  readonly maxAddresses: number;
  /** Most addresses taken from one report (the first ones, as announced). */
  readonly maxPerReport: number;
}

interface Report {
  readonly source: AddressSource;
  readonly from: string | undefined;
  addresses: TransportAddress[];
  lastSeen: number;
}

/** The key that identifies an address (transport, host and port). */
export const addressKey = (a: TransportAddress): string => `${a.transport ?? ''}|${a.host}|${a.port}`;

/** The address's own fields only (a report's objects may carry more), the tag only when present. */
const plainAddress = (a: TransportAddress): TransportAddress =>
  a.transport === undefined ? { host: a.host, port: a.port } : { transport: a.transport, host: a.host, port: a.port };

/** The key that identifies a report's sender: the discovery and, when known, where the report came from. */
export const reportKey = (source: AddressSource, from: string | undefined): string => `${source}|${from ?? ''}`;

/**
 * One peer's addresses, kept per sender and ordered by evidence: the address
 * a session last authenticated on, then the rest of that sender's report,
 * then every other report, newest first, each in the order it was announced.
 * A sender's new report replaces its previous one, so a sender cannot grow
 * the list by repeating itself; the list is capped, and the least evidenced
 * addresses go first (never the authenticated one). As a report with no
 * addresses left is dropped, the number of senders is bounded by the cap too.
 */
export class AddressBook {
  readonly #limits: AddressBookLimits;
  // Oldest report first: a report is re-inserted whenever its sender reports again.
  readonly #reports = new Map<string, Report>();
  #authenticated: string | undefined;
  // The sender whose report named the authenticated address: its newer reports rank next.
  #provenReport: string | undefined;

  constructor(limits: AddressBookLimits) {
    this.#limits = limits;
  }

  /** Number of distinct addresses. */
  get size(): number {
    return this.ordered().length;
  }

  /**
   * Takes a report: replaces what the same sender reported before, then
   * trims the book to its cap. Returns true if it named an address the
   * book did not hold.
   */
  report(source: AddressSource, from: string | undefined, addresses: readonly TransportAddress[], now: number): boolean {
    const known = new Set(this.ordered().map(addressKey));
    const key = reportKey(source, from);
    const unique = new Map<string, TransportAddress>();
    for (const a of addresses) {
      if (unique.size >= this.#limits.maxPerReport) break;
      if (!unique.has(addressKey(a))) unique.set(addressKey(a), plainAddress(a));
    }
    this.#reports.delete(key);
    if (unique.size > 0) this.#reports.set(key, { source, from, addresses: [...unique.values()], lastSeen: now });
    this.#trim();
    return [...unique.keys()].some((k) => !known.has(k));
  }

  /** Forgets every report of `source` (a discovery said the peer left). */
  lose(source: AddressSource): void {
    for (const [key, report] of this.#reports) if (report.source === source) this.#reports.delete(key);
  }

  /** Records that a session authenticated on `address`: it ranks first and is never evicted for room. */
  authenticated(address: TransportAddress): void {
    const key = addressKey(address);
    this.#authenticated = key;
    this.#provenReport = undefined;
    // The newest report that named it is the sender that proved right.
    for (const [rk, report] of this.#reports) if (report.addresses.some((a) => addressKey(a) === key)) this.#provenReport = rk;
  }

  /**
   * Every address once, best evidenced first, each with the key of the
   * report it is taken from; `proven` marks the authenticated address and
   * the rest of its sender's report.
   */
  ordered(): RankedAddress[] {
    const out: RankedAddress[] = [];
    const seen = new Set<string>();
    const push = (rk: string, report: Report, a: TransportAddress, proven = false): void => {
      const key = addressKey(a);
      if (seen.has(key)) return;
      seen.add(key);
      const known: RankedAddress = {
        ...plainAddress(a),
        source: report.source,
        ...(report.from === undefined ? {} : { from: report.from }),
        lastSeen: report.lastSeen,
        ...(key === this.#authenticated ? { authenticated: true } : {}),
        report: rk,
        proven,
      };
      out.push(known);
    };
    const newestFirst = [...this.#reports].reverse();
    if (this.#authenticated !== undefined) {
      for (const [rk, report] of newestFirst) {
        const a = report.addresses.find((x) => addressKey(x) === this.#authenticated);
        if (a) {
          push(rk, report, a, true);
          break;
        }
      }
    }
    const proven = this.#provenReport === undefined ? undefined : this.#reports.get(this.#provenReport);
    if (proven) for (const a of proven.addresses) push(this.#provenReport as string, proven, a, true);
    for (const [rk, report] of newestFirst) for (const a of report.addresses) push(rk, report, a);
    return out;
  }

  /** Drops the least evidenced addresses beyond the cap, and reports left empty. */
  #trim(): void {
    const ordered = this.ordered();
    if (ordered.length <= this.#limits.maxAddresses) return;
    const keep = new Set(ordered.slice(0, this.#limits.maxAddresses).map(addressKey));
    for (const [key, report] of this.#reports) {
      report.addresses = report.addresses.filter((a) => keep.has(addressKey(a)));
      if (report.addresses.length === 0) this.#reports.delete(key);
    }
  }
}
