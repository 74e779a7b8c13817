// Seal and open throughput (64 KiB messages) and full XX handshakes per second for the sodium,
// node and default providers. Run after a build:
//   npx tsc -b && node bench/aead.mjs [--rounds 5] [--ms 200]
// Each case runs `rounds` interleaved timed rounds of about `ms` milliseconds; the median is reported.
import { randomBytes } from 'node:crypto';
import { createHandshake, defaultCrypto, nodeCrypto } from '@peernet/noise';
import { sodiumCrypto } from '../dist/index.js';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const ROUNDS = option('rounds', 5);
const ROUND_MS = option('ms', 200);
const MESSAGE = 64 * 1024;
const providers = [sodiumCrypto, nodeCrypto, defaultCrypto];

function calibrate(fn) {
  let iterations = 1;
  for (;;) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
    if (elapsed >= ROUND_MS / 4) return Math.max(1, Math.round((iterations * ROUND_MS) / elapsed));
    iterations *= 2;
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];

/** Nanoseconds per operation of each case, median of ROUNDS interleaved rounds. */
function measure(cases) {
  const runs = cases.map(([name, fn]) => ({ name, fn, iterations: calibrate(fn), perOp: [] }));
  for (let r = 0; r < ROUNDS; r++) {
    for (const run of runs) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < run.iterations; i++) run.fn();
      run.perOp.push(Number(process.hrtime.bigint() - start) / run.iterations);
    }
  }
  return runs.map((run) => ({ name: run.name, ns: median(run.perOp) }));
}

const key = randomBytes(32);
const nonce = randomBytes(12);
const ad = new Uint8Array(0);
const plaintext = new Uint8Array(randomBytes(MESSAGE));
const sealed = nodeCrypto.aead(key).seal(nonce, ad, plaintext);

const mbps = (ns) => (MESSAGE / 1e6 / (ns / 1e9)).toFixed(0);
console.log(`Node ${process.version}, ${ROUNDS} rounds of ~${ROUND_MS} ms, medians\n`);
console.log('64 KiB messages        seal MB/s   open MB/s');
const aeads = providers.map((p) => [p.name, p.aead(key)]);
const seals = measure(aeads.map(([name, aead]) => [name, () => aead.seal(nonce, ad, plaintext)]));
const opens = measure(aeads.map(([name, aead]) => [name, () => {
  if (aead.open(nonce, ad, sealed) === null) throw new Error('open failed');
}]));
seals.forEach((seal, i) => console.log(`${seal.name.padEnd(22)} ${mbps(seal.ns).padStart(9)}   ${mbps(opens[i].ns).padStart(9)}`));

const prologue = new TextEncoder().encode('bench');
function handshake(crypto, statics) {
  const initiator = createHandshake({ initiator: true, prologue, staticKeyPair: statics[0], crypto });
  const responder = createHandshake({ initiator: false, prologue, staticKeyPair: statics[1], crypto });
  responder.readMessage(initiator.writeMessage());
  initiator.readMessage(responder.writeMessage());
  responder.readMessage(initiator.writeMessage());
  initiator.split();
  responder.split();
}
console.log('\nfull XX handshake, both sides   handshakes/s');
const handshakes = measure(providers.map((p) => {
  const statics = [p.generateKeyPair(), p.generateKeyPair()];
  return [p.name, () => handshake(p, statics)];
}));
for (const { name, ns } of handshakes) console.log(`${name.padEnd(32)} ${(1e9 / ns).toFixed(0).padStart(6)}`);
