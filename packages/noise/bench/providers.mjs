// Per-operation throughput of the crypto providers. Run after a build:
//   npx tsc -b && node bench/providers.mjs [--rounds 7] [--ms 200]
// Each case runs `rounds` timed rounds of about `ms` milliseconds; the median round is reported.
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ChaCha20Poly1305 } from '@stablelib/chacha20poly1305';
import { createHandshake, defaultCrypto, nodeCrypto, pureJsCrypto } from '../dist/index.js';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const ROUNDS = option('rounds', 7);
const ROUND_MS = option('ms', 200);

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

/**
 * Times every case of a group in interleaved rounds (round r of each case runs
 * back to back), so drift in machine load falls on all cases alike; the
 * calibration run doubles as JIT warm-up.
 */
function group(title, cases, bytes) {
  const runs = cases.map(([name, fn]) => ({ name, fn, iterations: calibrate(fn), perOp: [] }));
  for (let r = 0; r < ROUNDS; r++) {
    for (const run of runs) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < run.iterations; i++) run.fn();
      run.perOp.push(Number(process.hrtime.bigint() - start) / run.iterations);
    }
  }
  for (const run of runs) {
    run.perOp.sort((a, b) => a - b);
    const ns = run.perOp[Math.floor(run.perOp.length / 2)];
    const us = (ns / 1000).toFixed(2).padStart(10);
    const ops = String(Math.round(1e9 / ns)).padStart(9);
    const mbs = bytes ? `  ${((bytes * 1e9) / ns / 1e6).toFixed(1).padStart(7)} MB/s` : '';
    console.log(`${title.padEnd(28)} ${run.name.padEnd(30)} ${us} µs/op  ${ops} ops/s${mbs}`);
  }
}

const key = randomBytes(32);
const nonce = new Uint8Array(12);
const ad = new Uint8Array(0);
const stablelib = new ChaCha20Poly1305(key);
const aeads = {
  noble: {
    seal: (pt) => chacha20poly1305(key, nonce, ad).encrypt(pt),
    open: (ct) => chacha20poly1305(key, nonce, ad).decrypt(ct),
  },
  stablelib: { seal: (pt) => stablelib.seal(nonce, pt, ad), open: (ct) => stablelib.open(nonce, ct, ad) },
};
for (const provider of [nodeCrypto, pureJsCrypto, defaultCrypto]) {
  const aead = provider.aead(key);
  aeads[`provider:${provider.name}`] = { seal: (pt) => aead.seal(nonce, ad, pt), open: (ct) => aead.open(nonce, ad, ct) };
}

console.log(`node ${process.version}, ${ROUNDS} rounds of ~${ROUND_MS} ms, median; defaultCrypto = ${defaultCrypto.name}\n`);
for (const size of [64, 256, 512, 1024, 2048, 4096, 16384, 65519]) {
  const pt = randomBytes(size);
  group(
    `AEAD seal+open ${size} B`,
    Object.entries(aeads).map(([name, impl]) => [name, () => impl.open(impl.seal(pt))]),
    size,
  );
}

const providers = [nodeCrypto, pureJsCrypto];
const mine = providers.map((p) => p.x25519(p.generateKeyPair().privateKey));
const theirs = nodeCrypto.generateKeyPair().publicKey;
const data = randomBytes(64);
group('X25519 DH (prepared key)', providers.map((p, i) => [p.name, () => mine[i].dh(theirs)]));
group('X25519 keygen', providers.map((p) => [p.name, () => p.generateKeyPair()]));
// Fresh arrays every time, so the prepared-key cache never hits (as when a caller copies its key).
const pairs = Array.from({ length: 64 }, () => nodeCrypto.generateKeyPair());
let next = 0;
const fresh = () => pairs[next++ & 63];
group('X25519 prepare private key', [
  ...providers.map((p) => [`${p.name}`, () => p.x25519(Uint8Array.from(fresh().privateKey))]),
  ['node, public key hint', () => {
    const pair = fresh();
    nodeCrypto.x25519(Uint8Array.from(pair.privateKey), pair.publicKey);
  }],
]);
// How node:crypto imports raw X25519 keys: DER versus JWK. The node provider uses JWK for public
// keys (imported on every DH) and for private keys whose public key the caller supplies (as
// createHandshake does); PKCS#8 DER otherwise.
const SPKI = Buffer.from('302a300506032b656e032100', 'hex');
const PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const peer = Buffer.from(theirs);
const jwk = { kty: 'OKP', crv: 'X25519', x: peer.toString('base64url') };
group('node X25519 import public', [
  ['SPKI DER', () => createPublicKey({ key: Buffer.concat([SPKI, peer]), format: 'der', type: 'spki' })],
  ['JWK', () => createPublicKey({ key: jwk, format: 'jwk' })],
]);
const secret = nodeCrypto.generateKeyPair();
const secretJwk = { ...jwk, d: Buffer.from(secret.privateKey).toString('base64url'), x: Buffer.from(secret.publicKey).toString('base64url') };
group('node X25519 import private', [
  ['PKCS#8 DER', () => createPrivateKey({ key: Buffer.concat([PKCS8, secret.privateKey]), format: 'der', type: 'pkcs8' })],
  ['JWK (needs the public key)', () => createPrivateKey({ key: secretJwk, format: 'jwk' })],
]);
// The default provider hashes inputs up to 128 bytes itself, larger ones with node.
const hashers = [nodeCrypto, pureJsCrypto, defaultCrypto];
group('SHA-256 (32 + 64 B)', hashers.map((p) => [p.name, () => p.sha256(key, data)]), 96);
group('HMAC-SHA256 (64 B)', hashers.map((p) => [p.name, () => p.hmacSha256(key, data)]), 64);

const prologue = new TextEncoder().encode('peernet/1');
const payload = new Uint8Array(35);
const clone = (pair) => ({ publicKey: Uint8Array.from(pair.publicKey), privateKey: Uint8Array.from(pair.privateKey) });
// "new key arrays": each handshake gets copies of the static keys, so nothing is cached.
group(
  'XX handshake (both sides)',
  [
    [nodeCrypto, false],
    [pureJsCrypto, false],
    [defaultCrypto, false],
    [nodeCrypto, true],
    [defaultCrypto, true],
  ].map(([provider, copy]) => {
    const a = provider.generateKeyPair();
    const b = provider.generateKeyPair();
    return [
      copy ? `${provider.name}, new key arrays` : provider.name,
      () => {
        const i = createHandshake({ initiator: true, prologue, staticKeyPair: copy ? clone(a) : a, crypto: provider });
        const r = createHandshake({ initiator: false, prologue, staticKeyPair: copy ? clone(b) : b, crypto: provider });
        r.readMessage(i.writeMessage());
        i.readMessage(r.writeMessage(payload));
        r.readMessage(i.writeMessage(payload));
        i.split();
        r.split();
      },
    ];
  }),
);
