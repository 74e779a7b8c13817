#!/usr/bin/env node
import { run } from './cli.js';

// Exit codes are set, not forced: the process ends once every node is stopped.
run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`peernet: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
