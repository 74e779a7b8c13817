import {
  InvalidArgumentError,
  NotConnectedError,
  type PeerNetError,
  TimeoutError,
} from '@peernet/interface';

const reasons: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ECONNABORTED: 'connection aborted',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EHOSTDOWN: 'host down',
  ENETDOWN: 'network down',
  EADDRNOTAVAIL: 'address not available',
  EPIPE: 'connection closed by the remote side',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed temporarily',
  EAI_FAIL: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
};

function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function reasonOf(error: unknown): string {
  const code = errnoCode(error);
  if (code !== undefined) return `${reasons[code] ?? 'failed'} (${code})`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Every failed dial becomes `not_connected` (the peer cannot be reached now),
 * except a connect timeout from the kernel, which is a `timeout` like ours.
 */
export function dialError(error: unknown, target: string): PeerNetError {
  const message = `cannot connect to ${target}: ${reasonOf(error)}`;
  if (errnoCode(error) === 'ETIMEDOUT') return new TimeoutError(message, { cause: error });
  return new NotConnectedError(message, { cause: error });
}

/**
 * The interface has no dedicated code for bind failures; the address the
 * caller asked for is what cannot be used, so it is an invalid argument.
 * The errno stays reachable as `error.cause.code` (e.g. `EADDRINUSE`).
 */
export function listenError(error: unknown, target: string): PeerNetError {
  return new InvalidArgumentError(`cannot listen on ${target}: ${reasonOf(error)}`, { cause: error });
}
