// One exit code per class of error, and one table from error code to exit
// code, so a script can branch on the class without parsing messages.

/** Exit codes (also in the README and in each command's help). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  notPaired: 3,
  timeout: 4,
  remote: 5,
  connect: 6,
  dataDir: 7,
  pairing: 8,
} as const;

/** What each exit code means, as the help texts and the README say it. */
export const EXIT_MEANINGS: Readonly<Record<number, string>> = {
  [EXIT.ok]: 'success',
  [EXIT.failure]: 'unexpected failure (a bug, or an error of a kind not listed here)',
  [EXIT.usage]: 'usage: unknown command or option, bad value, invalid peer id, invalid JSON arguments, malformed invite code',
  [EXIT.notPaired]: 'not paired: we have not paired the peer, or it has not paired us (refused_by_peer)',
  [EXIT.timeout]: 'timeout: the peer was not reached, or did not answer, in time',
  [EXIT.remote]: 'the peer answered with an error: no_such_handle, forbidden, handler_error, bad_request, file_exists, file_too_large',
  [EXIT.connect]: 'the session could not be made or was lost: handshake_failed, connection_closed, socket errors',
  [EXIT.dataDir]: 'the data directory or a file in it cannot be used: permissions, ownership, damage, or in use',
  [EXIT.pairing]: 'pairing failed: a wrong code, an expired or used-up invite, or no inviter found',
};

// Codes the CLI raises itself (usage, not_paired, not_a_directory, already_running) sit beside the library's.
const EXIT_BY_CODE: Readonly<Record<string, number>> = {
  usage: EXIT.usage,
  invalid_argument: EXIT.usage,
  invalid_peer_id: EXIT.usage,
  not_paired: EXIT.notPaired,
  untrusted_peer: EXIT.notPaired,
  refused_by_peer: EXIT.notPaired,
  timeout: EXIT.timeout,
  no_such_handle: EXIT.remote,
  forbidden: EXIT.remote,
  handler_error: EXIT.remote,
  bad_request: EXIT.remote,
  message_too_large: EXIT.remote,
  too_many_streams: EXIT.remote,
  // Refusals of a file by `peernet serve --accept-files`.
  file_exists: EXIT.remote,
  file_too_large: EXIT.remote,
  handshake_failed: EXIT.connect,
  peer_mismatch: EXIT.connect,
  connection_closed: EXIT.connect,
  stream_reset: EXIT.connect,
  not_connected: EXIT.connect,
  aborted: EXIT.connect,
  protocol_error: EXIT.connect,
  noise_error: EXIT.connect,
  decrypt_failed: EXIT.connect,
  frame_too_large: EXIT.connect,
  nonce_exhausted: EXIT.connect,
  unsafe_permissions: EXIT.dataDir,
  permission_denied: EXIT.dataDir,
  invalid_keyfile: EXIT.dataDir,
  insecure_keyfile: EXIT.dataDir,
  corrupt_trust_store: EXIT.dataDir,
  not_a_directory: EXIT.dataDir,
  already_running: EXIT.dataDir,
  // Pairing by invite (`peernet invite`, `peernet join`).
  pairing_failed: EXIT.pairing,
  invite_closed: EXIT.pairing,
  inviter_not_found: EXIT.pairing,
};

/** An error the CLI reports as one line with a given exit code. */
export class CliError extends Error {
  /** Builds an error whose `code` is printed and whose `exitCode` ends the process. */
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number = exitCodeOf(code),
  ) {
    super(message);
  }
}

/** A usage error (exit 2). */
export const usageError = (message: string): CliError => new CliError('usage', message, EXIT.usage);

/** The exit code of an error code: PeerNet's, the CLI's own, or a system error's (`ECONNREFUSED`). */
export function exitCodeOf(code: string): number {
  const known = EXIT_BY_CODE[code];
  if (known !== undefined) return known;
  // A bare permission error from the file system is a data directory problem like the typed one.
  if (code === 'EACCES' || code === 'EPERM') return EXIT.dataDir;
  if (/^E[A-Z]+$/.test(code)) return EXIT.connect;
  return EXIT.failure;
}

/** The code, message and exit code to report for anything thrown. */
export function classify(error: unknown): { code: string; message: string; exitCode: number } {
  if (error instanceof CliError) return { code: error.code, message: error.message, exitCode: error.exitCode };
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && code !== '') return { code, message, exitCode: exitCodeOf(code) };
  return { code: 'error', message, exitCode: EXIT.failure };
}

/** Writes the one error line to stderr and returns the exit code. */
export function report(error: unknown, json: boolean): number {
  const { code, message, exitCode } = classify(error);
  const line = json ? JSON.stringify({ error: { code, message } }) : `peernet: ${code}: ${message}`;
  process.stderr.write(`${line}\n`);
  return exitCode;
}
