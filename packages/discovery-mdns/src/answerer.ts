import type { RemoteInfo } from 'node:dgram';
import type { Packet } from 'dns-packet';
import { type Link, type LinkContext, heardOn, recordsOn, sendOn } from './link.js';
import { MDNS_PORT } from './names.js';
import { type ServiceRecords, announcement } from './records.js';

/** RFC 6762 §8.3: announce at least twice, one second apart. */
export const ANNOUNCE_COUNT = 2;
const ANNOUNCE_INTERVAL_MS = 1000;

/**
 * The answer side: announces our records, answers queries for them, and
 * says goodbye. What it may send, and when, is `Responder`'s rule per link.
 */
export class Answerer {
  readonly #context: LinkContext;
  #announceTimer: unknown;

  constructor(context: LinkContext) {
    this.#context = context;
  }

  /** Sends our records on every link now, then `count - 1` more times one second apart (RFC 6762 §8.3). */
  announce(count: number): void {
    this.cancel();
    const { clock } = this.#context;
    if (!this.#context.running() || this.#context.service() === undefined) return;
    const now = clock.now();
    for (const link of this.#context.links()) {
      const packet = announcement(recordsOn(this.#context, link) as ServiceRecords);
      link.responder.sent(packet, now);
      void sendOn(link, packet);
    }
    if (count > 1) this.#announceTimer = clock.setTimeout(() => this.announce(count - 1), ANNOUNCE_INTERVAL_MS);
  }

  /** Sends our records with TTL 0 on every link (RFC 6762 §10.1); resolves once they were handed to the kernel. */
  async goodbye(): Promise<void> {
    if (this.#context.service() === undefined) return;
    const links = [...this.#context.links()];
    await Promise.all(links.map((link) => sendOn(link, announcement(recordsOn(this.#context, link, 0) as ServiceRecords))));
  }

  /** Stops a pending repeat of the announcement. */
  cancel(): void {
    if (this.#announceTimer !== undefined) this.#context.clock.clearTimeout(this.#announceTimer);
    this.#announceTimer = undefined;
  }

  /** RFC 6762 §6, §11: answers only well-formed multicast queries from the link's subnet on port 5353. */
  onQuery(link: Link, packet: Packet, rinfo: RemoteInfo): void {
    const context = this.#context;
    if (!context.running() || !heardOn(context, link, rinfo)) return;
    const records = recordsOn(context, link);
    if (records === undefined) return;
    // Queries from another port are "legacy unicast" (RFC 6762 §6.7) and want a unicast reply; we never send unicast.
    if (rinfo.port !== MDNS_PORT) {
      context.dropped(link, rinfo, 'legacy-unicast');
      return;
    }
    const p = packet as Packet & { opcode?: unknown; rcode?: unknown };
    if (p.opcode !== 'QUERY' || p.rcode !== 'NOERROR') {
      context.dropped(link, rinfo, 'malformed');
      return;
    }
    let response: Packet | undefined;
    try {
      response = link.responder.respond(packet, records, context.clock.now());
    } catch {
      // A hostile query shape.
      context.dropped(link, rinfo, 'malformed');
      return;
    }
    if (response !== undefined) void sendOn(link, response);
  }
}
