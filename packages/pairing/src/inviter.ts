import {
  AbortedError, BadRequestError, DIAGNOSTICS_CHANNELS, InvalidArgumentError, InviteClosedError, MAX_TIMER_MS, OptionsReader,
  publishDiagnostic, type Clock, type ExposedHandler, type WireValue, type HandlerLookup, type InviteClosedReason, type PeerId, type Rendezvous,
} from '@peernet/interface';
import type { PairPeer, PairingAdmission, PairingChannel, PairingLogger } from './channel.js';
import { createInviteCode, nameplateHint, type InviteCode } from './code.js';
import {
  PAIRING_HANDLERS, answerJoin, confirmationResult, meetingPoint, readJoinRequest, refuseJoin, type JoinAnswer, type JoinRefusal,
} from './protocol.js';
import { PAIRING_SECRET_LENGTH, formatPairingUri } from './uri.js';

/** Options of `invite`. */
export interface InviteOptions {
  /** The label to store for the peer that joins (as `pair({ label })` would). */
  label?: string;
  /** How long the invite stays open, in ms (default 10 minutes). */
  ttlMs?: number;
  /** Attempts with a wrong code (or a wrong URI secret) before the invite is burned (default 1). */
  attempts?: number;
  /** Cancels the invite. */
  signal?: AbortSignal;
}

/** The peer an invite paired. */
export interface PairedPeer {
  readonly peer: PeerId;
  /** The label stored for it. */
  readonly label: string | undefined;
}

/** An open invite: its code to say, its URI to scan, and how it ends. */
export interface Invite {
  /** The code to give the other side, e.g. `473-violet-anchor-orbit`. */
  readonly code: string;
  /** `peernet://pair/…`: this node's id and a one-time 128-bit secret, for a QR code. */
  readonly uri: string;
  /** When the invite expires (ms since epoch, the node's clock). */
  readonly expiresAt: number;
  /** Resolves once a peer joined and both sides confirmed; rejects with `invite_closed` (expired, burned, cancelled, stopped). */
  readonly paired: Promise<PairedPeer>;
  /** The short authentication string of the run that paired, for users who compare it with the joiner's screen. */
  readonly sas: Promise<string>;
  /** Closes the invite (`paired` rejects with `invite_closed`, reason `cancelled`). Idempotent. */
  cancel(): void;
}

// A pairing session is a stranger's: it gets a short life and few siblings.
// Its join must come at once; its confirmation may wait for a person comparing the SAS.
const JOIN_WITHIN_MS = 5_000;
const CONFIRM_WITHIN_MS = 120_000;
const REFUSED_LINGER_MS = 1_000;
const MAX_PAIRING_SESSIONS = 4;
// Admissions of pairing sessions: a burst of 8, then one every 2 s, over all strangers together.
const ADMISSION_BURST = 8;
const ADMISSION_EVERY_MS = 2_000;
const SLOTS = 10;

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  // An application that never looks at `paired` or `sas` must not get an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

class OpenInvite {
  readonly paired = deferred<PairedPeer>();
  readonly sas = deferred<string>();
  attemptsLeft: number;
  running = 0;
  closed = false;
  timer: unknown;
  release: (() => void) | undefined;
  withdraw: (() => void) | undefined;
  reason: InviteClosedReason | undefined;

  constructor(
    readonly code: InviteCode,
    readonly secret: Uint8Array,
    readonly label: string | undefined,
    readonly expiresAt: number,
    attempts: number,
  ) {
    this.attemptsLeft = attempts;
  }
}

/** What one pairing session is doing: at most one run, from its join to its confirmation. */
interface Run {
  invite: OpenInvite;
  answer: JoinAnswer;
}

/**
 * The inviting side of pairing (docs/pairing.md): the open invites, which
 * strangers may open a pairing session while one is open (a rate limit and
 * a cap), and the two handlers such a session serves.
 */
export class Invites {
  readonly #id: PeerId;
  readonly #clock: Clock;
  readonly #pair: PairPeer;
  readonly #random: (length: number) => Uint8Array;
  readonly #rendezvous: Rendezvous | undefined;
  readonly #logger: PairingLogger;
  // Withdrawals of DHT announcements under way: stop() waits for them.
  readonly #withdrawing = new Set<Promise<void>>();
  readonly #open = new Map<number, OpenInvite>();
  // Each pairing session with the timer that closes it.
  readonly #sessions = new Map<PairingChannel, unknown>();
  #tokens = ADMISSION_BURST;
  #refilledAt: number;
  #stopped = false;

  constructor(options: {
    id: PeerId;
    clock: Clock;
    /** Stores trust in a peer that joined (a node's `pair`). */
    pair: PairPeer;
    rendezvous?: Rendezvous | undefined;
    logger?: PairingLogger;
    random?: (length: number) => Uint8Array;
  }) {
    this.#rendezvous = options.rendezvous;
    this.#logger = options.logger ?? {};
    this.#id = options.id;
    this.#clock = options.clock;
    this.#pair = options.pair;
    this.#random = options.random ?? ((length) => crypto.getRandomValues(new Uint8Array(length)));
    this.#refilledAt = options.clock.now();
  }

  /** True while an invite is open: strangers may then reach this node (its DHT firewall asks). */
  get anyOpen(): boolean {
    return this.#open.size > 0;
  }

  /** Opens an invite (see `PeerNet.invite`). */
  open(options: InviteOptions): Invite {
    const reader = new OptionsReader('invite', options);
    const label = reader.string('label', undefined);
    const ttlMs = reader.integer('ttlMs', { default: 600_000, min: 1, max: MAX_TIMER_MS });
    const attempts = reader.integer('attempts', { default: 1, min: 1, max: 100 });
    const signal = reader.object<AbortSignal, undefined>('signal', ['addEventListener', 'removeEventListener'], undefined);
    if (this.#stopped) throw new InviteClosedError('stopped', 'the node is stopped');
    if (signal?.aborted) throw new AbortedError('invite aborted');
    const free = [...Array(SLOTS).keys()].filter((slot) => !this.#open.has(nameplateOf(this.#id, slot)));
    if (free.length === 0) throw new InvalidArgumentError(`a node has at most ${SLOTS} invites open at once: cancel one first`);
    const slot = free[(this.#random(1)[0] as number) % free.length] as number;
    const code = createInviteCode({ inviter: this.#id, slot, random: this.#random });
    const secret = this.#random(PAIRING_SECRET_LENGTH);
    const invite = new OpenInvite(code, secret, label, Date.now() + ttlMs, attempts);
    this.#open.set(code.nameplate, invite);
    invite.timer = this.#clock.setTimeout(() => this.#close(invite, 'expired'), ttlMs);
    if (this.#rendezvous !== undefined) this.#meet(invite, this.#rendezvous);
    if (signal) {
      const onAbort = (): void => this.#close(invite, 'cancelled');
      signal.addEventListener('abort', onAbort, { once: true });
      invite.release = () => signal.removeEventListener('abort', onAbort);
    }
    return {
      code: code.text,
      uri: formatPairingUri({ inviter: this.#id, nameplate: code.nameplate, secret }),
      expiresAt: invite.expiresAt,
      paired: invite.paired.promise,
      sas: invite.sas.promise,
      cancel: () => this.#close(invite, 'cancelled'),
    };
  }

  /**
   * What a responder's connection needs: whether to admit a peer asking for
   * a pairing session, and the handlers of that session (`connection` is
   * read when a call arrives, by then it is set).
   */
  access(connection: () => PairingChannel): PairingAdmission {
    // Every inbound handshake gets one of these; only an admitted pairing session needs its handlers.
    let handlers: HandlerLookup | undefined;
    const lookup = (): HandlerLookup => (handlers ??= this.#handlers(connection));
    return {
      admit: (peer) => this.#admit(peer),
      get handlers() {
        return lookup();
      },
    };
  }

  /** A pairing session came up: it is held, and closed if its join does not come soon. */
  accepted(connection: PairingChannel): void {
    // A join pipelined behind the handshake may have set its deadline already.
    if (!this.#sessions.has(connection)) this.#deadline(connection, JOIN_WITHIN_MS);
    void connection.closed.then(() => {
      this.#clock.clearTimeout(this.#sessions.get(connection));
      this.#sessions.delete(connection);
    });
  }

  /** Closes `connection` in `ms`, replacing its earlier deadline. */
  #deadline(connection: PairingChannel, ms: number): void {
    this.#clock.clearTimeout(this.#sessions.get(connection));
    this.#sessions.set(connection, this.#clock.setTimeout(() => void connection.close(), ms));
  }

  /** Closes every invite (`stopped`) and pairing session. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const invite of [...this.#open.values()]) this.#close(invite, 'stopped');
    await Promise.all([...this.#sessions.keys()].map((connection) => connection.close()));
    await Promise.all(this.#withdrawing);
  }

  /** Waits at the nameplate's meeting point on the DHT while the invite is open. */
  #meet(invite: OpenInvite, rendezvous: Rendezvous): void {
    const announced = rendezvous.announce(meetingPoint(invite.code.nameplate));
    const withdraw = (): void => {
      const done = announced.then((withdrawal) => withdrawal(), () => undefined).finally(() => this.#withdrawing.delete(done));
      this.#withdrawing.add(done);
    };
    announced.catch((error: unknown) =>
      this.#logger.warn?.('invite: announcing on the DHT failed; joiners on the LAN can still find it', { error }),
    );
    // Closing the invite withdraws the announcement, once it is made.
    invite.withdraw = withdraw;
  }

  #admit(peer: PeerId): boolean {
    // An invite whose last attempt is running admits nobody new: it can only answer `burned`.
    if (this.#stopped || ![...this.#open.values()].some((invite) => invite.attemptsLeft > 0)) return false;
    const now = this.#clock.now();
    this.#tokens = Math.min(ADMISSION_BURST, this.#tokens + (now - this.#refilledAt) / ADMISSION_EVERY_MS);
    this.#refilledAt = now;
    if (this.#sessions.size >= MAX_PAIRING_SESSIONS || this.#tokens < 1) {
      publishDiagnostic(DIAGNOSTICS_CHANNELS.rateLimited, { limit: 'pairing', from: peer.toString() });
      return false;
    }
    this.#tokens -= 1;
    return true;
  }

  #handlers(connection: () => PairingChannel): HandlerLookup {
    let run: Run | undefined;
    let used = false;
    const join: ExposedHandler = {
      handler: (args, context) => {
        if (used) throw new BadRequestError('a pairing session carries one join');
        used = true;
        const own = connection();
        // A session turned away makes room soon: its joiner hangs up, or it is closed.
        const refuse = (reason: JoinRefusal): WireValue => {
          this.#deadline(own, REFUSED_LINGER_MS);
          return refuseJoin(reason);
        };
        const request = readJoinRequest(args);
        const invite = this.#open.get(request.nameplate);
        if (invite === undefined) return refuse('no_such_invite');
        if (invite.attemptsLeft === 0) return refuse('burned');
        invite.attemptsLeft--;
        invite.running++;
        this.#deadline(own, CONFIRM_WITHIN_MS);
        const session = { inviter: this.#id, joiner: context.peer, sid: own.handshakeHash, nameplate: request.nameplate };
        try {
          const secret = request.share === null ? { secret: invite.secret } : { password: invite.code.password };
          run = { invite, answer: answerJoin({ session, request, secret, random: this.#random }) };
        } catch (error) {
          this.#failed(invite);
          throw error;
        }
        // A joiner that hangs up after our answer found our proof wrong, or gave up: the attempt failed.
        void own.closed.then(() => {
          if (run !== undefined) this.#failed(run.invite);
          run = undefined;
        });
        return run.answer.reply;
      },
    };
    const confirm: ExposedHandler = {
      handler: async (args, context) => {
        const current = run;
        run = undefined;
        if (current === undefined) throw new BadRequestError('a pairing confirmation without a join');
        const { invite, answer } = current;
        if (invite.closed || !answer.verifyConfirmation(args)) {
          this.#failed(invite);
          return confirmationResult(invite.closed && invite.reason !== 'burned' ? 'closed' : 'mismatch');
        }
        invite.running--;
        // Trust first, then the answer: once the joiner hears yes, its dial is admitted.
        this.#close(invite, 'used');
        try {
          await this.#pair(context.peer, invite.label === undefined ? {} : { label: invite.label });
        } catch (error) {
          invite.paired.reject(error as Error);
          invite.sas.reject(error as Error);
          throw error;
        }
        invite.sas.resolve(answer.sas);
        invite.paired.resolve({ peer: context.peer, label: invite.label });
        return confirmationResult('ok');
      },
    };
    const handlers = new Map<string, ExposedHandler>([[PAIRING_HANDLERS.join, join], [PAIRING_HANDLERS.confirm, confirm]]);
    return { get: (name) => handlers.get(name) };
  }

  /** An attempt failed: once none is left and none runs, the invite is burned. */
  #failed(invite: OpenInvite): void {
    invite.running--;
    if (invite.attemptsLeft === 0 && invite.running === 0) this.#close(invite, 'burned');
  }

  #close(invite: OpenInvite, reason: InviteClosedReason): void {
    if (invite.closed) return;
    invite.closed = true;
    invite.reason = reason;
    this.#open.delete(invite.code.nameplate);
    this.#clock.clearTimeout(invite.timer);
    invite.release?.();
    invite.withdraw?.();
    if (reason === 'used') return;
    const error = new InviteClosedError(reason, closedMessage(reason));
    invite.paired.reject(error);
    invite.sas.reject(error);
  }
}

function nameplateOf(id: PeerId, slot: number): number {
  return nameplateHint(id) * 10 + slot;
}

function closedMessage(reason: InviteClosedReason): string {
  switch (reason) {
    case 'expired':
      return 'the invite expired before anyone joined';
    case 'burned':
      return 'the invite was burned: a join with a wrong code used its last attempt';
    case 'cancelled':
      return 'the invite was cancelled';
    case 'stopped':
      return 'the node stopped';
    default:
      return 'the invite was used';
  }
}
