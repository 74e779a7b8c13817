// The commands that pair by invite: `invite` prints a one-time code and waits
// for the other device, `join` pairs with the node whose invite has a code.
import { PeerNet } from 'peernet';
import { nodeOptions, stringFlag, timeoutOf, type Context } from './context.js';
import { CliError, EXIT, usageError } from './exit.js';
import { renderQr } from './qr.js';

const DEFAULT_TTL_MS = 600_000;
const MIN_TTL_MS = 1_000;
const MAX_TTL_MS = 86_400_000;
const DEFAULT_JOIN_TIMEOUT_MS = 60_000;
// How long `invite` waits, once paired, for the joiner to dial in for its session.
const SESSION_WAIT_MS = 5_000;
const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

const codeOf = (error: unknown): unknown => (error as { code?: unknown } | null)?.code;
const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** `--ttl`: a number of ms, or a number with `ms`, `s`, `m` or `h`; from 1 s to 24 h. */
export function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(text.trim().toLowerCase());
  const ms = match ? Number(match[1]) * (UNITS[match[2] ?? 'ms'] as number) : NaN;
  if (!(ms >= MIN_TTL_MS && ms <= MAX_TTL_MS)) {
    throw usageError(`--ttl must be a duration from 1s to 24h: a number of ms, or a number with s, m or h (e.g. 90s, 10m), got ${JSON.stringify(text)}`);
  }
  return ms;
}

/** A duration for people: `10 minutes`, `90 seconds`, `1500 ms`. */
export function durationText(ms: number): string {
  const unit = (n: number, name: string): string => `${n} ${name}${n === 1 ? '' : 's'}`;
  if (ms % 3_600_000 === 0) return unit(ms / 3_600_000, 'hour');
  if (ms % 60_000 === 0) return unit(ms / 60_000, 'minute');
  if (ms % 1_000 === 0) return unit(ms / 1_000, 'second');
  return `${ms} ms`;
}

function attemptsOf(ctx: Context): number {
  const text = stringFlag(ctx.flags, 'attempts');
  if (text === undefined) return 1;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 100) {
    throw usageError(`--attempts must be an integer from 1 to 100, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** An abort signal that fires on the first SIGINT or SIGTERM, until `dispose`. */
function abortOnSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const on = (): void => {
    dispose();
    controller.abort();
  };
  const dispose = (): void => {
    process.off('SIGINT', on);
    process.off('SIGTERM', on);
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return { signal: controller.signal, dispose };
}

/** Starts a node from the network options, runs `use`, and stops the node. */
async function withNode<T>(ctx: Context, use: (node: PeerNet) => Promise<T>): Promise<T> {
  const node = await PeerNet.start(await nodeOptions(ctx));
  try {
    return await use(node);
  } finally {
    await node.stop();
  }
}

/** The paired peer, as `invite` and `join` print it. */
function printPaired(ctx: Context, peer: string, label: string | undefined, sas: string): void {
  if (ctx.json) {
    ctx.out(JSON.stringify({ paired: peer, label: label ?? null, sas }));
  } else {
    ctx.out(`paired ${peer}${label ? ` (${label})` : ''}`);
    ctx.out(`confirmation: ${sas}`);
  }
}

const cancelled = (what: string): CliError => new CliError('invite_closed', `${what} was cancelled (SIGINT or SIGTERM): nobody was paired`);

/** Why an invite ended without a peer, as the inviting side says it. */
function inviteEnded(error: unknown, ttlMs: number): unknown {
  if (codeOf(error) !== 'invite_closed') return error;
  const again = 'run peernet invite again for a new code';
  switch ((error as { reason?: unknown }).reason) {
    case 'expired':
      return new CliError('invite_closed', `the invite expired: nobody joined within ${durationText(ttlMs)}; ${again}`);
    case 'burned':
      return new CliError('invite_closed', `the invite was burned: a join tried a wrong code and used up its last attempt; nobody was paired; ${again}`);
    case 'cancelled':
      return cancelled('the invite');
    default:
      return error;
  }
}

/** `peernet invite`: a code and a QR code, then the peer that joined. */
export async function cmdInvite(ctx: Context): Promise<number> {
  const ttlText = stringFlag(ctx.flags, 'ttl');
  const ttlMs = ttlText === undefined ? DEFAULT_TTL_MS : parseDuration(ttlText);
  const attempts = attemptsOf(ctx);
  const label = stringFlag(ctx.flags, 'label');
  const interrupt = abortOnSignal();
  try {
    return await withNode(ctx, async (node) => {
      if (interrupt.signal.aborted) throw cancelled('the invite');
      const invite = await node.invite({ ...(label === undefined ? {} : { label }), ttlMs, attempts, signal: interrupt.signal });
      if (ctx.json) {
        ctx.out(JSON.stringify({ code: invite.code, uri: invite.uri, expiresAt: invite.expiresAt }));
      } else {
        ctx.out(`invite code: ${invite.code}`);
        if (!ctx.flags['no-qr'] && process.stdout.isTTY) {
          ctx.out(renderQr(invite.uri));
          ctx.out(invite.uri);
        }
        const until = new Date(invite.expiresAt).toTimeString().slice(0, 8);
        ctx.out(`valid for ${durationText(ttlMs)} (until ${until}); on the other device run: peernet join ${invite.code}`);
        ctx.out('waiting for it to join (Ctrl-C to cancel)');
      }
      let paired;
      let sas: string;
      try {
        paired = await invite.paired;
        sas = await invite.sas;
      } catch (error) {
        throw inviteEnded(error, ttlMs);
      }
      printPaired(ctx, paired.peer.toString(), paired.label, sas);
      // The joiner dials in for its session once it has our last answer: waiting for that session
      // (briefly, best effort) lets that answer reach it before this node stops.
      await node.waitForPeer(paired.peer, { timeoutMs: SESSION_WAIT_MS, signal: interrupt.signal }).catch(() => undefined);
      return EXIT.ok;
    });
  } finally {
    interrupt.dispose();
  }
}

/** Why a join failed, as the joining side says it: what happened and what to do. */
function joinFailed(error: unknown, interrupted: boolean): unknown {
  const message = messageOf(error);
  const newCode = 'ask for a new code (peernet invite on the other device)';
  switch (codeOf(error)) {
    case 'pairing_failed':
      if (/does not match the code/.test(message)) {
        return new CliError(
          'pairing_failed',
          `wrong code: the inviter's proof does not match it (a mistyped word, or someone in between); nothing was paired, and ` +
            `the invite is used up (unless it was opened with more --attempts): ${newCode}`,
        );
      }
      return new CliError('pairing_failed', `${message}; nothing was paired: ${newCode}`);
    case 'invite_closed': {
      const reason = (error as { reason?: unknown }).reason;
      if (reason === 'expired') return new CliError('invite_closed', `the invite has expired: ${newCode}`);
      if (reason === 'burned') {
        return new CliError('invite_closed', `the invite is used up (burned: a wrong code was tried, or another device is joining with it): ${newCode}`);
      }
      return new CliError('invite_closed', `the invite is closed (${String(reason)}): ${newCode}`);
    }
    case 'inviter_not_found': {
      // A node of the code's number answered, but has no such invite open (any more): that is the news.
      const cause = (error as { cause?: unknown }).cause;
      if (codeOf(cause) === 'inviter_not_found') {
        return new CliError(
          'inviter_not_found',
          `inviter not found: ${messageOf(cause)} (it may have expired or been used up, or the number is mistyped): ${newCode}`,
        );
      }
      return new CliError('inviter_not_found', `inviter not found: ${message}`);
    }
    case 'aborted':
      return interrupted ? new CliError('aborted', 'join was cancelled (SIGINT or SIGTERM): nothing was paired') : error;
    default:
      return error;
  }
}

/** `peernet join <code-or-uri>`: pairs with the node whose invite has the code. */
export async function cmdJoin(ctx: Context, text: string): Promise<number> {
  const timeoutMs = timeoutOf(ctx, DEFAULT_JOIN_TIMEOUT_MS);
  const label = stringFlag(ctx.flags, 'label');
  const interrupt = abortOnSignal();
  try {
    return await withNode(ctx, async (node) => {
      let joined;
      try {
        joined = await node.join(text, { ...(label === undefined ? {} : { label }), timeoutMs, signal: interrupt.signal });
      } catch (error) {
        throw joinFailed(error, interrupt.signal.aborted);
      }
      printPaired(ctx, joined.peer.toString(), joined.label, joined.sas);
      return EXIT.ok;
    });
  } finally {
    interrupt.dispose();
  }
}
