import {
  AbortedError, InvalidArgumentError, InviterNotFoundError, MAX_TIMER_MS, OptionsReader, PairingFailedError, isPeerNetError,
  type PeerId, type TransportAddress,
} from '@peernet/interface';
import type { PairPeer, PairingChannel } from './channel.js';
import { nameplateMatches, parseInviteCode } from './code.js';
import { PAIRING_HANDLERS, checkAnswer, checkConfirmed, meetingPoint, startJoin, type PairingSecret } from './protocol.js';
import { isPairingUri, parsePairingUri } from './uri.js';

// How soon a join tries again an address that refused it or could not be reached, doubling up to a limit.
const RETRY_MS = 1_000;
const RETRY_MAX_MS = 8_000;
// How often a join looks the meeting point up on the DHT while it has not paired.
const LOOKUP_EVERY_MS = 2_000;

/** Options of `join`. */
export interface JoinOptions {
  /** The label to store for the inviter (as `pair({ label })` would). */
  label?: string;
  /** How long to look for the inviter and pair with it, in ms (default 60 s), the `confirm` callback's time included. */
  timeoutMs?: number;
  /** Aborts the join (`aborted`); a run already answered then counts as a failed attempt on the inviter's side. */
  signal?: AbortSignal;
  /** Shown the short authentication string before this side confirms; false (or a rejection) declines with `pairing_failed`. */
  confirm?: (sas: string) => boolean | Promise<boolean>;
}

/** What `join` resolves with. */
export interface JoinResult {
  /** The inviter, now paired. */
  readonly peer: PeerId;
  /** The label stored for it. */
  readonly label: string | undefined;
  /** The short authentication string of the run, equal to the inviter's `invite.sas`. */
  readonly sas: string;
}

/** What `join` needs of its node. */
export interface JoinHost {
  readonly id: PeerId;
  /** Every peer discovery reported (paired or not), with its addresses. */
  known(): Iterable<{ id: PeerId; addresses: readonly TransportAddress[] }>;
  /** Addresses by id alone (the DHT's), for a URI's inviter. */
  idAddresses(peer: PeerId): readonly TransportAddress[];
  /** The ids announced at a meeting point (the DHT's), when the node has one. */
  lookup?: ((topic: Uint8Array, signal: AbortSignal) => Promise<PeerId[]>) | undefined;
  /** Calls `listener` for each discovery report until the returned function is called. */
  watch(listener: () => void): () => void;
  /** Dials `address` and opens a pairing session with `peer` there. */
  openPairing(peer: PeerId, address: TransportAddress, signal: AbortSignal): Promise<PairingChannel>;
  /** Stores trust in `peer`. */
  pair: PairPeer;
  /** Removes trust in `peer` (a pairing refused at its last step). */
  unpair(peer: PeerId): Promise<void>;
  /** True if `peer` is paired already. */
  isPaired(peer: PeerId): boolean;
  /** Brings the session with `peer` up now that both sides trust each other; a failure leaves the pairing done. */
  connect(peer: PeerId, address: TransportAddress): Promise<void>;
}

/** Finds the inviter of `text` (an invite code or a `peernet://` URI), pairs with it, and brings a session up. */
export async function joinInvite(host: JoinHost, text: string, options: JoinOptions): Promise<JoinResult> {
  const reader = new OptionsReader('join', options);
  const label = reader.string('label', undefined);
  const timeoutMs = reader.integer('timeoutMs', { default: 60_000, min: 1, max: MAX_TIMER_MS });
  const signal = reader.object<AbortSignal, undefined>('signal', ['addEventListener', 'removeEventListener'], undefined);
  const confirm = reader.function<(sas: string) => boolean | Promise<boolean>, undefined>('confirm', undefined);
  if (typeof text !== 'string') throw new InvalidArgumentError(`join: the code must be a string, got ${typeof text}`);
  const target = targetOf(text);
  if (signal?.aborted) throw new AbortedError('join aborted');

  // One signal for the whole join: the caller's, the deadline, and the end of the join (which stops the lookups).
  const controller = new AbortController();
  const onAbort = (): void => controller.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(onAbort, timeoutMs);
  const search = new Search(host, target, controller.signal);
  try {
    for (let next = await search.next(); next !== undefined; next = await search.next()) {
      const { peer, address } = next;
      let connection: PairingChannel;
      try {
        connection = await host.openPairing(peer, address, controller.signal);
      } catch (error) {
        search.failed(next, error); // not there, or no invite open there (or not now): later, or another one
        continue;
      }
      try {
        const result = await run(host, connection, peer, target, { label, confirm, signal: controller.signal });
        await host.connect(peer, address).catch(() => undefined);
        return result;
      } catch (error) {
        if (isPeerNetError(error) && error.code === 'inviter_not_found') {
          search.noInvite(peer, error);
          continue;
        }
        if (controller.signal.aborted && !(isPeerNetError(error) && error.code === 'pairing_failed')) break;
        throw error;
      } finally {
        void connection.close();
      }
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
    search.close();
    signal?.removeEventListener('abort', onAbort);
  }
  if (signal?.aborted) throw new AbortedError('join aborted');
  throw search.notFound(timeoutMs);
}

interface Candidate {
  readonly peer: PeerId;
  readonly address: TransportAddress;
  readonly key: string;
}

/**
 * Where a join looks for its inviter: the peers discovery reports and those
 * met on the DHT whose id fits the code, each address tried once, and again
 * later (1 s, 2 s, 4 s, at most 8 s) if it could not be reached or refused.
 */
class Search {
  readonly #host: JoinHost;
  readonly #target: Target;
  readonly #signal: AbortSignal;
  readonly #tried = new Set<string>();
  readonly #failures = new Map<string, { count: number; at: number }>();
  readonly #noInvite = new Set<string>();
  readonly #met = new Map<string, PeerId>();
  readonly #unwatch: () => void;
  #wake: (() => void) | undefined;
  #lastError: unknown;

  constructor(host: JoinHost, target: Target, signal: AbortSignal) {
    this.#host = host;
    this.#target = target;
    this.#signal = signal;
    this.#unwatch = host.watch(() => this.#wake?.());
    signal.addEventListener('abort', () => this.#wake?.(), { once: true });
    if (target.inviter === undefined && host.lookup !== undefined) {
      void meet(host.lookup, target.nameplate, signal, (peer) => {
        if (this.#met.has(peer.toString()) || peer.equals(host.id)) return;
        this.#met.set(peer.toString(), peer);
        this.#wake?.();
      });
    }
  }

  /** The next address to try, waiting for discovery or a retry when none is left; undefined once the signal fired. */
  async next(): Promise<Candidate | undefined> {
    for (;;) {
      if (this.#signal.aborted) return undefined;
      const candidate = this.#untried();
      if (candidate !== undefined) {
        this.#tried.add(candidate.key);
        return candidate;
      }
      const now = Date.now();
      const waiting = [...this.#failures].filter(([key]) => this.#tried.has(key)).map(([, failure]) => failure.at);
      const due = Math.min(...waiting, now + RETRY_MAX_MS);
      await new Promise<void>((resolve) => {
        const pause = setTimeout(done, Math.max(0, due - now));
        function done(): void {
          clearTimeout(pause);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = undefined;
      for (const [key, failure] of this.#failures) if (failure.at <= Date.now()) this.#tried.delete(key);
    }
  }

  /** `candidate` could not be reached, or refused a pairing session: try it again later. */
  failed(candidate: Candidate, error: unknown): void {
    this.#lastError = error;
    const count = (this.#failures.get(candidate.key)?.count ?? 0) + 1;
    this.#failures.set(candidate.key, { count, at: Date.now() + Math.min(RETRY_MS * 2 ** (count - 1), RETRY_MAX_MS) });
  }

  /** `peer` answered that it has no invite of this nameplate: never ask it again. */
  noInvite(peer: PeerId, error: unknown): void {
    this.#lastError = error;
    this.#noInvite.add(peer.toString());
  }

  close(): void {
    this.#unwatch();
  }

  /** The error of a join that found nobody to pair with, saying what it did find. */
  notFound(timeoutMs: number): InviterNotFoundError {
    const target = this.#target;
    const what = target.inviter === undefined ? `a node with an open invite numbered ${target.nameplate}` : `the inviter ${target.inviter.toString()}`;
    const refused = isPeerNetError(this.#lastError) && this.#lastError.code === 'refused_by_peer';
    const why = refused
      ? 'a node of that number was found, but it refused: its invite expired, was used up or cancelled'
      : 'is it on this network, and is its invite still open?';
    const cause = this.#lastError === undefined ? undefined : { cause: this.#lastError };
    return new InviterNotFoundError(`${what} was not found within ${timeoutMs} ms (${why})`, cause);
  }

  #untried(): Candidate | undefined {
    const { inviter, nameplate } = this.#target;
    const host = this.#host;
    const fits = (id: PeerId): boolean =>
      !this.#noInvite.has(id.toString()) && (inviter === undefined ? nameplateMatches(id, nameplate) && !id.equals(host.id) : id.equals(inviter));
    const byId = (inviter === undefined ? [...this.#met.values()] : [inviter]).map((id) => ({ id, addresses: host.idAddresses(id) }));
    for (const { id, addresses } of [...host.known(), ...byId]) {
      if (!fits(id)) continue;
      for (const address of addresses) {
        const key = `${id.toString()}|${address.transport ?? ''}|${address.host}|${address.port}`;
        if (!this.#tried.has(key)) return { peer: id, address, key };
      }
    }
    return undefined;
  }
}

interface Target {
  readonly nameplate: number;
  readonly secret: PairingSecret;
  /** Known from a URI. */
  readonly inviter: PeerId | undefined;
}

function targetOf(text: string): Target {
  if (isPairingUri(text)) {
    const uri = parsePairingUri(text);
    return { nameplate: uri.nameplate, secret: { secret: uri.secret }, inviter: uri.inviter };
  }
  const code = parseInviteCode(text);
  return { nameplate: code.nameplate, secret: { password: code.password }, inviter: undefined };
}

/** Looks the nameplate's meeting point up until `signal` fires, reporting every id found there. */
async function meet(
  lookup: (topic: Uint8Array, signal: AbortSignal) => Promise<PeerId[]>,
  nameplate: number,
  signal: AbortSignal,
  found: (peer: PeerId) => void,
): Promise<void> {
  const topic = meetingPoint(nameplate);
  while (!signal.aborted) {
    try {
      for (const peer of await lookup(topic, signal)) if (nameplateMatches(peer, nameplate)) found(peer);
    } catch {
      // A lookup that fails (no bootstrap node answers) is tried again: the LAN may find the inviter meanwhile.
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, LOOKUP_EVERY_MS);
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

async function run(
  host: JoinHost,
  connection: PairingChannel,
  inviter: PeerId,
  target: Target,
  options: { label: string | undefined; confirm: ((sas: string) => boolean | Promise<boolean>) | undefined; signal: AbortSignal },
): Promise<JoinResult> {
  const session = { inviter, joiner: host.id, sid: connection.handshakeHash, nameplate: target.nameplate };
  const { request, state } = startJoin({ session, secret: target.secret });
  const answer = await connection.call(PAIRING_HANDLERS.join, request, { signal: options.signal });
  const { confirmation, sas } = checkAnswer(state, answer);
  if (options.confirm !== undefined) {
    let accepted = false;
    try {
      accepted = (await options.confirm(sas)) === true;
    } catch (error) {
      throw new PairingFailedError('pairing declined: the confirmation callback failed', { cause: error });
    }
    if (!accepted) throw new PairingFailedError(`pairing declined: the short authentication string ${sas} was not confirmed`);
  }
  // Trust first: the inviter trusts us once it checked our confirmation and may dial us at once.
  // Our side has checked its proof already; if it refuses ours after all, the trust goes again.
  const wasPaired = host.isPaired(inviter);
  await host.pair(inviter, options.label === undefined ? {} : { label: options.label });
  try {
    checkConfirmed(await connection.call(PAIRING_HANDLERS.confirm, confirmation, { signal: options.signal }));
  } catch (error) {
    if (!wasPaired) await host.unpair(inviter).catch(() => undefined);
    throw error;
  }
  return { peer: inviter, label: options.label, sas };
}
