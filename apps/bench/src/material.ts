import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { identityFromSeed } from '@peernet/identity';
import type { CryptoProvider } from '@peernet/noise';
import { selfSignedEd25519, type TlsCredentials } from './cert.js';

/**
 * What is measured side by side: PeerNet with its default crypto provider,
 * PeerNet with the native provider of `@peernet/crypto-sodium` (both sides),
 * and the two baselines.
 */
export type Kind = 'peernet' | 'peernet-sodium' | 'tls' | 'tcp';
export const KINDS: readonly Kind[] = ['peernet', 'peernet-sodium', 'tls', 'tcp'];
/** The PeerNet kinds: those with a ratio to the baselines. */
export type PeerNetKind = 'peernet' | 'peernet-sodium';
export const PEERNET_KINDS: readonly PeerNetKind[] = ['peernet', 'peernet-sodium'];

/** True for the kinds that run PeerNet (with either provider). */
export function isPeerNet(kind: Kind): kind is PeerNetKind {
  return (PEERNET_KINDS as readonly string[]).includes(kind);
}

// A variable, not a literal, so the bench compiles and runs where the package
// is absent (the kind is then skipped with a message).
const SODIUM_PACKAGE: string = '@peernet/crypto-sodium';

/**
 * The crypto provider a kind runs with: undefined for PeerNet's default, the
 * native `sodiumCrypto` for `peernet-sodium`. Rejects when that package
 * cannot be loaded.
 */
export async function providerOf(kind: Kind): Promise<CryptoProvider | undefined> {
  if (kind !== 'peernet-sodium') return undefined;
  const module = (await import(SODIUM_PACKAGE)) as { sodiumCrypto?: CryptoProvider };
  if (!module.sodiumCrypto) throw new Error(`${SODIUM_PACKAGE} exports no sodiumCrypto`);
  return module.sodiumCrypto;
}

/**
 * Keys both processes of a run share, written once by the orchestrator:
 * identities (seed and id, hex) for the PeerNet server and its dialers, and
 * pinned Ed25519 certificates for mutual TLS.
 */
export interface Material {
  dir: string;
  server: { seed: string; id: string };
  clients: { seed: string; id: string }[];
  tls: { server: TlsCredentials; client: TlsCredentials };
}

/** Creates `clients` identities plus one for the server, and the TLS credentials, in `dir`. */
export function createMaterial(dir: string, clients: number): string {
  const identity = (): { seed: string; id: string } => {
    const seed = randomBytes(32);
    return { seed: seed.toString('hex'), id: Buffer.from(identityFromSeed(seed).id.bytes).toString('hex') };
  };
  const material: Material = {
    dir,
    server: identity(),
    clients: Array.from({ length: clients }, identity),
    tls: { server: selfSignedEd25519('peernet-bench-server'), client: selfSignedEd25519('peernet-bench-client') },
  };
  const path = join(dir, 'material.json');
  writeFileSync(path, JSON.stringify(material), { mode: 0o600 });
  return path;
}

/** Reads what `createMaterial` wrote. */
export function readMaterial(path: string): Material {
  return JSON.parse(readFileSync(path, 'utf8')) as Material;
}
