// Per-operation speed of each crypto provider, in one process: what the
// per-size choice of defaultCrypto rests on.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createHandshake, defaultCrypto, nodeCrypto, pureJsCrypto, type CryptoProvider } from '@peernet/noise';

/** Options of `runPrimitives`. */
export interface PrimitiveOptions {
  /** Length of one timed round (ms). */
  roundMs: number;
  /** Timed rounds per case; the median is kept. */
  rounds: number;
  /** Providers timed beside BUILT_IN (the native one, where its package loads). */
  extra?: readonly CryptoProvider[];
}

/** Operations per second, by provider name then operation. */
export type PrimitiveFigures = Record<string, Record<string, number>>;

export const BUILT_IN: readonly CryptoProvider[] = [pureJsCrypto, nodeCrypto, defaultCrypto];
export const AEAD_SIZES = [64, 1024, 65519] as const;

function calibrate(fn: () => void, roundMs: number): number {
  for (let iterations = 1; ; iterations *= 2) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) fn();
    const elapsed = performance.now() - start;
    if (elapsed >= roundMs / 4) return Math.max(1, Math.round((iterations * roundMs) / elapsed));
  }
}

/** Median ops/s of each case; rounds of the cases interleave so load drift hits all alike. */
function group(cases: (() => void)[], options: PrimitiveOptions): number[] {
  const runs = cases.map((fn) => ({ fn, iterations: calibrate(fn, options.roundMs), perOp: [] as number[] }));
  for (let r = 0; r < options.rounds; r++) {
    for (const run of runs) {
      const start = performance.now();
      for (let i = 0; i < run.iterations; i++) run.fn();
      run.perOp.push((performance.now() - start) / run.iterations);
    }
  }
  return runs.map((run) => {
    run.perOp.sort((a, b) => a - b);
    return 1000 / (run.perOp[Math.floor(run.perOp.length / 2)] as number);
  });
}

/** Seal+open per AEAD size, X25519 DH and key generation, and a whole XX handshake (both sides). */
export function runPrimitives(options: PrimitiveOptions): PrimitiveFigures {
  const providers = [...BUILT_IN, ...(options.extra ?? [])];
  const out: PrimitiveFigures = {};
  for (const provider of providers) out[provider.name] = {};
  const key = randomBytes(32);
  const nonce = new Uint8Array(12);
  const ad = new Uint8Array(0);
  for (const size of AEAD_SIZES) {
    const plaintext = randomBytes(size);
    const results = group(
      providers.map((provider) => {
        const aead = provider.aead(key);
        return () => {
          if (aead.open(nonce, ad, aead.seal(nonce, ad, plaintext)) === null) throw new Error('AEAD round trip failed');
        };
      }),
      options,
    );
    providers.forEach((provider, i) => ((out[provider.name] as Record<string, number>)[`aead_seal_open_${size}_per_s`] = results[i] as number));
  }
  // The cipher node:tls negotiates (TLS_AES_256_GCM_SHA384), beside node's ChaCha20-Poly1305
  // at the largest Noise message: the ceiling each side's bulk transfer has on this CPU.
  const largest = randomBytes(65519);
  const nodeAead = nodeCrypto.aead(key);
  const [chacha, gcm] = group(
    [
      () => {
        if (nodeAead.open(nonce, ad, nodeAead.seal(nonce, ad, largest)) === null) throw new Error('AEAD round trip failed');
      },
      () => {
        const cipher = createCipheriv('aes-256-gcm', key, nonce);
        const body = cipher.update(largest);
        cipher.final();
        const decipher = createDecipheriv('aes-256-gcm', key, nonce);
        decipher.setAuthTag(cipher.getAuthTag());
        decipher.update(body);
        decipher.final();
      },
    ],
    options,
  );
  const nodeRow = out[nodeCrypto.name] as Record<string, number>;
  nodeRow.chacha20_poly1305_65519_mb_per_s = ((chacha as number) * 65519) / 1e6;
  nodeRow.aes_256_gcm_65519_mb_per_s_tls_cipher = ((gcm as number) * 65519) / 1e6;
  const theirs = nodeCrypto.generateKeyPair().publicKey;
  const dh = group(
    providers.map((provider) => {
      const mine = provider.x25519(provider.generateKeyPair().privateKey);
      return () => void mine.dh(theirs);
    }),
    options,
  );
  const keygen = group(providers.map((provider) => () => void provider.generateKeyPair()), options);
  const prologue = new TextEncoder().encode('peernet/1');
  const payload = new Uint8Array(35);
  const handshakes = group(
    providers.map((provider) => {
      const a = provider.generateKeyPair();
      const b = provider.generateKeyPair();
      return () => {
        const i = createHandshake({ initiator: true, prologue, staticKeyPair: a, crypto: provider });
        const r = createHandshake({ initiator: false, prologue, staticKeyPair: b, crypto: provider });
        r.readMessage(i.writeMessage());
        i.readMessage(r.writeMessage(payload));
        r.readMessage(i.writeMessage(payload));
        i.split();
        r.split();
      };
    }),
    options,
  );
  providers.forEach((provider, i) => {
    const row = out[provider.name] as Record<string, number>;
    row.x25519_dh_per_s = dh[i] as number;
    row.x25519_keygen_per_s = keygen[i] as number;
    row.xx_handshake_both_sides_per_s = handshakes[i] as number;
  });
  return out;
}
