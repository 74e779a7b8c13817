import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { identityFromSeed } from '@peernet/identity';
import { selfSignedEd25519, type TlsCredentials } from './cert.js';

/** The three things measured side by side. */
export type Kind = 'peernet' | 'tls' | 'tcp';
export const KINDS: readonly Kind[] = ['peernet', 'tls', 'tcp'];

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
