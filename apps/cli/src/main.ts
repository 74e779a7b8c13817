#!/usr/bin/env node
import { run } from './cli.js';

// Exit codes are set, not forced: the process ends once every node is stopped (but see endIfHeldOpen).
run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Only after a failure: a clean run that does not end is a leak of ours, and must show.
    if (code !== 0) endIfHeldOpen();
  },
  (error: unknown) => {
    process.stderr.write(`peernet: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);

/**
 * Every node is stopped when `run` returns, so the process ends by itself.
 * After a failure, a native handle that a library failed to close would
 * keep it up forever (HyperDHT's network-interface watcher, after a bind
 * that failed with EADDRINUSE): the process then ends after a grace period,
 * with its code.
 * The timer is unref'd: it never keeps the process up itself.
 */
function endIfHeldOpen(): void {
  setTimeout(() => process.exit(), 3_000).unref();
}
