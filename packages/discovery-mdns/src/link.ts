import { type RemoteInfo, type Socket, createSocket } from 'node:dgram';
import type { Packet, Question } from 'dns-packet';
import multicastDns from 'multicast-dns';
import { type Clock, InvalidArgumentError, type Ipv4InterfaceAddress, type PeerId, describeError, inSubnet } from '@peernet/interface';
import { PeerCache } from './cache.js';
import { MDNS_GROUP, MDNS_PORT, type MdnsDropReason } from './names.js';
import { MAX_PACKET_BYTES } from './parse.js';
import { type LocalService, Responder, type ServiceRecords, serviceRecords } from './records.js';

/** What the query and answer sides share with the discovery that owns them. */
export interface LinkContext {
  readonly clock: Clock;
  /** Our peer id: records about it are ours, looped back. */
  readonly id: PeerId;
  /** Our host name, `<label>.local`. */
  readonly hostname: string;
  /** True between `start()` and `stop()`. */
  running(): boolean;
  /** The links in use. */
  links(): Iterable<Link>;
  /** What we publish, or undefined until a port was announced. */
  service(): LocalService | undefined;
  /** Reports a datagram dropped on `link`. */
  dropped(link: Link, rinfo: RemoteInfo, reason: MdnsDropReason): void;
}

/** One interface's socket and the state of both sides on it. */
export interface Link {
  readonly iface: Ipv4InterfaceAddress;
  readonly socket: Socket;
  readonly mdns: multicastDns.MulticastDNS;
  /** The records heard here (query side). */
  readonly cache: PeerCache;
  /** When our records last went out here (answer side). */
  readonly responder: Responder;
  /** Question key → when it was last asked on this link. */
  readonly asked: Map<string, number>;
  /** Questions waiting for the next query packet. */
  readonly pending: Map<string, Question>;
  /** When the last query packet went out. */
  lastQuery: number;
  flushTimer: unknown;
}

/** Where a link hands what it receives. */
export interface LinkHandlers {
  query(link: Link, packet: Packet, rinfo: RemoteInfo): void;
  response(link: Link, packet: Packet, rinfo: RemoteInfo): void;
  /** A datagram that is not a DNS message at all. */
  undecodable(link: Link, rinfo: RemoteInfo): void;
}

/**
 * Opens one interface's socket. multicast-dns gets a socket we made and
 * `multicast: false`, and we set the multicast options ourselves: its own
 * setup skips `setMulticastInterface` when `addMembership` fails, and the
 * socket would then send on the default route. Nothing is sent before
 * every option below is in place.
 */
export async function openLink(iface: Ipv4InterfaceAddress, maxPeers: number, handlers: LinkHandlers): Promise<Link> {
  const socket = createSocket({ type: 'udp4', reuseAddr: true });
  // multicast-dns reports a datagram it cannot decode without its source; remember the source
  // of the datagram being handled (set before its listener runs, cleared after).
  let current: RemoteInfo | undefined;
  socket.prependListener('message', (_bytes: Buffer, rinfo: RemoteInfo) => {
    current = rinfo;
  });
  const mdns = multicastDns({
    socket,
    port: MDNS_PORT,
    // Bound to the wildcard: bound to the interface address, Linux delivers no multicast to it.
    bind: '0.0.0.0',
    interface: iface.address,
    // Its own multicast setup stays off: see above.
    multicast: false,
  });
  socket.on('message', () => {
    current = undefined;
  });
  let link: Link | undefined;
  // An 'error' event without a listener would throw; failures surface through the ready promise instead.
  mdns.on('error', () => {});
  // Warnings are decode failures while a datagram is being handled, and transient socket errors otherwise.
  mdns.on('warning', () => {
    if (current !== undefined && link !== undefined) handlers.undecodable(link, current);
  });
  const destroy = (): Promise<void> => new Promise((resolve) => mdns.destroy(() => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      const ready = (): void => {
        mdns.off('error', failed);
        resolve();
      };
      const failed = (error: Error): void => {
        mdns.off('ready', ready);
        reject(error);
      };
      mdns.once('ready', ready);
      mdns.once('error', failed);
    });
    socket.setMulticastInterface(iface.address);
    // Loopback traffic needs no hops; on a LAN RFC 6762 §11 asks for 255 (routers never forward 224.0.0.0/24).
    socket.setMulticastTTL(iface.internal ? 1 : 255);
    socket.setMulticastLoopback(true);
    socket.addMembership(MDNS_GROUP, iface.address);
  } catch (error) {
    await destroy();
    throw new InvalidArgumentError(`mdns: cannot use interface ${iface.name} (${iface.address}): ${describeError(error)}`, {
      cause: error,
    });
  }
  link = {
    iface,
    socket,
    mdns,
    cache: new PeerCache({ maxPeers }),
    responder: new Responder(),
    asked: new Map(),
    pending: new Map(),
    lastQuery: -Infinity,
    flushTimer: undefined,
  };
  const opened = link;
  mdns.on('query', (packet: Packet, rinfo: RemoteInfo) => handlers.query(opened, packet, rinfo));
  mdns.on('response', (packet: Packet, rinfo: RemoteInfo) => handlers.response(opened, packet, rinfo));
  return opened;
}

/** Our records as sent on `link` (the A record carries its address), with `ttl` instead of ours if given. */
export function recordsOn(context: LinkContext, link: Link, ttl?: number): ServiceRecords | undefined {
  const service = context.service();
  return service === undefined ? undefined : serviceRecords(service, link.iface.address, ttl);
}

/**
 * True for a datagram this link may look at: at most `MAX_PACKET_BYTES`, from
 * its own subnet (with `bind: 0.0.0.0` the socket also hears other
 * interfaces, RFC 6762 §11). Anything else is reported and dropped.
 */
export function heardOn(context: LinkContext, link: Link, rinfo: RemoteInfo): boolean {
  if (rinfo.size > MAX_PACKET_BYTES) {
    context.dropped(link, rinfo, 'too-large');
    return false;
  }
  if (!inSubnet(rinfo.address, link.iface)) {
    context.dropped(link, rinfo, 'off-link');
    return false;
  }
  return true;
}

/** Closes a link's socket; its caller has cleared the link's timers. */
export function destroyLink(link: Link): Promise<void> {
  link.pending.clear();
  link.cache.clear();
  link.mdns.removeAllListeners('query');
  link.mdns.removeAllListeners('response');
  return new Promise((resolve) => link.mdns.destroy(() => resolve()));
}

/**
 * The only way out: multicast to 224.0.0.251:5353 through the link's own
 * socket, whose multicast interface is pinned to that link. Never unicast.
 * Resolves once the datagram was handed to the kernel (or failed: mDNS is
 * best effort and a failed send is like a lost packet).
 */
export function sendOn(link: Link, packet: Packet): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => resolve();
    if (packet.type === 'response') link.mdns.respond(packet as multicastDns.ResponseOutgoingPacket, done);
    else link.mdns.query(packet as multicastDns.QueryOutgoingPacket, done);
  });
}

